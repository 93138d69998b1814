"""The dead-run reaper (pipelines/runs.py) on its own: a STARTED run whose process is gone
is marked failed and frees its slot, queued steps of dead runs leave the queue, live runs
keep what they hold; the daemon sensor does the same."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import dagster as dg
import psutil
import pytest

from assets.loading import API_POOL
from pipelines.definitions import defs
from pipelines.runs import HOST_TAG, PID_TAG, PROCESS_START_TAG, dead_run_reaper, owner_tags, reap_dead_runs
from tests.reliability.instances import install_home

pytestmark = pytest.mark.reliability


def dead_owner_tags() -> dict[str, str]:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    tags = owner_tags(child.pid)
    child.wait()
    return tags


def add_run(instance: dg.DagsterInstance, tags: dict[str, str], step: str) -> str:
    run_id = str(uuid.uuid4())
    instance.add_run(
        dg.DagsterRun(job_name="load", run_id=run_id, status=dg.DagsterRunStatus.STARTED, tags=tags)
    )
    instance.event_log_storage.claim_concurrency_slot(API_POOL, run_id, step)
    return run_id


def test_dead_runs_are_failed_and_free_the_slot_and_queue_live_ones_keep_it(tmp_path: Path) -> None:
    home = install_home(tmp_path / "home")
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        dead_holder = add_run(instance, dead_owner_tags(), "a")  # takes the one slot
        dead_queued = add_run(instance, dead_owner_tags(), "b")  # queued behind it
        live_queued = add_run(instance, owner_tags(), "c")
        said: list[str] = []
        assert sorted(reap_dead_runs(instance, said.append)) == sorted([dead_holder, dead_queued])
        assert len(said) == 2 and all("freed the soracom_api slot" in s for s in said)
        for run_id in (dead_holder, dead_queued):
            assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.FAILURE
        assert instance.get_run_by_id(live_queued).status == dg.DagsterRunStatus.STARTED
        # the live run was next in the queue: its claim now gets the slot
        assert instance.event_log_storage.claim_concurrency_slot(API_POOL, live_queued, "c").is_claimed
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
    home = install_home(tmp_path / "home")
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        run_id = add_run(instance, dead_owner_tags(), "a")
        result = dead_run_reaper(dg.build_sensor_context(instance=instance))
        assert run_id in result.skip_message
        assert instance.event_log_storage.get_concurrency_info(API_POOL).claimed_slots == []
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
