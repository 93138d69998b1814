"""The load jobs' executor (`pipelines/executor.py`) on the shipped instance (SQLite, locked slot
claims): steps of different pools run at once, steps of one pool never do, a failure or a
retry of one step leaves the others alone, and SIGTERM stops steps that run in threads."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from pipelines.instance import install_instance_config
from tests import executor_jobs

ROOT = Path(__file__).resolve().parents[1]
DAGSTER = Path(sys.executable).with_name("dagster")


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    marks = tmp_path / "marks"
    marks.mkdir()
    monkeypatch.setenv("EXECUTOR_TEST_DIR", str(marks))
    executor_jobs._meeting.reset()
    return marks


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[dg.DagsterInstance]:
    home = tmp_path / "dagster_home"
    install_instance_config(home)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        yield instance


def _times(folder: Path, name: str) -> tuple[float, float]:
    return (float((folder / f"{name}.start").read_text()), float((folder / f"{name}.end").read_text()))


def _execute(job: str, instance: dg.DagsterInstance, config: dict | None = None) -> dg.ExecutionResult:
    with dg.execute_job(
        dg.reconstructable(getattr(executor_jobs, job)), instance=instance, run_config=config or {}
    ) as result:
        return result


def _pools_empty(instance: dg.DagsterInstance, *pools: str) -> bool:
    storage = instance.event_log_storage
    return all(
        not storage.get_concurrency_info(pool).claimed_slots
        and not storage.get_concurrency_info(pool).pending_steps
        for pool in pools
    )


def test_steps_of_different_pools_run_at_once(folder: Path, instance: dg.DagsterInstance) -> None:
    """Each step waits for the other inside its body: they pass only if both run together."""
    result = _execute("meeting", instance)
    assert result.success
    a, b = _times(folder, "meets_a"), _times(folder, "meets_b")
    assert a[0] < b[1] and b[0] < a[1]
    # the downstream step started once both were done
    assert float((folder / "after_both.start").read_text()) >= max(a[1], b[1])
    assert _pools_empty(instance, "test_api.a", "test_api.b")


def test_one_step_at_a_time_when_told_so(
    folder: Path, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`max_concurrent: 1` runs the steps one after the other: the two meeting steps never meet."""
    monkeypatch.setenv(executor_jobs.MEET_TIMEOUT_ENV, "1")
    result = _execute("meeting", instance, {"execution": {"config": {"max_concurrent": 1}}})
    assert not result.success
    failed = {e.step_key for e in result.all_events if e.is_step_failure}
    assert failed == {"meets_a", "meets_b"}  # each waited alone, then broke the barrier
    assert not (folder / "after_both.start").exists()


def test_steps_of_one_pool_never_overlap(folder: Path, instance: dg.DagsterInstance) -> None:
    result = _execute("one_pool", instance)
    assert result.success
    first, second = sorted([_times(folder, "same_pool_1"), _times(folder, "same_pool_2")])
    assert first[1] <= second[0], "two steps of one pool ran at once"
    # while steps of other pools did overlap in the same run
    a, b = _times(folder, "meets_a"), _times(folder, "meets_b")
    assert a[0] < b[1] and b[0] < a[1]


def test_a_failed_step_stops_only_what_depends_on_it(folder: Path, instance: dg.DagsterInstance) -> None:
    result = _execute("failure", instance)
    assert not result.success
    assert {e.step_key for e in result.all_events if e.is_step_failure} == {"fails"}
    assert {e.step_key for e in result.all_events if e.is_step_success} == {"slow_neighbour"}
    assert _times(folder, "slow_neighbour")[1] > 0
    assert not (folder / "after_failure.start").exists()
    assert _pools_empty(instance, "test_api.d", "test_api.e")


def test_a_step_asking_for_a_retry_runs_again_beside_the_others(
    folder: Path, instance: dg.DagsterInstance
) -> None:
    result = _execute("retry", instance)
    assert result.success
    assert (folder / "retried_0.start").exists() and (folder / "retried_1.start").exists()
    assert [e.step_key for e in result.all_events if e.is_step_up_for_retry] == ["retried"]


def test_sigterm_stops_the_steps_running_in_threads(tmp_path: Path, folder: Path) -> None:
    """Two steps each wait a minute in their asyncio loop; SIGTERM to the run's process ends both
    at once (not after the minute), nothing downstream starts, and their pool slots are freed."""
    home = tmp_path / "dagster_home"
    install_instance_config(home)
    env = {**os.environ, "DAGSTER_HOME": str(home), "EXECUTOR_TEST_DIR": str(folder)}
    run = subprocess.Popen(
        [str(DAGSTER), "job", "execute", "-m", "tests.executor_jobs", "-j", "stoppable"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        started = [folder / "loads_for_a_minute_1.start", folder / "loads_for_a_minute_2.start"]
        deadline = time.monotonic() + 120
        while not all(p.exists() for p in started):
            assert run.poll() is None, run.communicate()[0][-3000:]
            assert time.monotonic() < deadline, "the two steps did not both start"
            time.sleep(0.05)
        signalled = time.monotonic()
        run.send_signal(signal.SIGTERM)
        output, _ = run.communicate(timeout=50)  # the steps would have slept 60 s
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert time.monotonic() - signalled < 50
    assert run.returncode != 0, output[-3000:]
    assert not list(folder.glob("*.end")), "a step ran to its end after SIGTERM"
    assert not (folder / "after_the_minute.start").exists()
    with dg.DagsterInstance.from_config(str(home)) as instance:
        (stored,) = instance.get_runs()
        assert stored.status == dg.DagsterRunStatus.FAILURE
        failures = [
            e.dagster_event
            for e in instance.all_logs(stored.run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
            if e.dagster_event is not None
        ]
        assert sorted(f.step_key for f in failures) == ["loads_for_a_minute_1", "loads_for_a_minute_2"]
        assert all("stopped" in f.step_failure_data.error.message for f in failures), output[-3000:]
        assert _pools_empty(instance, "test_api.g", "test_api.h")
