"""Our nightly load against an equivalent dlt `rest_api` pipeline (`bench/dlt_source.py`), side
by side on one sandbox process: same day, same latency and jitter, same rate limits.

    .venv/bin/pip install -e '.[bench]'     # dlt, once
    .venv/bin/python bench/dlt_nightly.py --sims 1000
    .venv/bin/python bench/dlt_nightly.py --sims 10000 --whole --job

For each scenario (generous: 60,000 calls/min per API; tight: 1,200) and each daily source,
ours (`bench/load_one.py`: the real asset through `dagster.materialize`, a fresh process) then
dlt's (`bench/dlt_source.py`, a fresh process), each after a reset of the sandbox's rate-limit
windows and counters. Printed: wall time, API calls and 429s as the server counted them, rows
of each side (they must be equal), and dlt/ours. With `--whole`, dlt also loads every source in
one `pipeline.run` (its resources extracted concurrently); with `--job`, our real
`daily_load_job` (`bench/daily_job.py`) runs once per scenario beside it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # `python bench/dlt_nightly.py` puts bench/ first, not the repo
    sys.path.insert(0, str(REPO))

import psutil  # noqa: E402

from bench.load_one import SOURCES  # noqa: E402
from bench.nightly import SCENARIOS, Deadline, SourceRun, _cpu_s, _f, _post, run_job, run_source  # noqa: E402
from sandbox.process import ProcessSandbox, start_sandbox_process  # noqa: E402


@dataclass
class DltRun:
    """One dlt `pipeline.run` (one source or all) and what the sandbox saw meanwhile."""

    sources: list[str]
    scenario: str
    wall_s: float | None = None
    rows: dict[str, int] = field(default_factory=dict)
    calls_by_operation: dict[str, int] = field(default_factory=dict)
    http_429: int = 0
    peak_rss_mb: float | None = None
    sandbox_cpu_s: float = 0.0
    error: str | None = None

    @property
    def calls(self) -> int:
        return sum(self.calls_by_operation.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": "dlt",
            "sources": self.sources,
            "scenario": self.scenario,
            "wall_s": self.wall_s,
            "rows": self.rows,
            "calls": self.calls,
            "calls_by_operation": self.calls_by_operation,
            "http_429": self.http_429,
            "peak_rss_mb": self.peak_rss_mb,
            "sandbox_cpu_s": self.sandbox_cpu_s,
            "error": self.error,
        }


def run_dlt(
    sandbox: ProcessSandbox,
    server: psutil.Process,
    *,
    sources: list[str],
    scenario: str,
    day: str,
    workers: int,
    out: Path,
    deadline: Deadline,
) -> DltRun:
    """Run `bench.dlt_source` in a child process, with fresh rate-limit windows and counters."""
    run = DltRun(sources, scenario)
    if deadline.left() < 5:
        run.error = "skipped: time cap reached"
        return run
    _post(sandbox, "/_sandbox/ratelimit/reset")
    _post(sandbox, "/_sandbox/stats/reset")
    cpu_before = _cpu_s(server)
    args = [
        *(sys.executable, "-m", "bench.dlt_source", "--day", day, "--url", sandbox.url),
        *("--auth-key-id", sandbox.credentials["authKeyId"]),
        *("--auth-key", sandbox.credentials["authKey"]),
        *("--out", str(out), "--workers", str(workers)),
        *(arg for source in sources for arg in ("--source", source)),
    ]
    try:
        done = subprocess.run(
            args, cwd=REPO, capture_output=True, text=True, timeout=max(5.0, deadline.left()), check=False
        )
    except subprocess.TimeoutExpired:
        run.error = "stopped: time cap reached"
        return run
    finally:
        run.sandbox_cpu_s = _cpu_s(server) - cpu_before
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        run.error = f"exit {done.returncode}: " + " | ".join(tail)
        return run
    result = json.loads(done.stdout.strip().splitlines()[-1])
    server_stats = sandbox.get_stats()
    run.wall_s = result["wall_s"]
    run.rows = {k: int(v) for k, v in result["rows"].items()}
    run.peak_rss_mb = result["peak_rss_mb"]
    # dlt's /auth is in its wall time (one call); ours authenticates inside `materialize` too
    run.calls_by_operation = {
        op: n for op, n in server_stats["calls"].items() if op not in ("auth", "generateAuthToken")
    }
    run.http_429 = int(server_stats["rate_limited"])
    return run


# --- output ----------------------------------------------------------------------------------


def format_scenario(scenario: str, ours: list[SourceRun], dlt: list[DltRun], whole: DltRun | None) -> str:
    """The side-by-side table of one scenario, its totals and (with --whole) dlt's one-run load."""
    lines = [
        f"## {scenario}: {SCENARIOS[scenario]:,} calls/min per API",
        "",
        "| source | ours s | ours calls | ours 429s | dlt s | dlt calls | dlt 429s | rows ours | rows dlt "
        "| rows equal | dlt/ours |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for mine, theirs in zip(ours, dlt, strict=True):
        rows_dlt = theirs.rows.get(mine.source)
        equal = "yes" if rows_dlt == mine.rows and not (mine.error or theirs.error) else "NO"
        ratio = theirs.wall_s / mine.wall_s if (mine.wall_s and theirs.wall_s) else None
        errors = "; ".join(f"{who}: {e}" for who, e in (("ours", mine.error), ("dlt", theirs.error)) if e)
        lines.append(
            f"| {mine.source}{f' ({errors})' if errors else ''} | {_f(mine.wall_s, 2)} | {mine.calls:,} "
            f"| {mine.http_429} | {_f(theirs.wall_s, 2)} | {theirs.calls:,} | {theirs.http_429} "
            f"| {mine.rows:,} | {_f(rows_dlt, 0)} | {equal} | {_f(ratio, 2)} |"
        )
    if all(r.wall_s for r in ours) and all(r.wall_s for r in dlt):
        total_ours = sum(r.wall_s or 0 for r in ours)
        total_dlt = sum(r.wall_s or 0 for r in dlt)
        lines += [
            "",
            f"sum of the per-source loads: ours {total_ours:,.2f} s, {sum(r.calls for r in ours):,} calls, "
            f"{sum(r.http_429 for r in ours)} answered 429; dlt {total_dlt:,.2f} s, "
            f"{sum(r.calls for r in dlt):,} calls, {sum(r.http_429 for r in dlt)} answered 429; "
            f"dlt/ours {total_dlt / total_ours:.2f}",
        ]
    if whole is not None:
        equal = all(whole.rows.get(r.source) == r.rows for r in ours)
        rows = "equal to ours" if equal else f"DIFFER: {whole.rows}"
        lines.append(
            f"dlt, every source in one pipeline.run: {_f(whole.wall_s, 2)} s, {whole.calls:,} calls, "
            f"{whole.http_429} answered 429, rows {rows}"
            f"{' (' + whole.error + ')' if whole.error else ''}"
        )
    return "\n".join(lines)


# --- main ------------------------------------------------------------------------------------


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
    parser.add_argument("--latency-ms", type=float, default=30.0, help="sandbox latency per call")
    parser.add_argument("--jitter-ms", type=float, default=10.0, help="plus uniform random 0..jitter")
    parser.add_argument(
        "--concurrency", type=int, default=32, help="our client's max_concurrency and dlt's extract workers"
    )
    parser.add_argument("--now", default=None, help="sandbox 'now' (default: this hour, UTC)")
    parser.add_argument("--time-cap", type=float, default=7200.0, help="stop after this many seconds")
    parser.add_argument("--json", type=Path, default=None, help="also write every figure to this file")
    parser.add_argument("--whole", action="store_true", help="also dlt: every source in one pipeline.run")
    parser.add_argument("--job", action="store_true", help="also our real daily_load_job, once per scenario")
    args = parser.parse_args(argv)
    args.scenarios = [s for s in args.scenarios.split(",") if s]
    if unknown := set(args.scenarios) - set(SCENARIOS):
        parser.error(f"--scenarios: unknown {sorted(unknown)}; use {', '.join(SCENARIOS)}")
    args.sources = [s for s in args.sources.split(",") if s]
    if unknown := set(args.sources) - set(SOURCES):
        parser.error(f"--sources: unknown {sorted(unknown)}; daily sources are {', '.join(SOURCES)}")
    if args.sims < 1:
        parser.error("--sims must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    deadline = Deadline(args.time_cap)
    now = (
        datetime.fromisoformat(args.now.replace("Z", "+00:00"))
        if args.now
        else datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    )
    day = (now - timedelta(days=1)).strftime("%Y-%m-%d")
    print(
        f"# ours vs dlt rest_api: {args.sims:,} SIMs, day {day}, sandbox now {now:%Y-%m-%dT%H:%MZ}, "
        f"latency {args.latency_ms:g} ms + 0..{args.jitter_ms:g} ms jitter, concurrency/workers "
        f"{args.concurrency}, {psutil.cpu_count()} cores, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        flush=True,
    )
    runs: list[dict[str, Any]] = []
    jobs: list[dict[str, Any]] = []
    failed = False
    started = time.perf_counter()
    with (
        tempfile.TemporaryDirectory(prefix="bench-dlt-") as tmp,
        start_sandbox_process(
            sims=args.sims,
            seed=args.seed,
            now=now,
            latency_ms=args.latency_ms,
            jitter_ms=args.jitter_ms,
            rate_limit_per_minute=SCENARIOS[args.scenarios[0]],
        ) as sandbox,
    ):
        root = Path(tmp)
        server = psutil.Process(sandbox.pid)
        sandbox.update_settings(record_calls=False)  # the audit log would grow for every call
        for scenario in args.scenarios:
            sandbox.update_settings(rate_limit_per_minute=SCENARIOS[scenario])
            ours: list[SourceRun] = []
            dlt: list[DltRun] = []
            for source in args.sources:
                mine = run_source(
                    sandbox,
                    server,
                    source=source,
                    scenario=scenario,
                    day=day,
                    baseline=False,
                    concurrency=args.concurrency,
                    lake=root / "ours",
                    deadline=deadline,
                )
                print(f"  {scenario} {source} ours: {json.dumps(mine.as_dict())}", flush=True)
                theirs = run_dlt(
                    sandbox,
                    server,
                    sources=[source],
                    scenario=scenario,
                    day=day,
                    workers=args.concurrency,
                    out=root / "dlt" / f"{scenario}-{source}",
                    deadline=deadline,
                )
                print(f"  {scenario} {source} dlt: {json.dumps(theirs.as_dict())}", flush=True)
                ours.append(mine)
                dlt.append(theirs)
                failed |= bool(mine.error or theirs.error) or theirs.rows.get(source) != mine.rows
            whole = None
            if args.whole:
                whole = run_dlt(
                    sandbox,
                    server,
                    sources=args.sources,
                    scenario=scenario,
                    day=day,
                    workers=args.concurrency,
                    out=root / "dlt" / f"{scenario}-whole",
                    deadline=deadline,
                )
                print(f"  {scenario} whole dlt: {json.dumps(whole.as_dict())}", flush=True)
                failed |= bool(whole.error)
            runs += [r.as_dict() for r in ours] + [r.as_dict() for r in dlt]
            runs += [whole.as_dict()] if whole else []
            print("\n" + format_scenario(scenario, ours, dlt, whole) + "\n", flush=True)
            if args.job:
                job = run_job(sandbox, scenario, now, day, ours, root / f"job-{scenario}")
                jobs.append(job)
                failed |= bool(job.get("error"))
                if whole is not None and whole.wall_s and job.get("wall_s"):
                    print(
                        f"{scenario}: our daily_load_job {job['wall_s']:,.1f} s (error_logs and checks "
                        f"included) vs dlt's one run {whole.wall_s:,.1f} s: dlt/ours "
                        f"{whole.wall_s / job['wall_s']:.2f}\n",
                        flush=True,
                    )
        server_cpu = _cpu_s(server)
    print(
        f"sandbox process: {server_cpu:,.1f} s CPU in total; benchmark wall time "
        f"{time.perf_counter() - started:,.0f} s",
        flush=True,
    )
    if args.json:
        figures = {"sims": args.sims, "day": day, "runs": runs, "jobs": jobs}
        args.json.write_text(json.dumps(figures, indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
