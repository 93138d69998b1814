"""The per-SIM session calls start while the SIM list is still being paged (issue 15 section 3:
listing 10k SIMs took 6.8 s before the first call), and the partition is the same: the same
rows in the same sorted chunks whatever order the SIMs were fetched in, the same skipping,
and a range run still lists the SIMs once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

from assets import loading, sessions
from assets.loading import Batches, Fetched, Progress
from assets.partitions import daily_partitions, window_for
from pipelines.lake import Lake
from pipelines.soracom import ClientSettings, Credentials, SoracomClient
from sandbox.testing import SandboxHandle, start_sandbox
from testkit.logs import RecordingLog
from tests.assets import truth

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 30, 13, 20, tzinfo=UTC)
SIMS = 250  # three pages of listSims
SPEC = sessions.SESSION_EVENTS_SOURCE.spec
LOADED_AT = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def box() -> Iterator[SandboxHandle]:
    with start_sandbox(sims=SIMS, seed=5, now=NOW, short_pages=False) as handle:
        yield handle


def _days(*back: int) -> list[str]:
    return [(NOW - timedelta(days=n)).strftime("%Y-%m-%d") for n in back]


def _fetch_days(box: SandboxHandle, days: list[str], log: RecordingLog) -> list[Fetched]:
    """`fetch_via_api` of each day in turn on one client, as a range run does."""
    credentials = Credentials.auth_key_pair(box.settings.auth_key_id, box.settings.auth_key)

    async def scenario() -> list[Fetched]:
        endpoint = box.url_for("jp")
        async with SoracomClient(
            credentials, endpoint=endpoint, coverage="jp", settings=ClientSettings()
        ) as client:
            return [
                await sessions.fetch_via_api(client, window_for(daily_partitions, day), Progress(log, "jp"))
                for day in days
            ]

    return asyncio.run(scenario())


def _parts(fetched: Fetched) -> list[pl.DataFrame]:
    assert isinstance(fetched.frame, Batches)
    return list(fetched.frame.read())


def test_per_sim_calls_start_before_the_sim_list_ends(box, monkeypatch) -> None:
    listed_before_first_call: list[int] = []
    pages = SoracomClient.raw_sim_session_event_pages

    def recorded(self: SoracomClient, *args: object, **kwargs: object) -> AsyncIterator[bytes]:
        listed_before_first_call.append(box.stats.calls["listSims"])
        return pages(self, *args, **kwargs)

    monkeypatch.setattr(SoracomClient, "raw_sim_session_event_pages", recorded)
    box.stats.reset()
    log = RecordingLog()
    (fetched,) = _fetch_days(box, _days(1), log)
    assert box.stats.calls["listSims"] == 3
    assert listed_before_first_call[0] < 3, "the first per-SIM call waited for the whole SIM list"
    assert fetched.metadata["sims_listed"] == SIMS
    assert len(listed_before_first_call) == fetched.metadata["sims_fetched"], "one call per candidate SIM"
    assert fetched.metadata["sims_fetched"] + fetched.metadata["sims_skipped"] == SIMS
    assert fetched.metadata["sims_skipped"] > 0, "the call-skipping still applies"
    fetched_lines = [line for line in log.lines if "SIMs fetched" in line]
    n = fetched.metadata["sims_fetched"]
    assert fetched_lines == [f"[jp] {n}/{n} SIMs fetched"], "one end line, after the list is whole"


def test_the_partition_is_the_same_whatever_the_fetch_order_and_chunk_size(box, tmp_path: Path, monkeypatch):
    """Small chunks (7 SIMs) regroup rows fetched out of order into sorted chunks of sorted
    ids; the file equals the one with a single chunk and the ground truth; a second day on
    the same client does not list the SIMs again."""
    days = _days(1, 2)
    box.stats.reset()
    whole = _fetch_days(box, days, RecordingLog())
    assert box.stats.calls["listSims"] == 3, "a range run lists the SIMs once"
    monkeypatch.setattr(sessions, "CHUNK", 7)
    small = _fetch_days(box, days, RecordingLog())
    for day, one, chunked in zip(days, whole, small, strict=True):
        parts = _parts(chunked)
        assert len(parts) == -(-chunked.metadata["sims_fetched"] // 7)
        ids = [sim for part in parts for sim in part["sim_id"].to_list()]
        assert ids == sorted(ids) and len(parts[0]) > 0
        files = []
        for name, fetched in (("whole", one), ("small", chunked)):
            root = tmp_path / name / day
            partition = sessions.SESSION_EVENTS_SOURCE.lake_partition_of(day)
            loading._write(Lake(root), SPEC, partition, [("jp", fetched)], LOADED_AT, None)
            (file,) = root.rglob("*.parquet")
            files.append(pq.read_table(file))
        assert files[0].equals(files[1])
        window = window_for(daily_partitions, day)
        got = truth.lake_rows(
            Lake(tmp_path / "small" / day), SPEC.name, truth.SESSION_COLUMNS, "jp", date=window.start.date()
        )
        assert got == truth.expected_session_events(box.world, "jp", window) and got
