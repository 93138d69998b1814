"""The dead-run reaper (pipelines/runs.py) on its own: a STARTED run whose process is gone
is marked failed and frees its slots in every API pool, queued steps of dead runs leave the
queue, live runs keep what they hold; the daemon sensor does the same."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import dagster as dg
import psutil
import pytest

from assets.loading import API_POOL
from assets.tables import api_pools, source
from pipelines.definitions import defs
from pipelines.runs import HOST_TAG, PID_TAG, PROCESS_START_TAG, dead_run_reaper, owner_tags, reap_dead_runs
from tests.reliability.instances import install_home

pytestmark = pytest.mark.reliability


def dead_owner_tags() -> dict[str, str]:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    tags = owner_tags(child.pid)
    child.wait()
    return tags


SIMS = source("sims").pool_key
EXPORTS = source("air_traffic_daily").pool_key


def add_run(
    instance: dg.DagsterInstance, tags: dict[str, str], step: str, pools: tuple[str, ...] = (SIMS,)
) -> str:
    run_id = str(uuid.uuid4())
    instance.add_run(
        dg.DagsterRun(job_name="load", run_id=run_id, status=dg.DagsterRunStatus.STARTED, tags=tags)
    )
    for pool in pools:
        instance.event_log_storage.claim_concurrency_slot(pool, run_id, f"{step}-{pool}")
    return run_id


def claimed_anywhere(instance: dg.DagsterInstance) -> list[str]:
    """Run ids holding a slot of any API pool."""
    storage = instance.event_log_storage
    return sorted(
        {slot.run_id for pool in api_pools() for slot in storage.get_concurrency_info(pool).claimed_slots}
    )


def test_dead_runs_are_failed_and_free_the_slot_and_queue_live_ones_keep_it(tmp_path: Path) -> None:
    home = install_home(tmp_path / "home")
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        dead_holder = add_run(instance, dead_owner_tags(), "a", (SIMS, EXPORTS))  # a slot of each pool
        dead_queued = add_run(instance, dead_owner_tags(), "b")  # queued behind it in one
        live_queued = add_run(instance, owner_tags(), "c", (SIMS, EXPORTS))
        said: list[str] = []
        assert sorted(reap_dead_runs(instance, said.append)) == sorted([dead_holder, dead_queued])
        [holder_said] = [s for s in said if dead_holder in s]
        [queued_said] = [s for s in said if dead_queued in s]
        assert f"freed the API pool slots and queues in {EXPORTS}, {SIMS} of dead" in holder_said
        assert f"freed the API pool slots and queues in {SIMS} of dead" in queued_said
        for run_id in (dead_holder, dead_queued):
            assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.FAILURE
        assert instance.get_run_by_id(live_queued).status == dg.DagsterRunStatus.STARTED
        # the live run was next in both queues: its claims now get the slots
        storage = instance.event_log_storage
        for pool in (SIMS, EXPORTS):
            assert storage.claim_concurrency_slot(pool, live_queued, f"c-{pool}").is_claimed, pool
        assert reap_dead_runs(instance) == []
    finally:
        instance.dispose()


def test_runs_of_other_hosts_or_without_owner_are_left_alone(tmp_path: Path) -> None:
    home = install_home(tmp_path / "home")
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        elsewhere = {**dead_owner_tags(), HOST_TAG: "another-host"}
        add_run(instance, elsewhere, "a")
        add_run(instance, {}, "b")
        assert reap_dead_runs(instance) == []
    finally:
        instance.dispose()


def test_the_daemon_sensor_reaps_and_is_in_the_code_location(tmp_path: Path) -> None:
    assert "dead_run_reaper" in {sensor.name for sensor in defs.sensors}
    assert dead_run_reaper.minimum_interval_seconds == 60  # SORACOM_REAPER_INTERVAL_S's default
    home = install_home(tmp_path / "home")
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        run_id = add_run(instance, dead_owner_tags(), "a", (SIMS, EXPORTS))
        assert claimed_anywhere(instance) == [run_id]
        result = dead_run_reaper(dg.build_sensor_context(instance=instance))
        assert run_id in result.skip_message
        assert claimed_anywhere(instance) == []
    finally:
        instance.dispose()


def test_a_dead_run_in_the_one_pool_of_an_older_version_is_freed(tmp_path: Path) -> None:
    """An instance set up before the pools were per family has the pool `soracom_api`; a run
    of the old code that died there must not keep its slot after the upgrade."""
    home = install_home(tmp_path / "home")
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        instance.event_log_storage.set_concurrency_slots(API_POOL, 1)
        run_id = add_run(instance, dead_owner_tags(), "a", (API_POOL,))
        said: list[str] = []
        assert reap_dead_runs(instance, said.append) == [run_id]
        assert instance.event_log_storage.get_concurrency_info(API_POOL).claimed_slots == []
        assert f"queues in {API_POOL} of dead" in said[0], said
    finally:
        instance.dispose()


def test_a_reused_pid_is_not_taken_for_the_original_process() -> None:
    from pipelines.runs import process_gone

    tags = owner_tags()
    assert not process_gone(tags)
    assert process_gone({**tags, PROCESS_START_TAG: "1.00"})
    assert not process_gone({PID_TAG: tags[PID_TAG]})  # no host: not ours to judge


def test_a_clock_step_does_not_make_a_live_run_look_dead(monkeypatch: pytest.MonkeyPatch) -> None:
    """psutil's epoch start time is boot time (from the wall clock) + time since boot: a step of the
    clock moves it. The reaper must still see its own live process, or it frees a running load's
    slot and two loads call the API at once."""
    from pipelines.runs import process_gone

    tags = owner_tags()
    epoch_start = psutil.Process().create_time()
    booted = psutil._psplatform.boot_time  # type: ignore[attr-defined]
    monkeypatch.setattr(psutil._psplatform, "boot_time", lambda: booted() + 1.0)  # type: ignore[attr-defined]
    assert psutil.Process().create_time() == epoch_start + 1.0  # what the reaper compared before
    assert not process_gone(tags)


def test_a_run_tagged_with_its_epoch_start_time_is_still_recognised() -> None:
    """Runs tagged before the tag counted from boot carry epoch seconds."""
    from pipelines.runs import process_gone

    tags = {**owner_tags(), PROCESS_START_TAG: f"{psutil.Process().create_time():.2f}"}
    assert not process_gone(tags)
    assert process_gone({**tags, PROCESS_START_TAG: f"{psutil.Process().create_time() - 60:.2f}"})
