"""SIGTERM stops the whole demo load (not just the step it lands in), frees what its run
held and exits 143; and under umask 000 nothing the load creates is writable by others
(issue 17 items 3 and 8)."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import time
from pathlib import Path

import dagster as dg
import pytest

from pipelines.instance import install_instance_config
from tests.reliability import harness
from tests.reliability.test_dead_runs import pool_state

pytestmark = pytest.mark.reliability

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".venv" / "bin"


def test_dagster_home_config_and_compute_logs_are_owner_only_under_umask_000(tmp_path: Path) -> None:
    home = tmp_path / "dagster_home"

    @dg.asset
    def hello() -> int:
        print("a line for the compute log")
        return 1

    previous = os.umask(0)
    try:
        install_instance_config(home)
        instance = dg.DagsterInstance.from_config(str(home))
        try:
            assert dg.materialize([hello], instance=instance).success
        finally:
            instance.dispose()
    finally:
        os.umask(previous)
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "dagster.yaml").stat().st_mode) == 0o600
    assert list(home.rglob("compute_logs/*")), "the run wrote no compute log"
    assert harness.chmod_tree_report(home) == []


@pytest.mark.integration
@pytest.mark.slow
def test_sigterm_stops_the_whole_demo_frees_its_slot_and_exits_143(tmp_path: Path) -> None:
    data = tmp_path / "data"
    demo = subprocess.Popen(
        [str(BIN / "soracom-lake"), "demo", "--sims", "20", "--days", "3", "--data-dir", str(data)],
        cwd=ROOT,
        env=harness.env_without_soracom(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=lambda: os.umask(0),  # the most permissive umask a cron could hand us
    )
    seen = []
    for line in demo.stdout:  # type: ignore[union-attr]
        seen.append(line)
        if line.startswith("loading"):
            break
    # the first run (4 daily steps over 3 days) is under way: a step or a slot claim
    while not list((data / "lake").rglob("*.parquet")) and demo.poll() is None:
        time.sleep(0.05)
    demo.send_signal(signal.SIGTERM)
    out, _ = demo.communicate(timeout=120)
    output = "".join(seen) + out
    assert demo.returncode == 143, output[-3000:]
    assert "stopped by SIGTERM" in output
    assert "[2/" not in output, "the load went on with its next run after SIGTERM"
    assert pool_state(data / ".dagster") == ([], [])
    instance = dg.DagsterInstance.from_config(str(data / ".dagster"))
    try:
        assert all(run.is_finished for run in instance.get_runs()), "a run was left STARTED"
    finally:
        instance.dispose()
    assert harness.hidden_temp_files(data / "lake") == []
    assert harness.chmod_tree_report(data) == []
