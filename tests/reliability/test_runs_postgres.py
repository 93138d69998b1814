"""The pool guarantee on the Postgres instance (`pipelines/dagster_instance_postgres.yaml`,
a real PostgreSQL started by the suite): N=4 loads of overlapping partitions start at once,
as separate processes; no two API steps of one pool overlap, and the lake equals the ground truth.
`SORACOM_TEST_PG_REPEATS` repeats it (default 1)."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
import pytest

from assets.partitions import last_days
from pipelines.demo import PlannedRun
from pipelines.instance import PG_URL_ENV
from pipelines.jobs import DAILY_ASSETS
from pipelines.lake import Lake
from sandbox.process import ProcessSandbox
from tests.reliability import harness
from tests.reliability.instances import install_home, overlaps_in_a_pool, pg_env, step_intervals
from tests.reliability.test_crash_and_outage import SEED, SIMS, finish, load_env, sandbox_process, start_load

pytestmark = [pytest.mark.reliability, pytest.mark.integration, pytest.mark.slow]
__all__ = ["sandbox_process"]

REPEATS = int(os.environ.get("SORACOM_TEST_PG_REPEATS", "1"))


@pytest.mark.parametrize("repeat", range(REPEATS))
def test_four_loads_of_overlapping_days_on_postgres_never_overlap_steps_of_a_pool(
    sandbox_process: ProcessSandbox, postgres_url: str, tmp_path: Path, repeat: int
) -> None:
    box = sandbox_process
    home = install_home(tmp_path / "dagster_home", postgres_url)
    env = {**load_env(box, home), PG_URL_ENV: postgres_url}
    first, last = last_days(box.now, 2)
    ranges = [(first, last), (last, None), (first, None), (first, last)]
    loads = [start_load(env, tmp_path, "daily", a, b) for a, b in ranges]
    results = [finish(load, timeout=480) for load in loads]
    assert all(r["success"] for r in results), [r["errors"] for r in results]
    # nothing died here: a load that freed another's slot took a live run for a dead one
    reaped = [line for r in results for line in r["stderr"].splitlines() if "freed the" in line]
    assert reaped == [], reaped

    with pg_env(postgres_url):
        instance = dg.DagsterInstance.from_config(str(home))
        try:
            intervals = [step_intervals(instance, r["run_id"]) for r in results]
        finally:
            instance.dispose()
    assert sum(len(run) for run in intervals) == len(ranges) * len(DAILY_ASSETS)
    clashes = overlaps_in_a_pool(intervals)
    assert clashes == {}, f"API steps of one pool ran at once: {clashes}"

    world = harness.world_for(box.info, SIMS, SEED)
    runs = [PlannedRun("d", DAILY_ASSETS, first, last)]
    harness.assert_lake_matches_world(world, Lake(tmp_path / "lake"), runs, ("jp",))
