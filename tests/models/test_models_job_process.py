"""The models_job as a deployment runs it (`dagster job execute`, the shipped instance file):
every step in the run's own process, one after another, none in a process of its own."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from tests.models.conftest import BuiltLake

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_models_job_runs_every_step_in_the_run_process(built: BuiltLake, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    shutil.copytree(built.lake.storage.uri(""), lake)  # the shared lake stays as built
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(REPO / "pipelines" / "dagster_instance.yaml", home / "dagster.yaml")
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "SORACOM_LAKE_ROOT": str(lake),
        "SORACOM_CATALOG_PATH": str(tmp_path / "soracom.duckdb"),
    }
    dagster = str(Path(sys.executable).with_name("dagster"))
    done = subprocess.run(
        [dagster, "job", "execute", "-m", "pipelines.definitions", "-j", "models_job"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    with dg.DagsterInstance.from_config(str(home)) as instance:
        (run,) = instance.get_runs()
        assert run.is_success
        events = [e.dagster_event for e in instance.all_logs(run.run_id) if e.dagster_event is not None]
    kinds = {e.event_type for e in events}
    assert dg.DagsterEventType.STEP_WORKER_STARTED not in kinds  # no process per step
    (run_pid,) = {e.pid for e in events if e.event_type == dg.DagsterEventType.RUN_START}
    steps = [e for e in events if e.event_type == dg.DagsterEventType.STEP_START]
    assert len(steps) > 20 and {e.pid for e in steps} == {run_pid}
    assert (tmp_path / "soracom.duckdb").is_file()  # the catalog step ran too
