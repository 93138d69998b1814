"""Session events through Soracom Query and through the per-SIM calls give identical lake
partitions (same rows, types, `_extra`, order), equal to the sandbox's ground truth, for several
windows (one 5 minutes after midnight) and two fleets; `auto` picks each path; an operator
without Soracom Query falls back; a FAILED query is a clear error."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq
import pytest

from assets import loading
from assets.loading import Fetched, Progress
from assets.partitions import daily_partitions, window_for
from assets.sessions import SESSION_EVENTS_SOURCE, fetch_session_events
from pipelines.lake import Lake
from pipelines.soracom import ClientSettings, Credentials, QueryError, QueryUnavailable, SoracomClient
from sandbox.testing import SandboxHandle, start_sandbox
from testkit.logs import RecordingLog
from tests.assets import truth
from tests.reliability import harness

pytestmark = pytest.mark.integration

FAST = ClientSettings(
    backoff_base_s=0.01, backoff_max_s=0.05, export_poll_initial_s=0.05, export_poll_max_s=0.2
)
SPEC = SESSION_EVENTS_SOURCE.spec
LOADED_AT = datetime(2030, 1, 1, tzinfo=UTC)


def _fetch(
    box: SandboxHandle, day: str, path: str, monkeypatch: pytest.MonkeyPatch, coverage: str = "jp"
) -> tuple[Fetched, RecordingLog]:
    monkeypatch.setenv("SORACOM_SESSION_EVENTS_PATH", path)
    credentials = Credentials.auth_key_pair(box.settings.auth_key_id, box.settings.auth_key)
    log = RecordingLog()

    async def scenario() -> Fetched:
        endpoint = box.url_for(coverage)
        async with SoracomClient(credentials, endpoint=endpoint, coverage=coverage, settings=FAST) as client:
            window = window_for(daily_partitions, day)
            return await fetch_session_events(client, window, Progress(log, coverage))

    return asyncio.run(scenario()), log


def _load(
    box: SandboxHandle, day: str, path: str, root: Path, monkeypatch: pytest.MonkeyPatch, coverage: str = "jp"
) -> Path:
    """The day's partition as the asset writes it (same write path, fixed lineage time)."""
    fetched, _ = _fetch(box, day, path, monkeypatch, coverage)
    assert fetched.metadata["session_events_path"] == path
    lake = Lake(root)
    partition = SESSION_EVENTS_SOURCE.lake_partition_of(day)
    try:
        loading._write(
            lake, SPEC, partition, [(coverage, fetched)], LOADED_AT, list(SESSION_EVENTS_SOURCE.sort_by)
        )
    finally:
        if fetched.cleanup:
            fetched.cleanup()
    (file,) = root.rglob("*.parquet")
    return file


FLEETS = {
    # (sims, now): one sandbox 5 minutes after midnight (today's partition is 5 minutes long)
    "80-sims-at-00:05": (80, datetime(2026, 11, 30, 0, 5, tzinfo=UTC)),
    "200-sims-at-13:20": (200, datetime(2026, 11, 30, 13, 20, tzinfo=UTC)),
}


@pytest.fixture(scope="module", params=list(FLEETS))
def box(request: pytest.FixtureRequest) -> Iterator[SandboxHandle]:
    sims, now = FLEETS[request.param]
    with start_sandbox(sims=sims, seed=5, now=now, query_enabled=True, short_pages=False) as handle:
        yield handle


@pytest.mark.parametrize("days_back", [0, 1, 6])
def test_both_paths_write_identical_partitions_equal_to_the_truth(box, days_back, tmp_path, monkeypatch):
    day = (box.world.now - timedelta(days=days_back)).strftime("%Y-%m-%d")
    via_query = pq.read_table(_load(box, day, "query", tmp_path / "q", monkeypatch))
    via_api = pq.read_table(_load(box, day, "api", tmp_path / "a", monkeypatch))
    assert via_query.schema == via_api.schema
    assert via_query.equals(via_api), "the two paths wrote different partitions"
    window = window_for(daily_partitions, day)
    want = truth.expected_session_events(box.world, "jp", window)
    got = truth.lake_rows(
        Lake(tmp_path / "q"), "session_events", truth.SESSION_COLUMNS, "jp", date=window.start.date()
    )
    assert got == want
    assert want or days_back == 0, "a closed day must have events to compare"


def test_the_global_coverage_queries_its_own_events(tmp_path, monkeypatch):
    now = datetime(2026, 11, 30, 8, tzinfo=UTC)
    with start_sandbox(sims=60, seed=9, now=now, coverage="both", query_enabled=True) as both:
        day = (now - timedelta(days=1)).strftime("%Y-%m-%d")
        via_query = pq.read_table(_load(both, day, "query", tmp_path / "q", monkeypatch, "g"))
        via_api = pq.read_table(_load(both, day, "api", tmp_path / "a", monkeypatch, "g"))
        assert via_query.equals(via_api)
        window = window_for(daily_partitions, day)
        want = truth.expected_session_events(both.world, "g", window)
        got = truth.lake_rows(
            Lake(tmp_path / "q"), "session_events", truth.SESSION_COLUMNS, "g", date=window.start.date()
        )
        assert got == want and want
        assert set(via_query.column("coverage").to_pylist()) == {"g"}


