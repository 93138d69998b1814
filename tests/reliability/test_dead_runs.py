"""A load that dies must not wedge the next one (issue 17 items 1 and 3), on the shipped
SQLite instance file: loads SIGKILLed at random moments, a slot held by a live run (the
wait is bounded and names it), SIGTERM/SIGINT while a step runs or waits for the slot.

`SORACOM_TEST_KILLS` sets how many kills (default 2; the figure in docs/reliability.md
is from 20)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
import uuid
from pathlib import Path

import dagster as dg
import pytest

from assets.loading import API_POOL
from assets.partitions import last_days
from assets.tables import api_pools
from pipelines.demo import PlannedRun
from pipelines.jobs import DAILY_ASSETS
from pipelines.lake import Lake
from pipelines.runs import SLOT_WAIT_ENV, owner_tags
from sandbox.process import ProcessSandbox
from tests.reliability import harness
from tests.reliability.instances import install_home
from tests.reliability.test_crash_and_outage import SEED, SIMS, finish, load_env, sandbox_process, start_load

pytestmark = [pytest.mark.reliability, pytest.mark.integration, pytest.mark.slow]
__all__ = ["sandbox_process"]

KILLS = int(os.environ.get("SORACOM_TEST_KILLS", "2"))


def pool_state(home: Path) -> tuple[list[str], list[str]]:
    """(run ids holding a slot of an API pool, run ids with steps queued for one), sorted."""
    instance = dg.DagsterInstance.from_config(str(home))
    held: set[str] = set()
    queued: set[str] = set()
    try:
        for pool in api_pools():
            info = instance.event_log_storage.get_concurrency_info(pool)
            held |= {s.run_id for s in info.claimed_slots}
            queued |= {p.run_id for p in info.pending_steps}
        return sorted(held), sorted(queued)
    finally:
        instance.dispose()


def test_loads_killed_at_random_moments_never_block_the_next_load(
    sandbox_process: ProcessSandbox, tmp_path: Path
) -> None:
    box = sandbox_process
    home = install_home(tmp_path / "dagster_home")
    env = load_env(box, home)
    first, last = last_days(box.now, 2)
    rng = random.Random(17)
    completed = 0
    for kill in range(KILLS):
        victim = start_load(env, tmp_path, "daily", first, last)
        deadline = time.monotonic() + 120
        while pool_state(home) == ([], []):  # until it claims: then anywhere in claims, steps, writes
            assert victim.poll() is None, f"kill {kill + 1}: the load ended before it could be killed"
            assert time.monotonic() < deadline, f"kill {kill + 1}: the load claimed no slot in 120 s"
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 3.0))
        os.killpg(victim.pid, signal.SIGKILL)
        victim.communicate(timeout=60)
        # The next load must complete; before the reaper it waited forever for the dead run's slot.
        after = finish(start_load(env, tmp_path, "daily", first, last), timeout=300)
        assert after["success"], f"kill {kill + 1}: {after['errors']}"
        completed += 1
        assert pool_state(home) == ([], []), f"kill {kill + 1}: slots or queue entries left"
    assert completed == KILLS
    world = harness.world_for(box.info, SIMS, SEED)
    harness.assert_lake_matches_world(
        world, Lake(tmp_path / "lake"), [PlannedRun("d", DAILY_ASSETS, first, last)], ("jp",)
    )
    assert harness.hidden_temp_files(tmp_path / "lake") == []


def hold_the_slot(home: Path) -> str:
    """A live run (owned by this test process) that holds the slot of every API pool, so a
    load waits at its first step whichever pool that step is in."""
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        run_id = str(uuid.uuid4())
        instance.add_run(
            dg.DagsterRun(
                job_name="slot_holder", run_id=run_id, status=dg.DagsterRunStatus.STARTED, tags=owner_tags()
            )
        )
        for pool in api_pools():
            claim = instance.event_log_storage.claim_concurrency_slot(pool, run_id, f"holder-{pool}")
            assert claim.is_claimed, pool
        return run_id
    finally:
        instance.dispose()


def wait_for_line(process: subprocess.Popen, text: str, limit_s: float = 120) -> str:
    """Read the load's stderr until a line containing `text` (the load says it waits)."""
    deadline = time.monotonic() + limit_s
    seen = []
    for line in process.stderr:  # type: ignore[union-attr]
        seen.append(line)
        if text in line:
            return line
        assert time.monotonic() < deadline, "".join(seen[-20:])
    raise AssertionError(f"the load ended without saying {text!r}:\n{''.join(seen[-20:])}")


def test_a_load_waiting_for_a_held_slot_names_the_holder_and_gives_up(
    sandbox_process: ProcessSandbox, tmp_path: Path
) -> None:
    home = install_home(tmp_path / "dagster_home")
    holder = hold_the_slot(home)
    env = {**load_env(sandbox_process, home), SLOT_WAIT_ENV: "2"}
    day = last_days(sandbox_process.now, 1)[0]
    load = start_load(env, tmp_path, "daily", day)
    line = wait_for_line(load, f"waiting for the {API_POOL}.")
    assert holder in line and "slot_holder" in line, line
    result = finish(load, timeout=180)
    assert not result["success"]
    assert any("gave up" in e and holder in e and SLOT_WAIT_ENV in e for e in result["errors"]), result
    held, queued = pool_state(home)
    assert held == [holder] and queued == [holder], "the load that gave up must leave no queue entry"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_while_waiting_for_the_slot_stops_the_load(
    sandbox_process: ProcessSandbox, tmp_path: Path, signum: int
) -> None:
    """Dagster's claim loop noted the signal and went on waiting (968 s seen, SIGTERM ignored)."""
    home = install_home(tmp_path / "dagster_home")
    holder = hold_the_slot(home)
    env = load_env(sandbox_process, home)
    load = start_load(env, tmp_path, "daily", last_days(sandbox_process.now, 1)[0])
    wait_for_line(load, f"waiting for the {API_POOL}.")
    os.killpg(load.pid, signum)
    result = finish(load, timeout=120)
    assert load.returncode == 128 + signum
    assert {k: v for k, v in result.items() if k != "stderr"} == {"success": False, "stopped": signum}
    assert pool_state(home) == ([holder], [holder]), "the stopped load must leave no queue entry"
    assert harness.hidden_temp_files(tmp_path / "lake") == []
