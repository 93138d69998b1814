"""Seconds per daily partition of the real `daily_load_job`: a `dagster job execute` run
(the executor, process-per-step cost, asset checks and catalog included) of yesterday (UTC)
against a sandbox child process, on a fresh Dagster home holding the shipped instance file.

    .venv/bin/python -m bench.daily_job --sims 50 --runs 2

Prints one line per run (wall seconds, steps, check evaluations) and the median.
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
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sandbox.process import start_sandbox_process

REPO = Path(__file__).resolve().parent.parent
INSTANCE_FILE = REPO / "pipelines" / "dagster_instance.yaml"


def run_once(url: str, credentials: dict[str, str], now: datetime, day: str, root: Path) -> dict[str, object]:
    """One `dagster job execute` of `daily_load_job` for `day` in a fresh home under `root`."""
    home = root / "home"
    home.mkdir(parents=True)
    shutil.copy(INSTANCE_FILE, home / "dagster.yaml")
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "SORACOM_AUTH_KEY_ID": credentials["authKeyId"],
        "SORACOM_AUTH_KEY": credentials["authKey"],
        "SORACOM_ENDPOINT": url,
        "SORACOM_LAKE_ROOT": str(root / "lake"),
        "SORACOM_CATALOG_PATH": str(root / "soracom.duckdb"),
        "SORACOM_NOW": now.isoformat(),
    }
    command = [
        *(str(Path(sys.executable).with_name("dagster")), "job", "execute"),
        *("-m", "pipelines.definitions", "-j", "daily_load_job"),
        *("--tags", json.dumps({"dagster/partition": day})),
    ]
    started = time.monotonic()
    done = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, check=False)
    wall = time.monotonic() - started
    output = done.stdout + done.stderr
    if done.returncode != 0:
        raise SystemExit(f"daily_load_job failed ({done.returncode}):\n{output[-4000:]}")
    return {
        "wall_s": round(wall, 1),
        "steps": output.count("STEP_SUCCESS"),
        "check_evaluations": output.count("ASSET_CHECK_EVALUATION"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", type=int, default=50)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args(argv)
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    day = (now - timedelta(days=1)).strftime("%Y-%m-%d")
    walls = []
    with start_sandbox_process(sims=args.sims, seed=7, now=now) as box:
        for n in range(args.runs):
            with tempfile.TemporaryDirectory(prefix="daily-job-") as tmp:
                result = run_once(box.url, box.credentials, now, day, Path(tmp))
            walls.append(result["wall_s"])
            print(f"run {n + 1}: daily_load_job {day}, {args.sims} SIMs: {json.dumps(result)}", flush=True)
    print(f"median seconds per daily partition: {statistics.median(walls):.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
