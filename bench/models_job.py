"""Seconds of the real `models_job` the night after one new day: a `dagster job execute` run
(executor, every model step, their asset checks and the catalog) in a fresh Dagster home
holding the shipped instance file, over a lake filled by `bench.models` (a year of 10,000 SIMs).

    .venv/bin/python -m bench.models --sims 10000 --lake /tmp/year-lake --no-incremental
    .venv/bin/python -m bench.models_job --sims 10000 --lake /tmp/year-lake --executor in_process,multiprocess

Before each run the night is played as in `bench.models`: the last day's daily files removed and
the models caught up without Dagster (the night before's state), then that day loaded again.
`in_process` is the shipped job (its steps one after another in the run's process);
`multiprocess` the same job on Dagster's multiprocess executor (`bench/multiprocess_defs.py`,
a process per step, as it ran before). With both, the runs alternate. Printed per run: wall
seconds and where they went (start-up until RUN_START, the steps, Dagster's time between steps,
the tail), then the slowest steps.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from bench.daily_job import EXECUTORS, REPO, phases, prepare_home
from bench.models import load_nightly_day, rebuild_models, remove_nightly_days
from pipelines.lake import Lake
from sandbox.world import World
from testkit.world_lake import closed_days

CHOICES = ("in_process", "multiprocess")


def play_the_night_before(lake: Lake, world: World) -> None:
    """The last day's daily files removed and the models caught up, then that day loaded again."""
    day = closed_days(world, 1)[0]
    remove_nightly_days(lake, [day])
    with duckdb.connect() as con:
        rebuild_models(lake, con, full_refresh=False)
    load_nightly_day(lake, world, day)


def run_once(lake_root: Path, executor: str, now: datetime, work: Path) -> dict[str, Any]:
    home = work / "home"
    prepare_home(home)
    env = {
        "DAGSTER_HOME": str(home),
        "SORACOM_LAKE_ROOT": str(lake_root),
        "SORACOM_CATALOG_PATH": str(work / "soracom.duckdb"),
        "SORACOM_NOW": now.isoformat(),
    }
    command = [
        *(str(Path(sys.executable).with_name("dagster")), "job", "execute"),
        *("-m", EXECUTORS[executor], "-j", "models_job"),
    ]
    started_epoch, started = time.time(), time.monotonic()
    done = subprocess.run(command, env={**os.environ, **env}, cwd=REPO, capture_output=True, text=True)
    wall = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"models_job failed ({done.returncode}):\n{(done.stdout + done.stderr)[-4000:]}")
    where = phases(home, started_epoch, started_epoch + wall)
    return {"executor": executor, "wall_s": round(wall, 2), **where}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sims", type=int, default=10_000, help="the SIMs bench.models filled the lake with")
    parser.add_argument("--lake", type=Path, required=True, help="a lake filled by bench.models")
    parser.add_argument("--now", default="2026-11-30T02:00:00Z")
    parser.add_argument("--runs", type=int, default=1, help="runs per executor")
    parser.add_argument("--executor", default="in_process", help=f"comma-separated: {', '.join(CHOICES)}")
    args = parser.parse_args(argv)
    executors = [e for e in args.executor.split(",") if e]
    if not executors or set(executors) - set(CHOICES):
        parser.error(f"--executor: use {', '.join(CHOICES)}, comma-separated")
    if not list(args.lake.glob(f".filled-{args.sims}-*")):
        parser.error(
            f"{args.lake} was not filled by bench.models with {args.sims} SIMs: run "
            f"`python -m bench.models --sims {args.sims} --lake {args.lake}` first"
        )
    now = datetime.fromisoformat(args.now.replace("Z", "+00:00")).astimezone(UTC)
    lake, world = Lake(args.lake), World(seed=42, sims=args.sims, now=now)
    results: dict[str, list[dict[str, Any]]] = {e: [] for e in executors}
    with tempfile.TemporaryDirectory(prefix="bench-models-job-") as temp:
        for round_ in range(args.runs):
            for executor in executors:
                play_the_night_before(lake, world)
                work = Path(temp) / f"{executor}-{round_}"
                work.mkdir()
                result = run_once(args.lake, executor, now, work)
                shutil.rmtree(work)
                slowest = dict(list(result.pop("step_s").items())[:6])
                print(json.dumps(result), flush=True)
                print(f"  slowest steps: {json.dumps(slowest)}", flush=True)
                results[executor].append(result)
    print(f"\n# models_job the night after one new day, {args.sims:,} SIMs")
    for executor, runs in results.items():
        walls = [r["wall_s"] for r in runs]
        print(f"{executor}: median {statistics.median(walls):.2f} s of {len(walls)} run(s): {walls}")
    if len(results) == 2 and all(results.values()):
        before = statistics.median(r["wall_s"] for r in results["multiprocess"])
        after = statistics.median(r["wall_s"] for r in results["in_process"])
        print(f"multiprocess / in_process = {before / after:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
