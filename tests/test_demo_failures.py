"""The demo over a failed load (issue 17 items 6 and 7): the models are not built over it, the
summary gives each failure's cause (not Dagster's wrapper), and the partitions the failed load
left out are listed."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest

from assets.tables import source
from pipelines.demo import execute_runs, missing_partitions, plan_runs
from pipelines.lake import Lake
from sandbox.testing import start_sandbox
from tests.reliability import harness

pytestmark = pytest.mark.integration


def test_a_failed_load_leaves_the_models_alone_and_says_why(tmp_path: Path) -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    runs = plan_runs(now, 1, audit=False, billing=False)
    day = runs[0].first
    with start_sandbox(sims=10, seed=3, now=now, coverage="jp") as box:
        resources = harness.resources({"jp": box.url}, box.credentials, tmp_path)
        with box.configured(bad_input="not_json", bad_input_operations="listSimSessionEvents"):
            outcomes = execute_runs(runs, resources, dg.DagsterInstance.ephemeral())
    loads, models = outcomes[:-1], outcomes[-1]
    failed = [o for o in loads if not o.success]
    assert [o.run.label for o in failed] == [runs[0].label]
    errors = failed[0].errors
    assert errors and all("DagsterExecutionStepExecutionError" not in e for e in errors), errors
    assert any(e.startswith("session_events: ") and "not JSON" in e for e in errors), errors
    assert models.skipped and models.success, models.errors
    assert "models not rebuilt: 1 load run(s) failed" in models.errors[0]
    lake = Lake(tmp_path / "lake")
    assert not (tmp_path / "lake" / "_models").exists(), "a mart was built over a failed load"
    assert (tmp_path / "soracom.duckdb").exists(), "the catalog still shows the tables"
    missing = missing_partitions(runs, lake)
    assert f"session_events: {day}" in missing, missing
    assert not any(line.startswith(("sims:", "air_traffic_daily:")) for line in missing), missing
    assert lake.has_partition(source("sims").spec, source("sims").lake_partition_of(day))
