"""The Air usage exports give the same lake partition whether the file came sync, async, or
async after a sync export timed out (the sandbox's gateway 504), equal to the ground truth;
the asset asks for sync only once the lake's nearest partition says the file is small."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq
import pytest

from assets import loading
from assets.expected_rows import nearest_loaded_rows
from assets.loading import Progress
from assets.partitions import daily_partitions, window_for
from assets.tables import source
from assets.traffic import fetch_daily, fetch_minutes
from pipelines.lake import Lake
from pipelines.soracom import ClientSettings, Credentials, SoracomClient
from sandbox.testing import SandboxHandle, start_sandbox
from testkit.logs import RecordingLog
from tests.assets import truth
from tests.reliability import harness

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 30, 6, tzinfo=UTC)
DAY = "2026-11-28"
LOADED_AT = datetime(2030, 1, 1, tzinfo=UTC)
FAST = ClientSettings(
    backoff_base_s=0.01, backoff_max_s=0.05, export_poll_initial_s=0.05, export_poll_max_s=0.2
)
FETCHES = {"air_traffic_daily": fetch_daily, "air_traffic_5min": fetch_minutes}
TRUTH = {
    "air_traffic_daily": (truth.expected_air_daily, truth.AIR_DAILY_COLUMNS),
    "air_traffic_5min": (truth.expected_air_minutes, truth.AIR_MINUTES_COLUMNS),
}


@pytest.fixture(scope="module")
def box() -> Iterator[SandboxHandle]:
    with start_sandbox(sims=60, seed=3, now=NOW) as handle:
        yield handle


def _load(box: SandboxHandle, table: str, expected_rows: int | None, root: Path) -> tuple[Path, dict]:
    """The day's partition as the asset writes it (fixed lineage time), and the client's stats."""
    credentials = Credentials.auth_key_pair(box.settings.auth_key_id, box.settings.auth_key)
    window = window_for(daily_partitions, DAY)

    async def scenario():
        async with SoracomClient(credentials, endpoint=box.url_for("jp"), coverage="jp", settings=FAST) as c:
            progress = Progress(RecordingLog(), "jp", expected_rows=lambda: expected_rows)
            return await FETCHES[table](c, window, progress), c.stats.as_dict()

    fetched, stats = asyncio.run(scenario())
    spec = source(table).spec
    try:
        loading._write(
            Lake(root), spec, source(table).lake_partition_of(DAY), [("jp", fetched)], LOADED_AT,
            list(source(table).sort_by),
        )  # fmt: skip
    finally:
        if fetched.cleanup:
            fetched.cleanup()
    (file,) = root.rglob("*.parquet")
    return file, stats


@pytest.mark.parametrize("table", list(FETCHES))
def test_sync_async_and_fallback_write_the_same_partition(box, table, tmp_path):
    via_async, async_stats = _load(box, table, None, tmp_path / "async")
    via_sync, sync_stats = _load(box, table, 100, tmp_path / "sync")
    saved = {k: getattr(box.settings, k) for k in ("export_sync_max_bytes", "export_sync_timeout_s")}
    box.settings.update({"export_sync_max_bytes": 0, "export_sync_timeout_s": 0.0})
    try:
        via_fallback, fallback_stats = _load(box, table, 100, tmp_path / "fallback")
    finally:
        box.settings.update(saved)

    assert (async_stats["exports_sync"], async_stats["export_sync_fallbacks"]) == (0, 0)
    assert (sync_stats["exports_sync"], sync_stats["export_sync_fallbacks"]) == (1, 0)
    assert "getExportedFile" not in sync_stats["calls_by_operation"]
    assert (fallback_stats["exports_sync"], fallback_stats["export_sync_fallbacks"]) == (0, 1)
    assert fallback_stats["calls_by_operation"]["exportAirStats"] == 2
    first = pq.read_table(via_async)
    assert first.num_rows > 0
    assert first.equals(pq.read_table(via_sync)), "the sync export wrote a different partition"
    assert first.equals(pq.read_table(via_fallback)), "the fallback wrote a different partition"
    expected, columns = TRUTH[table]
    window = window_for(daily_partitions, DAY)
    got = truth.lake_rows(Lake(tmp_path / "sync"), table, columns, "jp", date=window.start.date())
    assert got == expected(box.world, "jp", window)


def test_nearest_loaded_rows_prefers_the_newest_partition_not_after(tmp_path):
    spec = source("air_traffic_daily").spec
    lake = Lake(tmp_path)
    assert nearest_loaded_rows(lake, spec, {"date": date(2026, 11, 10)}) is None
    for day, rows in ((date(2026, 11, 5), 3), (date(2026, 11, 8), 5), (date(2026, 11, 12), 7)):
        frame = _rows(spec, rows)
        lake.write_partition(spec, {"date": day}, frame)
    assert nearest_loaded_rows(lake, spec, {"date": date(2026, 11, 10)}) == 5
    assert nearest_loaded_rows(lake, spec, {"date": date(2026, 11, 12)}) == 7  # a reload: itself
    assert nearest_loaded_rows(lake, spec, {"date": date(2026, 11, 1)}) == 3  # only later ones


def _rows(spec, n: int):
    import polars as pl

    return pl.DataFrame(
        {
            "coverage": ["jp"] * n,
            "imsi": [f"4401{i:011d}" for i in range(n)],
            "speed_class": ["s1.fast"] * n,
            "upload_bytes": [1] * n,
            "upload_packets": [1] * n,
            "download_bytes": [1] * n,
            "download_packets": [1] * n,
            "_extra": [None] * n,
            "_loaded_at": [LOADED_AT] * n,
        },
        schema_overrides={"_extra": pl.Utf8},
    )


def test_the_asset_exports_sync_once_the_lake_knows_the_size(box, tmp_path):
    res = harness.resources({"jp": box.url_for("jp")}, box.credentials, tmp_path, now=NOW)
    instance = dg.DagsterInstance.ephemeral()
    asset = source("air_traffic_daily").asset
    exports = []
    for day in ("2026-11-27", DAY):
        result = dg.materialize(
            [asset], partition_key=day, resources=res, instance=instance, run_config=harness.QUIET
        )
        (materialization,) = result.asset_materializations_for_node("air_traffic_daily")
        stats = materialization.metadata["api_stats"].value["jp"]
        exports.append((stats["exports_sync"], stats["calls_by_operation"].get("getExportedFile", 0) > 0))
    assert exports == [(0, True), (1, False)], "first load: size unknown, async; then sync"
