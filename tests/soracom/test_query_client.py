"""The Soracom Query helpers against the sandbox: a query streamed to a gzipped file, and the
errors a caller must be able to tell apart (FAILED, timeout, no Soracom Query)."""

from __future__ import annotations

import csv
import gzip
import io
from datetime import datetime, timedelta

import pytest

from pipelines.soracom import QueryError, QueryUnavailable

from .conftest import make_client, run

pytestmark = pytest.mark.integration

DAY = timedelta(days=1)


@pytest.fixture(autouse=True)
def _query_enabled(sandbox):
    sandbox.settings.update({"query_enabled": True})  # the module's conftest restores the settings


SQL = "SELECT SIM_ID, EVENT FROM SIM_SESSION_EVENTS"


def _day(sandbox) -> tuple[datetime, datetime]:
    end = sandbox.world.now.replace(hour=0, minute=0)
    return end - DAY, end


def test_a_query_streams_its_gzipped_csv_to_a_file(sandbox, creds, tmp_path):
    start, end = _day(sandbox)

    async def scenario():
        async with make_client(sandbox, creds) as client:
            return await client.run_query_to_file(SQL, start, end, tmp_path / "day.csv.gz")

    result = run(scenario())
    rows = list(csv.DictReader(io.StringIO(gzip.decompress(result.path.read_bytes()).decode())))
    truth = sandbox.world.all_session_events("jp", int(start.timestamp() * 1000), int(end.timestamp() * 1000))
    assert sorted((r["SIM_ID"], r["EVENT"]) for r in rows) == sorted((e["simId"], e["event"]) for e in truth)
    assert result.row_count == len(rows) > 0
    assert [c["name"] for c in result.columns] == ["SIM_ID", "EVENT"]
    assert result.file_size == result.path.stat().st_size


def test_a_failed_query_is_a_clear_error(sandbox, creds, tmp_path):
    start, end = _day(sandbox)
    sandbox.settings.update({"query_outcome": "failed"})

    async def scenario():
        async with make_client(sandbox, creds) as client:
            await client.run_query_to_file(SQL, start, end, tmp_path / "x.csv.gz")

    with pytest.raises(QueryError, match=r"FAILED on the server: .*query_outcome=failed"):
        run(scenario())
    assert not (tmp_path / "x.csv.gz").exists()


def test_a_query_that_never_finishes_times_out(sandbox, creds, tmp_path):
    start, end = _day(sandbox)
    sandbox.settings.update({"query_stage_polls": 1000})

    async def scenario():
        async with make_client(sandbox, creds) as client:
            await client.run_query_to_file(SQL, start, end, tmp_path / "x.csv.gz", timeout_s=0.5)

    with pytest.raises(QueryError, match=r"still 'STARTING' after .*try again later"):
        run(scenario())


def test_an_operator_without_soracom_query_is_told_apart(sandbox, creds):
    sandbox.settings.update({"query_enabled": False})

    async def scenario():
        async with make_client(sandbox, creds) as client:
            await client.query_schemas()

    with pytest.raises(QueryUnavailable, match="403"):
        run(scenario())
