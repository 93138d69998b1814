"""The nightly-load benchmark: one command, one sandbox, our load against its rate-limit floor
and against the naive baseline. See bench/README.md.

    .venv/bin/python bench/nightly.py --sims 10000
    .venv/bin/python bench/nightly.py --sims 100000 --scenarios generous --no-baseline --time-cap 3600
    .venv/bin/python bench/nightly.py --sims 100000 --scenarios tight --sources session_events \
        --session-path query --no-baseline

For each scenario (generous: 60,000 calls/min per API; tight: 1,200) and each daily source it
loads yesterday (UTC) in a fresh process through Dagster and prints: API calls by operation,
429s, wall time, the floor (calls needed / allowed rate), wall/floor, rows written, rows/s,
the load's peak RSS and the sandbox's CPU time; then the naive baseline of the same source
on the same sandbox, and our time / baseline time.

`--session-path query|api|both` picks how session_events loads (SORACOM_SESSION_EVENTS_PATH of
the load; the sandbox's operator gets Soracom Query for `query`/`both`); `both` loads the day
both ways and prints their API calls side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # `python bench/nightly.py` puts bench/ first, not the repo
    sys.path.insert(0, str(REPO))

import psutil  # noqa: E402

from bench.load_one import SOURCES  # noqa: E402
from sandbox.process import ProcessSandbox, start_sandbox_process  # noqa: E402

SCENARIOS = {"generous": 60_000, "tight": 1_200}  # calls per minute per API (operationId)
SESSION_PATHS = {"query": ("query",), "api": ("api",), "both": ("query", "api")}


@dataclass
class SourceRun:
    """One source loaded once (ours or the baseline) and what the sandbox saw meanwhile."""

    source: str
    scenario: str
    kind: str  # "ours" | "baseline"
    limit_per_minute: int
    session_path: str | None = None  # session_events only: "query" | "api"
    wall_s: float | None = None
    rows: int = 0
    calls_by_operation: dict[str, int] = field(default_factory=dict)
    http_429: int = 0
    peak_rss_mb: float | None = None
    sandbox_cpu_s: float = 0.0
    error: str | None = None

    @property
    def calls(self) -> int:
        return sum(self.calls_by_operation.values())

    @property
    def label(self) -> str:
        return f"{self.source} via {self.session_path}" if self.session_path else self.source

    @property
    def floor_s(self) -> float:
        """Calls needed / allowed rate: every operation has its own per-minute budget, and a
        source's operations run one after the other (list first, then fan out), so the
        floors of its operations add up. Calls answered 429 were not needed."""
        needed = dict(self.calls_by_operation)
        if needed and self.http_429:
            busiest = max(needed, key=lambda op: needed[op])
            needed[busiest] = max(0, needed[busiest] - self.http_429)
        return sum(n * 60.0 / self.limit_per_minute for n in needed.values())

    @property
    def rows_per_s(self) -> float | None:
        return self.rows / self.wall_s if self.wall_s else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "scenario": self.scenario,
            "kind": self.kind,
            "session_path": self.session_path,
            "limit_per_minute": self.limit_per_minute,
            "wall_s": self.wall_s,
            "rows": self.rows,
            "calls": self.calls,
            "calls_by_operation": self.calls_by_operation,
            "http_429": self.http_429,
            "floor_s": self.floor_s,
            "peak_rss_mb": self.peak_rss_mb,
            "sandbox_cpu_s": self.sandbox_cpu_s,
            "error": self.error,
        }


class Deadline:
    """The time cap of the whole invocation."""

    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        return self.end - time.monotonic()


def _cpu_s(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def _post(sandbox: ProcessSandbox, path: str) -> None:
    import httpx

    httpx.post(sandbox.url + path).raise_for_status()


def run_source(
    sandbox: ProcessSandbox,
    server: psutil.Process,
    *,
    source: str,
    scenario: str,
    day: str,
    baseline: bool,
    concurrency: int,
    lake: Path,
    deadline: Deadline,
    session_path: str | None = None,
) -> SourceRun:
    """Load one source in a child process, with fresh rate-limit windows and server counters."""
    limit = SCENARIOS[scenario]
    run = SourceRun(source, scenario, "baseline" if baseline else "ours", limit, session_path)
    if deadline.left() < 5:
        run.error = "skipped: time cap reached"
        return run
    _post(sandbox, "/_sandbox/ratelimit/reset")
    _post(sandbox, "/_sandbox/stats/reset")
    cpu_before = _cpu_s(server)
    args = [
        sys.executable,
        "-m",
        "bench.load_one",
        "--source",
        source,
        "--day",
        day,
        "--url",
        sandbox.url,
        "--auth-key-id",
        sandbox.credentials["authKeyId"],
        "--auth-key",
        sandbox.credentials["authKey"],
        "--lake",
        str(lake / f"{scenario}-{run.kind}{'-' + session_path if session_path else ''}"),
        "--concurrency",
        str(concurrency),
        *(["--baseline"] if baseline else []),
    ]
    env = {**os.environ, "SORACOM_SESSION_EVENTS_PATH": session_path or "api"}
    result, run.error = run_child(args, deadline, env)
    run.sandbox_cpu_s = _cpu_s(server) - cpu_before
    if result is None:
        return run
    run.wall_s = result["wall_s"]
    run.rows = int(result["rows"] or 0)
    run.peak_rss_mb = result["peak_rss_mb"]
    # the server's count is the truth (it also sees calls a client might not count)
    run.calls_by_operation, run.http_429 = server_calls(sandbox)
    return run


def run_child(
    args: list[str], deadline: Deadline, env: dict[str, str] | None = None
) -> tuple[dict[str, Any] | None, str | None]:
    """Run one benchmark child process within the time cap; it prints its result as JSON on its
    last line. Returns (result, None) or (None, why it has none)."""
    try:
        done = subprocess.run(
            args,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=max(5.0, deadline.left()),
            check=False,
            env=env,
        )
    except subprocess.TimeoutExpired:
        return None, "stopped: time cap reached"
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        return None, f"exit {done.returncode}: " + " | ".join(tail)
    return json.loads(done.stdout.strip().splitlines()[-1]), None


def server_calls(sandbox: ProcessSandbox) -> tuple[dict[str, int], int]:
    """API calls by operation (authentication left out) and 429s, as the sandbox counted them."""
    stats = sandbox.get_stats()
    calls = {op: n for op, n in stats["calls"].items() if op not in ("auth", "generateAuthToken")}
    return calls, int(stats["rate_limited"])


# --- output ----------------------------------------------------------------------------------


def _f(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _ops(calls: dict[str, int]) -> str:
    return ", ".join(f"{op} {n:,}" for op, n in sorted(calls.items(), key=lambda kv: -kv[1]))


def format_scenario(scenario: str, ours: list[SourceRun], base: dict[str, SourceRun]) -> str:
    limit = SCENARIOS[scenario]
    lines = [
        f"## {scenario}: {limit:,} calls/min per API",
        "",
        "| source | API calls by operation | 429s | wall s | floor s | wall/floor | rows | rows/s "
        "| peak RSS MB | sandbox CPU s | baseline s | ours/baseline |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in ours:
        b = base.get(run.source)
        ratio = run.wall_s / b.wall_s if (b and b.wall_s and run.wall_s) else None
        wf = run.wall_s / run.floor_s if (run.wall_s and run.floor_s) else None
        note = f" ({run.error})" if run.error else ""
        lines.append(
            f"| {run.label}{note} | {_ops(run.calls_by_operation)} | {run.http_429} | {_f(run.wall_s, 2)} "
            f"| {_f(run.floor_s, 2)} | {_f(wf, 2)} | {run.rows:,} | {_f(run.rows_per_s, 0)} "
            f"| {_f(run.peak_rss_mb, 0)} | {_f(run.sandbox_cpu_s, 1)} "
            f"| {_f(b.wall_s if b else None, 2)}{' (' + b.error + ')' if b and b.error else ''} "
            f"| {_f(ratio, 3)} |"
        )
    paths = {r.session_path: r for r in ours if r.session_path and r.wall_s is not None}
    if len(paths) == 2:
        q, a = paths["query"], paths["api"]
        lines += [
            "",
            f"session_events: {q.calls:,} API calls via Soracom Query ({_ops(q.calls_by_operation)}) "
            f"vs {a.calls:,} via the per-SIM calls; {q.wall_s:,.2f} s vs {a.wall_s:,.2f} s",
        ]
    done = [r for r in ours if r.wall_s is not None]
    total = sum(r.wall_s or 0 for r in done)
    calls = sum(r.calls for r in done)
    http_429 = sum(r.http_429 for r in done)
    lines += [
        "",
        f"whole nightly load: {total:,.2f} s, {calls:,} calls, {http_429} answered 429"
        f" ({100 * http_429 / calls if calls else 0:.2f} %)",
    ]
    if base and all(b.wall_s for b in base.values()) and len(base) == len(ours):
        base_total = sum(b.wall_s or 0 for b in base.values())
        base_calls = sum(b.calls for b in base.values())
        lines.append(
            f"naive baseline: {base_total:,.2f} s, {base_calls:,} calls; ours/baseline "
            f"{total / base_total:.3f} ({base_total / total:.1f}x faster)"
        )
    return "\n".join(lines)


# --- main ------------------------------------------------------------------------------------


def run_job(
    sandbox: ProcessSandbox,
    scenario: str,
    now: datetime,
    day: str,
    ours: list[SourceRun],
    root: Path,
    concurrency: int,
    executor: str = "in_process",
) -> dict[str, Any]:
    """One real `daily_load_job` run of `day` (bench/daily_job.py: the shipped executor, or
    `executor` as `bench.daily_job --executor` names them; the
    sources' concurrency, a prepared instance), with fresh rate-limit windows, against the
    target: no slower than the sum of the per-source floors plus 10 s. The job also loads
    error_logs, which the per-source runs do not, so its floor is not in the sum."""
    from bench.daily_job import run_once

    _post(sandbox, "/_sandbox/ratelimit/reset")
    _post(sandbox, "/_sandbox/stats/reset")
    floors = sum(run.floor_s for run in ours if run.error is None)
    result: dict[str, Any] = {"scenario": scenario}
    if ours:  # without the per-source runs (bench.dlt_nightly --whole-only) the floors are unknown
        result.update(floors_sum_s=round(floors, 1), target_s=round(floors + 10, 1))
    try:
        result.update(
            run_once(
                sandbox.url, sandbox.credentials, now, day, root, concurrency=concurrency, executor=executor
            )
        )
    except SystemExit as error:  # the job failed: report it like a failed source
        result["error"] = str(error)[-2000:]
    else:
        calls_by_operation, result["http_429"] = server_calls(sandbox)
        result["calls"] = sum(calls_by_operation.values())
        if ours:
            result["met"] = result["wall_s"] <= result["target_s"]
    print(f"  {scenario} daily_load_job (one real run): {json.dumps(result)}", flush=True)
    if "met" in result:
        print(
            f"\n{scenario}: daily_load_job {result['wall_s']:.2f} s (start-up {result['startup_s']:.2f}, "
            f"steps {result['steps_s']:.2f}, between steps {result['between_steps_s']:.2f}, "
            f"exit {result['tail_s']:.2f}; {result['cpu_s']:.2f} s CPU) vs target {result['target_s']:.1f} s "
            f"(floors {result['floors_sum_s']:.1f} s + 10 s): {'met' if result['met'] else 'missed'}\n",
            flush=True,
        )
    return result


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sims", type=int, default=1000, help="SIMs in the sandbox (default 1000)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--scenarios", default="generous,tight", help="comma-separated: generous, tight (default both)"
    )
    parser.add_argument("--sources", default=",".join(SOURCES), help="comma-separated daily sources")
    parser.add_argument(
        "--session-path",
        choices=sorted(SESSION_PATHS),
        default="api",
        help="session_events through Soracom Query, the per-SIM calls (default) or both",
    )
    parser.add_argument("--latency-ms", type=float, default=30.0, help="sandbox latency per call")
    parser.add_argument("--jitter-ms", type=float, default=10.0, help="plus uniform random 0..jitter")
    parser.add_argument("--concurrency", type=int, default=32, help="our client's max_concurrency")
    parser.add_argument(
        "--baseline-scenarios", default="generous", help="scenarios that also run the naive baseline"
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip the naive baseline")
    parser.add_argument("--now", default=None, help="sandbox 'now' (default: this hour, UTC)")
    parser.add_argument("--time-cap", type=float, default=3600.0, help="stop after this many seconds")
    parser.add_argument("--json", type=Path, default=None, help="also write every figure to this file")
    parser.add_argument("--keep-lake", type=Path, default=None, help="write the lake here (kept)")
    parser.add_argument(
        "--job",
        action="store_true",
        help="also run the real daily_load_job once per scenario (dagster job execute: executor, "
        "every daily source, checks and catalog) and compare it with the sum of the sources' floors",
    )
    args = parser.parse_args(argv)
    for name in ("scenarios", "baseline_scenarios"):
        names = [s for s in getattr(args, name).split(",") if s]
        unknown = set(names) - set(SCENARIOS)
        if unknown:
            parser.error(f"--{name.replace('_', '-')}: unknown {sorted(unknown)}; use {', '.join(SCENARIOS)}")
        setattr(args, name, names)
    args.sources = [s for s in args.sources.split(",") if s]
    unknown = set(args.sources) - set(SOURCES)
    if unknown:
        parser.error(f"--sources: unknown {sorted(unknown)}; daily sources are {', '.join(SOURCES)}")
    if args.sims < 1:
        parser.error("--sims must be at least 1")
    return args


def sandbox_now_and_day(text: str | None) -> tuple[datetime, str]:
    """The sandbox's `now` (`--now`, default this hour) and the day loaded: the one before."""
    now = (
        datetime.fromisoformat(text.replace("Z", "+00:00"))
        if text
        else datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    )
    return now, (now - timedelta(days=1)).strftime("%Y-%m-%d")


def bench_sandbox(args: argparse.Namespace, now: datetime) -> AbstractContextManager[ProcessSandbox]:
    """The sandbox process both nightly benchmarks load from: their fleet, latency and the first
    scenario's rate limit (later scenarios change it through the sandbox's admin API)."""
    return start_sandbox_process(
        sims=args.sims,
        seed=args.seed,
        now=now,
        latency_ms=args.latency_ms,
        jitter_ms=args.jitter_ms,
        rate_limit_per_minute=SCENARIOS[args.scenarios[0]],
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    deadline = Deadline(args.time_cap)
    now, day = sandbox_now_and_day(args.now)
    print(
        f"# nightly load benchmark: {args.sims:,} SIMs, day {day}, sandbox now {now:%Y-%m-%dT%H:%MZ}, "
        f"latency {args.latency_ms:g} ms + 0..{args.jitter_ms:g} ms jitter, concurrency {args.concurrency}, "
        f"{psutil.cpu_count()} cores, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        flush=True,
    )
    results: list[SourceRun] = []
    jobs: list[dict[str, Any]] = []
    started = time.perf_counter()
    with (
        tempfile.TemporaryDirectory(prefix="bench-lake-") as tmp,
        bench_sandbox(args, now) as sandbox,
    ):
        lake = args.keep_lake or Path(tmp)
        server = psutil.Process(sandbox.pid)
        sandbox.update_settings(record_calls=False)  # the audit log would grow for every call
        if "query" in SESSION_PATHS[args.session_path]:
            sandbox.update_settings(query_enabled=True)  # the operator has Soracom Query
        for scenario in args.scenarios:
            sandbox.update_settings(rate_limit_per_minute=SCENARIOS[scenario])
            ours: list[SourceRun] = []
            base: dict[str, SourceRun] = {}
            for source in args.sources:
                common = dict(
                    source=source,
                    scenario=scenario,
                    day=day,
                    concurrency=args.concurrency,
                    lake=lake,
                    deadline=deadline,
                )
                paths = SESSION_PATHS[args.session_path] if source == "session_events" else (None,)
                for path in paths:
                    run = run_source(sandbox, server, baseline=False, session_path=path, **common)
                    ours.append(run)
                    print(f"  {scenario} {run.label}: {json.dumps(run.as_dict())}", flush=True)
                if not args.no_baseline and scenario in args.baseline_scenarios:
                    base[source] = run_source(sandbox, server, baseline=True, **common)
                    print(f"  {scenario} {source} baseline: {json.dumps(base[source].as_dict())}", flush=True)
            results += [*ours, *base.values()]
            print("\n" + format_scenario(scenario, ours, base) + "\n", flush=True)
            if args.job:
                root = Path(tmp) / f"job-{scenario}"
                jobs.append(run_job(sandbox, scenario, now, day, ours, root, args.concurrency))
        server_cpu = _cpu_s(server)
        server_rss = server.memory_info().rss / 2**20
    print(
        f"sandbox process: {server_cpu:,.1f} s CPU in total, {server_rss:,.0f} MB RSS at the end; "
        f"benchmark wall time {time.perf_counter() - started:,.0f} s",
        flush=True,
    )
    if args.json:
        args.json.write_text(
            json.dumps(
                {"sims": args.sims, "day": day, "runs": [r.as_dict() for r in results], "jobs": jobs},
                indent=1,
            )
        )
    return 1 if any(r.error for r in results) or any(j.get("error") for j in jobs) else 0


if __name__ == "__main__":
    sys.exit(main())
