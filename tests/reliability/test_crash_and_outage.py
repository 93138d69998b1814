"""Real processes, real signals: a load killed with SIGKILL mid-run, two loads of the same
partition at once, and a sandbox that is down for a whole run.

Each load runs `python -m tests.reliability.run_load` in its own process against a
`soracom-lake sandbox` child process; the ground truth is a World built here with the
same seed, SIMs, now and coverages.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import duckdb
import pyarrow.parquet as pq
import pytest

from assets.partitions import last_days
from assets.tables import SOURCES
from pipelines import settings
from pipelines.demo import PlannedRun
from pipelines.instance import SQLITE_TEMPLATE, install_instance_config
from pipelines.jobs import DAILY_ASSETS, SNAPSHOT_ASSETS
from pipelines.lake import Lake
from sandbox.process import ProcessSandbox, start_sandbox_process
from tests.reliability import harness
from tests.reliability.instances import overlaps_in_a_pool, step_intervals

pytestmark = [pytest.mark.reliability, pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
SIMS, SEED = 30, 3


@pytest.fixture
def sandbox_process() -> Iterator[ProcessSandbox]:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    with start_sandbox_process(sims=SIMS, seed=SEED, now=now, coverage="jp", latency_ms=5) as box:
        yield box


def load_env(box: ProcessSandbox, dagster_home: Path | None = None) -> dict[str, str]:
    """A load's environment: the sandbox's credentials and endpoint, the clock at its now (the
    tests count their days from `box.now` too, so a test crossing midnight UTC loads one day)."""
    env = harness.env_without_soracom()
    env.update(
        {
            settings.NOW: box.info["now"],
            settings.AUTH_KEY_ID: box.credentials["authKeyId"],
            settings.AUTH_KEY: box.credentials["authKey"],
            settings.COVERAGES: "jp",
            settings.ENDPOINT_JP: box.url_for("jp"),
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.pop("DAGSTER_HOME", None)
    if dagster_home is not None:
        env["DAGSTER_HOME"] = str(dagster_home)
    return env


def start_load(
    env: dict[str, str],
    root: Path,
    job: str,
    first: str,
    last: str | None = None,
    tags: tuple[str, ...] = (),
    extra: tuple[str, ...] = (),
) -> subprocess.Popen:
    args = [
        sys.executable,
        "-m",
        "tests.reliability.run_load",
        "--root",
        str(root),
        "--job",
        job,
        "--first",
        first,
    ]
    if last:
        args += ["--last", last]
    for tag in tags:
        args += ["--tag", tag]
    args += list(extra)
    return subprocess.Popen(
        args,
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def finish(process: subprocess.Popen, timeout: float = 240) -> dict:
    out, err = process.communicate(timeout=timeout)
    lines = [line for line in out.splitlines() if line.startswith("RESULT ")]
    assert lines, f"the load printed no RESULT line (exit {process.returncode}):\n{err[-3000:]}"
    result = json.loads(lines[-1][len("RESULT ") :])
    result["stderr"] = err
    return result


def run_load(env: dict[str, str], root: Path, job: str, first: str, last: str | None = None) -> dict:
    return finish(start_load(env, root, job, first, last))


def assert_readers_see_only_whole_files(root: Path) -> None:
    """Every file a `*.parquet` glob shows reads completely, and DuckDB reads every table."""
    lake_root = root / "lake"
    for path in harness.visible_parquet_files(lake_root):
        pq.read_table(path)  # raises on a partial or corrupt file
    lake = Lake(lake_root)
    con = duckdb.connect()
    try:
        for table in SOURCES:
            if lake.partitions(table.spec):
                con.execute(f"SELECT count(*) FROM read_parquet('{lake.table_glob(table.spec)}')").fetchone()
    finally:
        con.close()


def test_sigkill_mid_load_leaves_readable_lake_and_next_run_repairs_it(
    sandbox_process: ProcessSandbox, tmp_path: Path
) -> None:
    box = sandbox_process
    env = load_env(box)
    days = last_days(box.now, 7)
    world = harness.world_for(box.info, SIMS, SEED)
    # A good run first, so a catalog exists for readers while the next run dies.
    snapshot = finish(start_load(env, tmp_path, "snapshot", days[-1], extra=("--catalog",)))
    assert snapshot["success"], snapshot["errors"]
    assert (tmp_path / "soracom.duckdb").exists()

    process = start_load(env, tmp_path, "daily", days[0], days[-1])
    deadline = time.monotonic() + 120
    # Kill once some partitions of the range are written and more are on their way.
    while len(harness.visible_parquet_files(tmp_path / "lake" / "air_traffic_5min")) < 2:
        assert process.poll() is None, f"the load ended before it could be killed: {process.communicate()}"
        assert time.monotonic() < deadline, "the load wrote nothing in 120 s"
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    written = {p for p in harness.visible_parquet_files(tmp_path / "lake")}

    assert_readers_see_only_whole_files(tmp_path)
    harness.assert_catalog_opens(tmp_path / "soracom.duckdb", Lake(tmp_path / "lake"), exact=False)
    # The killed run did not finish the range, so the next run has real work to redo.
    complete = [d for d in days if (tmp_path / "lake" / "harvest_entries" / f"date={d}").exists()]
    assert len(complete) < len(days), "the kill came too late to interrupt the range"

    again = run_load(env, tmp_path, "daily", days[0], days[-1])
    assert again["success"], again["errors"]
    runs = [
        PlannedRun("days", DAILY_ASSETS, days[0], days[-1]),
        PlannedRun("snap", SNAPSHOT_ASSETS, days[-1], days[-1]),
    ]
    harness.assert_lake_matches_world(world, Lake(tmp_path / "lake"), runs, ("jp",))
    assert written <= set(harness.visible_parquet_files(tmp_path / "lake"))
    assert harness.hidden_temp_files(tmp_path / "lake") == [], (
        "the re-run must clean the dead run's temp files"
    )
    assert_readers_see_only_whole_files(tmp_path)


def test_two_runs_of_one_partition_at_once_are_serialised_and_end_right(
    sandbox_process: ProcessSandbox, tmp_path: Path
) -> None:
    """A schedule tick and a manual backfill of the same day start together, on an instance
    configured with the shipped `pipelines/dagster_instance.yaml` (as `soracom-lake demo`
    installs it): its pool limit lets one step of each API pool (`soracom_api.<family>`) run
    at a time across both runs, so the two never load one table at once; atomic partition
    writes mean the last writer's whole file wins either way. The final lake equals the
    ground truth."""
    box = sandbox_process
    home = tmp_path / "dagster_home"
    install_instance_config(home)
    assert (home / "dagster.yaml").read_text() == SQLITE_TEMPLATE.read_text()
    dg.DagsterInstance.from_config(str(home)).dispose()  # create the storage once, not in a race
    env = load_env(box, home)
    day = last_days(box.now, 1)[0]
    first = start_load(env, tmp_path, "daily", day, tags=("dagster/schedule_name=nightly_schedule",))
    second = start_load(env, tmp_path, "daily", day, tags=("dagster/backfill=manual",))
    results = [finish(first), finish(second)]
    assert all(r["success"] for r in results), [r["errors"] for r in results]
    reaped = [line for r in results for line in r["stderr"].splitlines() if "freed the" in line]
    assert reaped == [], reaped  # nothing died: a freed slot would be a live run taken for dead

    instance = dg.DagsterInstance.from_config(str(home))
    try:
        intervals = [step_intervals(instance, r["run_id"]) for r in results]
    finally:
        instance.dispose()
    assert sum(len(run) for run in intervals) == 2 * len(DAILY_ASSETS), intervals
    clashes = overlaps_in_a_pool(intervals)
    assert clashes == {}, f"two API steps of one pool ran at once: {clashes}"

    world = harness.world_for(box.info, SIMS, SEED)
    harness.assert_lake_matches_world(
        world, Lake(tmp_path / "lake"), [PlannedRun("d", DAILY_ASSETS, day, day)], ("jp",)
    )
    for table in ("session_events", "air_traffic_daily", "air_traffic_5min", "harvest_entries"):
        files = [p.name for p in (tmp_path / "lake" / table / f"date={day}").iterdir()]
        assert files == ["part-0.parquet"], files


def test_sandbox_outage_fails_the_run_clearly_and_the_next_run_succeeds(
    sandbox_process: ProcessSandbox, tmp_path: Path
) -> None:
    box = sandbox_process
    env = load_env(box)
    earlier, later = last_days(box.now, 2)
    world = harness.world_for(box.info, SIMS, SEED)
    ok = run_load(env, tmp_path, "daily", earlier)
    assert ok["success"], ok["errors"]
    before = harness.file_digests(tmp_path / "lake")

    box.stop()  # the API is down for the whole next run
    down = run_load(env, tmp_path, "daily", later)
    assert not down["success"]
    assert len(down["errors"]) == len(DAILY_ASSETS), down["errors"]
    for error in down["errors"]:
        assert "auth (POST /auth) gave up after" in error and "ConnectError" in error, error
    assert harness.file_digests(tmp_path / "lake") == before, "the failed run touched earlier partitions"

    box.restart()
    back = run_load(env, tmp_path, "daily", later)
    assert back["success"], back["errors"]
    runs = [PlannedRun("d", DAILY_ASSETS, earlier, later)]
    harness.assert_lake_matches_world(world, Lake(tmp_path / "lake"), runs, ("jp",))
    unchanged = {k: v for k, v in harness.file_digests(tmp_path / "lake").items() if k in before}
    assert unchanged == before, "the recovery run rewrote the earlier day"
