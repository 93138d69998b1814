"""From the command line, as a user runs it: a sandbox in its own process, the Dagster CLI
backfilling a partition range, two concurrent runs of one partition, and `soracom-lake demo`.
The lake is compared with the ground truth of an identical World built in this process."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest

from assets.partitions import daily_partitions, last_days, window_for
from pipelines import settings
from pipelines.lake import Lake
from sandbox.process import start_sandbox_process
from sandbox.world import World
from tests.assets import truth

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SIMS, SEED = 40, 5


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Any, World]]:
    """The sandbox process and its World. Its now (fixed at the minute it started) is the
    module's one instant: the days the tests load are counted from it and the `dagster`
    processes run on it (`SORACOM_NOW`), so a run that crosses midnight UTC does not load a day
    that a wall clock counts differently."""
    with start_sandbox_process(sims=SIMS, seed=SEED, coverage="jp") as box:
        world = World(seed=SEED, sims=SIMS, now=box.now, coverages=("jp",))
        yield box, world


def env_for(box: Any, root: Path) -> dict[str, str]:
    """The environment a user sets, plus a Dagster home whose storage exists already (as in any
    deployment; two processes creating a fresh SQLite instance at once would race), and the
    pipeline's clock fixed at the sandbox's now."""
    home = root / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    dg.DagsterInstance.from_config(str(home)).dispose()
    return {
        **os.environ,
        "DAGSTER_HOME": str(root / "dagster_home"),
        settings.AUTH_KEY_ID: box.credentials["authKeyId"],
        settings.AUTH_KEY: box.credentials["authKey"],
        settings.ENDPOINT_JP: box.url_for("jp"),
        settings.COVERAGES: "jp",
        settings.LAKE_ROOT: str(root / "lake"),
        settings.CATALOG_PATH: str(root / "soracom.duckdb"),
        settings.NOW: box.info["now"],
    }


def dagster(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "dagster"), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def test_cli_backfills_a_partition_range_in_one_run(served: tuple[Any, World], tmp_path: Path) -> None:
    box, world = served
    env = env_for(box, tmp_path)
    first, last = last_days(world.now, 3)[0], last_days(world.now, 3)[-1]
    result = dagster(
        env,
        "asset", "materialize", "-m", "pipelines.definitions",
        "--select", "session_events,harvest_entries",
        "--partition-range", f"{first}...{last}",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    lake = Lake(tmp_path / "lake")
    for key in last_days(world.now, 3):
        window = window_for(daily_partitions, key)
        day = window.start.date()
        got = truth.lake_rows(lake, "session_events", truth.SESSION_COLUMNS, "jp", date=day)
        assert got == truth.expected_session_events(world, "jp", window), key
        got = truth.lake_rows(lake, "harvest_entries", truth.HARVEST_COLUMNS, "jp", date=day)
        assert got == truth.expected_harvest(world, "jp", window), key
    # The catalog is rebuilt on its own (it is unpartitioned): then it shows the loaded days.
    assert (
        dagster(env, "asset", "materialize", "-m", "pipelines.definitions", "--select", "catalog").returncode
        == 0
    )
    con = duckdb.connect(str(tmp_path / "soracom.duckdb"), read_only=True)
    days = con.execute("SELECT count(DISTINCT date) FROM session_events").fetchone()[0]
    con.close()
    assert days == 3


def test_two_runs_of_the_same_partition_at_once_leave_it_whole(
    served: tuple[Any, World], tmp_path: Path
) -> None:
    box, world = served
    env = env_for(box, tmp_path)
    key = last_days(world.now, 1)[0]
    args = (
        "asset",
        "materialize",
        "-m",
        "pipelines.definitions",
        "--select",
        "session_events",
        "--partition",
        key,
    )
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: dagster(env, *args), range(2)))
    assert [r.returncode for r in results] == [0, 0], [r.stderr[-2000:] for r in results]
    window = window_for(daily_partitions, key)
    lake = Lake(tmp_path / "lake")
    got = truth.lake_rows(lake, "session_events", truth.SESSION_COLUMNS, "jp", date=window.start.date())
    assert got == truth.expected_session_events(world, "jp", window)
    files = sorted(p.name for p in (tmp_path / "lake" / "session_events").rglob("*") if p.is_file())
    assert files == ["part-0.parquet"]


def test_a_run_of_an_aged_out_partition_fails_with_the_reason(
    served: tuple[Any, World], tmp_path: Path
) -> None:
    box, world = served
    old = (world.now - timedelta(days=40)).strftime("%Y-%m-%d")
    result = dagster(
        env_for(box, tmp_path),
        "asset", "materialize", "-m", "pipelines.definitions",
        "--select", "session_events", "--partition", old,
    )  # fmt: skip
    assert result.returncode != 0
    assert "no longer held by Soracom" in result.stdout + result.stderr


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    """One `soracom-lake demo` of a small fleet, its output captured (not a terminal), as the
    README runs it: no `SORACOM_NOW` (the demo runs its pipeline on its sandbox's moment)."""
    data_dir = tmp_path_factory.mktemp("demo")
    result = subprocess.run(
        [str(BIN / "soracom-lake"), "demo", "--sims", "30", "--days", "2", "--data-dir", str(data_dir)],
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if k != settings.NOW},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result, data_dir


def test_demo_command_loads_everything_and_prints_the_summary(
    demo: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    result, tmp_path = demo
    catalog = tmp_path / "soracom.duckdb"
    assert str(catalog) in result.stdout and "duckdb" in result.stdout
    con = duckdb.connect(str(catalog), read_only=True)
    try:
        for table in (
            "sims",
            "session_events",
            "air_traffic_daily",
            "api_audit_logs",
            "bills",
            "billing_items",
        ):
            count = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            assert count > 0, table
            assert f"{table} " in result.stdout
        assert con.execute("SELECT count(DISTINCT date) FROM air_traffic_daily").fetchone()[0] == 2
    finally:
        con.close()
    assert (tmp_path / ".dagster").is_dir()


def test_demo_prints_plain_progress_lines_when_not_a_terminal(
    demo: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    result, _ = demo
    assert "\x1b[" not in result.stdout  # no bar drawn into a pipe
    today = datetime.strptime(re.search(r"today is (\S+) UTC", result.stdout)[1], "%Y-%m-%d")
    for day in (f"{today - timedelta(days=n):%Y-%m-%d}" for n in (2, 1)):
        line = re.search(
            rf"^  session_events {day} \[jp\]: (\d+)/(\d+) SIMs fetched, (\d+) rows, [\d.]+/s, ETA 0:00:00$",
            result.stdout,
            re.MULTILINE,
        )
        assert line, result.stdout[-3000:]
        done, total, rows = map(int, line.groups())
        assert 0 < done == total <= 30 and rows > 0
        harvest = rf"^  harvest_entries {day} \[jp\]: \d+/\d+ resources fetched, \d+ rows"
        assert re.search(harvest, result.stdout, re.MULTILINE)


def test_demo_refuses_to_run_without_credentials_for_real(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SORACOM_")}
    env["HOME"] = str(tmp_path)  # no ~/.soracom profile either
    result = subprocess.run(
        [str(BIN / "soracom-lake"), "demo", "--real", "--data-dir", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "SORACOM_AUTH_KEY_ID" in result.stdout
