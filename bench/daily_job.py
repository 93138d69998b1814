"""Seconds per partition of a real load job (default `daily_load_job`): a `dagster job execute`
run (executor, steps, asset checks and catalog included) of the latest closed partition
(yesterday UTC; the last hour for `audit_log_job`) against a sandbox child process, in a
fresh Dagster home holding the shipped instance file.

    .venv/bin/python -m bench.daily_job --sims 1000 --runs 2 --executor in_process,multiprocess
    .venv/bin/python -m bench.daily_job --job audit_log_job --executor in_process,multiprocess

Each run's home is prepared first as a deployment's is once (instance storage created and
one slot set in every API pool `soracom_api.<family>`, as `python -m pipelines.instance` does,
see README); that one-off cost is printed apart (`instance_setup_s`), not in the run's time.
With several executors the runs alternate, so both see the same machine. Printed per run:
wall seconds, the child's CPU seconds and peak RSS, and where the wall time went (from the run's event
log): start-up (process start, imports, `Definitions`, run creation) until RUN_START, each
step, Dagster's time between steps, and the tail after RUN_SUCCESS until the process ended.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sandbox.process import start_sandbox_process

REPO = Path(__file__).resolve().parent.parent
INSTANCE_FILE = REPO / "pipelines" / "dagster_instance.yaml"
GENEROUS_PER_MINUTE = 60_000  # calls per minute per API: concurrency decides (bench/nightly.py "generous")
# The shipped job runs in one process; `multiprocess` is the same job on Dagster's
# multiprocess executor (bench/multiprocess_defs.py), for the before/after.
EXECUTORS = {
    "in_process": "pipelines.definitions",
    "serial": "pipelines.definitions",
    "multiprocess": "bench.multiprocess_defs",
}
# `serial`: the shipped job with its executor told to run one step at a time (the steps of
# different API pools no longer overlap), for the side-by-side figure of the overlap.
RUN_CONFIG = {"serial": "execution:\n  config:\n    max_concurrent: 1\n"}
JOBS = ("daily_load_job", "snapshot_job", "audit_log_job")


def latest_partition(job: str, now: datetime) -> str:
    """The partition a scheduled run of `job` loads at `now`: the last closed day or hour."""
    if job == "audit_log_job":
        return (now - timedelta(hours=1)).strftime("%Y-%m-%d-%H:00")
    return (now - timedelta(days=1)).strftime("%Y-%m-%d")


def prepare_home(home: Path) -> float:
    """Create the instance in `home` as a deployment does once: storage, and the API pools' slots."""
    from dagster import DagsterInstance

    from pipelines.instance import create_pool_slots

    home.mkdir(parents=True)
    shutil.copy(INSTANCE_FILE, home / "dagster.yaml")
    started = time.monotonic()
    with DagsterInstance.from_config(str(home)) as instance:
        create_pool_slots(instance)  # the shipped file's default limit: one slot per pool
    return time.monotonic() - started


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def phases(home: Path, started: float, ended: float) -> dict[str, Any]:
    """Where the run's wall time went, from its event log (epoch timestamps)."""
    from dagster import DagsterEventType, DagsterInstance

    with DagsterInstance.from_config(str(home)) as instance:
        (run,) = instance.get_runs()
        events = instance.all_logs(run.run_id)
    first: dict[str, float] = {}
    checks = 0
    steps: dict[str, float] = {}
    step_started: dict[str, float] = {}
    for event in events:
        kind = event.dagster_event_type
        if kind is None:
            continue
        first.setdefault(kind.value, event.timestamp)
        checks += kind == DagsterEventType.ASSET_CHECK_EVALUATION
        if kind == DagsterEventType.STEP_START and event.step_key:
            step_started[event.step_key] = event.timestamp
        elif kind in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE) and event.step_key:
            steps[event.step_key] = event.timestamp - step_started.get(event.step_key, event.timestamp)
    run_start = first.get(DagsterEventType.RUN_START.value, started)
    run_end = first.get(
        DagsterEventType.RUN_SUCCESS.value, first.get(DagsterEventType.RUN_FAILURE.value, ended)
    )
    return {
        "startup_s": round(run_start - started, 2),
        "run_s": round(run_end - run_start, 2),
        "steps_s": round(sum(steps.values()), 2),
        "between_steps_s": round(run_end - run_start - sum(steps.values()), 2),
        "tail_s": round(ended - run_end, 2),
        "steps": len(steps),
        "check_evaluations": checks,
        "events": len(events),
        "step_s": {key: round(seconds, 2) for key, seconds in sorted(steps.items(), key=lambda kv: -kv[1])},
    }