def test_the_late_deleted_quirk_is_in_the_compared_days(box):
    """A `Deleted` stamped after the next `Created` of the same SIM: the quirk both paths keep."""
    now = box.world.now
    start = int((now - timedelta(days=1)).replace(hour=0, minute=0).timestamp() * 1000)
    events = sorted(box.world.all_session_events("jp", start, start + 86_400_000), key=lambda e: e["time"])
    late = 0
    for sim_id in {e["simId"] for e in events}:
        mine = [e for e in events if e["simId"] == sim_id]
        for i, event in enumerate(mine):
            if event["event"] == "Created":
                late += any(
                    e["event"] == "Deleted" and e["sessionId"] != event["sessionId"]
                    for e in mine[i + 1 : i + 2]
                )
    assert late > 0


def test_auto_uses_query_when_the_operator_has_it_and_the_api_when_not(box, monkeypatch):
    day = (box.world.now - timedelta(days=1)).strftime("%Y-%m-%d")
    fetched, log = _fetch(box, day, "auto", monkeypatch)
    assert fetched.metadata["session_events_path"] == "query", log.lines
    assert fetched.cleanup is not None
    fetched.cleanup()
    with box.configured(query_enabled=False):
        fetched, log = _fetch(box, day, "auto", monkeypatch)
    assert fetched.metadata["session_events_path"] == "api"
    assert any("Soracom Query not available" in line and "ANL0001" in line for line in log.lines), log.lines
    with box.configured(query_monthly_quota=0):
        fetched, log = _fetch(box, day, "auto", monkeypatch)
    assert fetched.metadata["session_events_path"] == "api"
    assert any("Soracom Query refused" in line and "ANL0002" in line for line in log.lines), log.lines


def test_auto_probes_once_per_client_for_a_range_of_days(box, monkeypatch):
    monkeypatch.setenv("SORACOM_SESSION_EVENTS_PATH", "auto")
    credentials = Credentials.auth_key_pair(box.settings.auth_key_id, box.settings.auth_key)
    days = [(box.world.now - timedelta(days=n)).strftime("%Y-%m-%d") for n in (3, 2, 1)]
    before = box.stats.calls.get("getAnalysisSchemas", 0)

    async def scenario() -> list[str]:
        async with SoracomClient(credentials, endpoint=box.url, settings=FAST) as client:
            paths = []
            for day in days:
                fetched = await fetch_session_events(
                    client, window_for(daily_partitions, day), Progress(RecordingLog(), "jp")
                )
                paths.append(fetched.metadata["session_events_path"])
                if fetched.cleanup:
                    fetched.cleanup()
            return paths

    assert asyncio.run(scenario()) == ["query"] * 3
    assert box.stats.calls.get("getAnalysisSchemas", 0) == before + 1


def test_query_mode_without_soracom_query_or_with_a_failed_query_is_a_clear_error(box, monkeypatch):
    day = (box.world.now - timedelta(days=1)).strftime("%Y-%m-%d")
    with box.configured(query_enabled=False), pytest.raises(QueryUnavailable, match="not available"):
        _fetch(box, day, "query", monkeypatch)
    with box.configured(query_outcome="failed"), pytest.raises(QueryError, match="FAILED on the server"):
        _fetch(box, day, "query", monkeypatch)


def test_the_asset_loads_through_query_in_a_dagster_run(box, tmp_path, monkeypatch):
    monkeypatch.setenv("SORACOM_SESSION_EVENTS_PATH", "auto")
    day = (box.world.now - timedelta(days=1)).strftime("%Y-%m-%d")
    resources = harness.resources({"jp": box.url_for("jp")}, box.credentials, tmp_path, now=box.world.now)
    before = box.stats.calls.get("listSimSessionEvents", 0)
    result = dg.materialize(
        [SESSION_EVENTS_SOURCE.asset],
        partition_key=day,
        resources=resources,
        instance=dg.DagsterInstance.ephemeral(),
        run_config=harness.QUIET,
    )
    assert result.success
    assert box.stats.calls.get("listSimSessionEvents", 0) == before  # not one per-SIM call
    window = window_for(daily_partitions, day)
    got = truth.lake_rows(
        Lake(tmp_path / "lake"), "session_events", truth.SESSION_COLUMNS, "jp", date=window.start.date()
    )
    assert got == truth.expected_session_events(box.world, "jp", window)


def test_unknown_query_columns_land_in_extra_as_the_api_would_spell_them():
    import polars as pl

    from assets.session_query import raw_events

    block = pl.DataFrame(
        {
            "TIME": pl.Series([datetime(2026, 11, 29, 1, tzinfo=UTC)]).dt.cast_time_unit("ms"),
            "EVENT": ["Created"],
            "SIM_ID": ["8981"],
            "ICCID": ["8981000"],
            "NEW_FIELD_NAME": [7],
        }
    )
    raw = raw_events(block)
    assert raw["_extra"].to_list() == ['{"newFieldName": 7}']
    assert raw["time"].to_list() == [int(datetime(2026, 11, 29, 1, tzinfo=UTC).timestamp() * 1000)]
