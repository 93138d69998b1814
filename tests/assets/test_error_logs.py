"""The source added by following docs/ingestion.md "Adding a source": error logs (getLogs),
one UTC day per partition, equal to the sandbox's ground truth."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dagster as dg

from assets.partitions import daily_partitions, window_for
from assets.tables import source
from pipelines.lake import Lake
from tests.assets import truth
from tests.reliability import harness


def test_a_day_of_error_logs_equals_the_world(sandbox, sandbox_now, tmp_path: Path) -> None:
    day = (sandbox_now - timedelta(days=1)).strftime("%Y-%m-%d")
    res = harness.resources({"jp": sandbox.url_for("jp")}, sandbox.credentials, tmp_path, now=sandbox_now)
    result = dg.materialize(
        [source("error_logs").asset],
        partition_key=day,
        resources=res,
        instance=dg.DagsterInstance.ephemeral(),
        run_config=harness.QUIET,
    )
    assert result.success
    window = window_for(daily_partitions, day)
    lake = Lake(tmp_path / "lake")
    want = truth.expected_error_logs(sandbox.world, "jp", window)
    assert len(want) > 5, "the World must give this day some error logs to compare"
    got = truth.lake_rows(lake, "error_logs", truth.ERROR_LOG_COLUMNS, "jp", date=window.start.date())
    assert got == want
    extra = lake.read(source("error_logs").spec)["_extra"].drop_nulls().to_list()
    assert extra == []  # every key of every entry landed in a column
