"""The report's default month is the latest with loaded data, billed or with loaded traffic days
(issue 14 item 10): traffic of a month whose bill is not loaded yet is reported, not hidden."""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pytest

from pipelines.report import ReportError, resolve_month


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    connection.execute("CREATE VIEW monthly_summary AS SELECT '2026-10' AS month")
    connection.execute(
        "CREATE VIEW sim_daily_usage AS SELECT * FROM (VALUES (DATE '2026-10-31', 5), "
        "(DATE '2026-11-01', 7), (DATE '2026-12-01', NULL)) AS t(date, total_bytes)"
    )
    yield connection
    connection.close()


def test_the_default_month_is_the_latest_with_loaded_traffic_or_bills(con: duckdb.DuckDBPyConnection) -> None:
    assert resolve_month(con, None) == "2026-11"  # December has a day, but no traffic loaded on it
    assert resolve_month(con, "2026-10") == "2026-10"
    with pytest.raises(ReportError, match="2026-10, 2026-11"):
        resolve_month(con, "2026-12")