def run_once(
    url: str,
    credentials: dict[str, str],
    now: datetime,
    day: str,
    root: Path,
    *,
    executor: str = "in_process",
    concurrency: int | None = None,
    job: str = "daily_load_job",
    importtime: Path | None = None,
) -> dict[str, Any]:
    """One `dagster job execute` of `job` (partition `day`) in a fresh home under `root`; with
    `importtime`, the child's `python -X importtime` lines are written to that file."""
    home = root / "home"
    setup_s = prepare_home(home)
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
    if concurrency is not None:
        env["SORACOM_MAX_CONCURRENCY"] = str(concurrency)
    if importtime is not None:
        env["PYTHONPROFILEIMPORTTIME"] = "1"
    command = [
        *(str(Path(sys.executable).with_name("dagster")), "job", "execute"),
        *("-m", EXECUTORS[executor], "-j", job),
        *("--tags", json.dumps({"dagster/partition": day})),
    ]
    if executor in RUN_CONFIG:
        config = root / "run_config.yaml"
        config.write_text(RUN_CONFIG[executor])
        command += ["-c", str(config)]
    cpu_before = _children_cpu_s()
    started_epoch = time.time()
    started = time.monotonic()
    with (root / "job.out").open("w+") as out, (root / "job.err").open("w+") as err:
        child = subprocess.Popen(command, env=env, cwd=REPO, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(child.pid, 0)  # this child's own peak RSS, not the largest so far
        child.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    cpu = _children_cpu_s() - cpu_before
    output = stdout + stderr
    if child.returncode != 0:
        raise SystemExit(f"{job} failed ({child.returncode}):\n{output[-4000:]}")
    if importtime is not None:
        lines = [line for line in stderr.splitlines() if line.startswith("import time:")]
        importtime.write_text("\n".join(lines) + "\n")
    return {
        "executor": executor,
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024),  # Linux: KiB
        "instance_setup_s": round(setup_s, 2),
        **phases(home, started_epoch, started_epoch + wall),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", type=int, default=50)
    parser.add_argument("--job", default="daily_load_job", choices=JOBS)
    parser.add_argument("--runs", type=int, default=1, help="runs per executor")
    parser.add_argument(
        "--executor",
        default="in_process",
        help=f"comma-separated, alternated: {', '.join(EXECUTORS)} (default in_process, the shipped one)",
    )
    parser.add_argument("--concurrency", type=int, default=32, help="SORACOM_MAX_CONCURRENCY of the run")
    parser.add_argument("--latency-ms", type=float, default=30.0, help="sandbox latency per call")
    parser.add_argument("--jitter-ms", type=float, default=10.0, help="plus uniform random 0..jitter")
    parser.add_argument(
        "--importtime",
        type=Path,
        default=None,
        help="write the last run's `python -X importtime` lines of the job's process to this file "
        "(sort with `sort -t'|' -k2 -n -r`); the profiling slows that run's start-up a little",
    )
    args = parser.parse_args(argv)
    executors = [e for e in args.executor.split(",") if e]
    unknown = set(executors) - set(EXECUTORS)
    if unknown or not executors:
        parser.error(f"--executor: unknown {sorted(unknown)}; use {', '.join(EXECUTORS)}")
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    day = latest_partition(args.job, now)
    results: dict[str, list[dict[str, Any]]] = {e: [] for e in executors}
    with start_sandbox_process(
        sims=args.sims,
        seed=7,
        now=now,
        latency_ms=args.latency_ms,
        jitter_ms=args.jitter_ms,
        rate_limit_per_minute=GENEROUS_PER_MINUTE,
    ) as box:
        box.update_settings(record_calls=False)  # the audit log would grow with every call
        for n in range(args.runs):
            for executor in executors:
                with tempfile.TemporaryDirectory(prefix="daily-job-") as tmp:
                    result = run_once(
                        box.url,
                        box.credentials,
                        now,
                        day,
                        Path(tmp),
                        executor=executor,
                        concurrency=args.concurrency,
                        job=args.job,
                        importtime=args.importtime,
                    )
                results[executor].append(result)
                print(f"run {n + 1}: {args.job} {day}, {args.sims} SIMs: {json.dumps(result)}", flush=True)
    for executor, runs in results.items():
        median = {
            k: statistics.median(r[k] for r in runs)
            for k in ("wall_s", "cpu_s", "startup_s", "steps_s", "peak_rss_mb")
        }
        print(
            f"{executor}: {args.job} median seconds per partition {median['wall_s']:.1f} "
            f"(CPU {median['cpu_s']:.1f} s, peak RSS {median['peak_rss_mb']:.0f} MB; "
            f"start-up {median['startup_s']:.1f} s, steps {median['steps_s']:.1f} s)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
