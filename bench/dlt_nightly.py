"""Our nightly load against an equivalent dlt `rest_api` pipeline (`bench/dlt_source.py`), side
by side on one sandbox process: same day, same latency and jitter, same rate limits.

    .venv/bin/pip install -e '.[bench]'     # dlt, once
    .venv/bin/python bench/dlt_nightly.py --sims 1000
    .venv/bin/python bench/dlt_nightly.py --sims 10000 --whole --job

For each scenario (generous: 60,000 calls/min per API; tight: 1,200) and each daily source,
ours (`bench/load_one.py`: the real asset through `dagster.materialize`, a fresh process) and
dlt's (`bench/dlt_source.py`, a fresh process), `--rounds` times each in alternating order, each
after a reset of the sandbox's rate-limit windows and counters. Printed: median and per-round
wall time, API calls and 429s as the server counted them, each side's process CPU, rows of
each side (they must be equal in every round, else exit status 1), and dlt/ours. With
`--whole`, dlt also loads every source in one `pipeline.run` (its resources extracted
concurrently); with `--job`, our real `daily_load_job` (`bench/daily_job.py`) runs once per
scenario beside it.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
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
from bench.nightly import (  # noqa: E402
    SCENARIOS,
    Deadline,
    SourceRun,
    _cpu_s,
    _f,
    _post,
    bench_sandbox,
    run_child,
    run_job,
    run_source,
    sandbox_now_and_day,
    server_calls,
)
from sandbox.process import ProcessSandbox  # noqa: E402


@dataclass
class DltRun:
    """One dlt `pipeline.run` (one source or all) and what the sandbox saw meanwhile."""

    sources: list[str]
    scenario: str
    wall_s: float | None = None
    process_wall_s: float | None = None  # the child process from spawn to exit: imports included
    cpu_s: float | None = None  # the child process's CPU, imports included
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
            "process_wall_s": self.process_wall_s,
            "cpu_s": self.cpu_s,
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
    spawned, cpu_spawned = time.perf_counter(), child_cpu_s()
    result, run.error = run_child(args, deadline)
    run.process_wall_s = time.perf_counter() - spawned
    run.cpu_s = child_cpu_s() - cpu_spawned
    run.sandbox_cpu_s = _cpu_s(server) - cpu_before
    if result is None:
        return run
    run.wall_s = result["wall_s"]
    run.rows = {k: int(v) for k, v in result["rows"].items()}
    run.peak_rss_mb = result["peak_rss_mb"]
    # dlt's /auth is in its wall time (one call); ours authenticates inside `materialize` too
    run.calls_by_operation, run.http_429 = server_calls(sandbox)
    return run


HISTORY_SOURCES = ("air_traffic_daily", "air_traffic_5min")  # the sources that read the lake's history


def seed_history(sandbox: ProcessSandbox, day: str, lake: Path, concurrency: int, deadline: Deadline) -> None:
    """Load the day before `day` of the export sources into `lake`, untimed: a deployment's lake
    holds the night before, and the exports size themselves on it (sync when small)."""
    before = (datetime.fromisoformat(day) - timedelta(days=1)).strftime("%Y-%m-%d")
    for source in HISTORY_SOURCES:
        args = [
            *(sys.executable, "-m", "bench.load_one", "--source", source, "--day", before),
            *("--url", sandbox.url, "--auth-key-id", sandbox.credentials["authKeyId"]),
            *("--auth-key", sandbox.credentials["authKey"], "--lake", str(lake)),
            *("--concurrency", str(concurrency)),
        ]
        result, error = run_child(args, deadline)
        if result is None:
            raise SystemExit(f"seeding the lake's history ({source} {before}) failed: {error}")
    (lake / "catalog.duckdb").unlink(missing_ok=True)  # each run builds its own


def with_history(history: Path | None, lake: Path) -> Path:
    """`lake` holding a copy of the seeded history (if any): each timed run starts from it."""
    if history is not None and not lake.exists():
        shutil.copytree(history, lake)
    return lake


def child_cpu_s() -> float:
    """CPU seconds of this process's finished children: a load's process, imports included."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Pair:
    """One source loaded `rounds` times by each side, the order alternating between rounds (a
    sandbox cache warmed by the first run, or a busy moment of a shared machine, favours neither)."""

    source: str
    ours: list[SourceRun] = field(default_factory=list)
    dlt: list[DltRun] = field(default_factory=list)
    ours_cpu_s: list[float] = field(default_factory=list)
    dlt_cpu_s: list[float] = field(default_factory=list)

    @staticmethod
    def _median(values: list[float | None]) -> float | None:
        done = [v for v in values if v is not None]
        return statistics.median(done) if done and len(done) == len(values) else None

    @property
    def ours_s(self) -> float | None:
        return self._median([r.wall_s for r in self.ours])

    @property
    def dlt_s(self) -> float | None:
        return self._median([r.wall_s for r in self.dlt])

    @property
    def errors(self) -> list[str]:
        return [f"ours: {r.error}" for r in self.ours if r.error] + [
            f"dlt: {r.error}" for r in self.dlt if r.error
        ]

    @property
    def rows_equal(self) -> bool:
        rows = {r.rows for r in self.ours} | {r.rows.get(self.source, -1) for r in self.dlt}
        return len(rows) == 1 and not self.errors

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "ours": [r.as_dict() for r in self.ours],
            "dlt": [r.as_dict() for r in self.dlt],
            "ours_cpu_s": self.ours_cpu_s,
            "dlt_cpu_s": self.dlt_cpu_s,
            "ours_median_s": self.ours_s,
            "dlt_median_s": self.dlt_s,
            "rows_equal": self.rows_equal,
        }


# --- output ----------------------------------------------------------------------------------


def _walls(runs: list[Any]) -> str:
    return "/".join(_f(r.wall_s, 1) for r in runs)


def format_scenario(scenario: str, pairs: list[Pair], whole: DltRun | None) -> str:
    """The side-by-side table of one scenario, its totals and (with --whole) dlt's one-run load."""
    lines = [
        f"## {scenario}: {SCENARIOS[scenario]:,} calls/min per API",
        "",
        "| source | ours s (median; each round) | dlt s (median; each round) | dlt/ours | ours calls "
        "| dlt calls | ours 429s | dlt 429s | ours CPU s | dlt CPU s | rows (both sides) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for pair in pairs:
        ratio = pair.dlt_s / pair.ours_s if (pair.ours_s and pair.dlt_s) else None
        mine, theirs = pair.ours[-1], pair.dlt[-1]
        rows = f"{mine.rows:,}" if pair.rows_equal else f"DIFFER: ours {mine.rows:,}, dlt {theirs.rows}"
        errors = f" ({'; '.join(pair.errors)})" if pair.errors else ""
        ours_429, dlt_429 = sum(r.http_429 for r in pair.ours), sum(r.http_429 for r in pair.dlt)
        lines.append(
            f"| {pair.source}{errors} | {_f(pair.ours_s, 2)} ({_walls(pair.ours)}) "
            f"| {_f(pair.dlt_s, 2)} ({_walls(pair.dlt)}) | {_f(ratio, 2)} | {mine.calls:,} "
            f"| {theirs.calls:,} | {ours_429} | {dlt_429} "
            f"| {_f(statistics.median(pair.ours_cpu_s), 1)} | {_f(statistics.median(pair.dlt_cpu_s), 1)} "
            f"| {rows} |"
        )
    ours_total = [p.ours_s for p in pairs]
    dlt_total = [p.dlt_s for p in pairs]
    if all(ours_total) and all(dlt_total):
        ours_sum, dlt_sum = sum(v or 0 for v in ours_total), sum(v or 0 for v in dlt_total)
        ours_429 = sum(r.http_429 for p in pairs for r in p.ours)
        dlt_429 = sum(r.http_429 for p in pairs for r in p.dlt)
        lines += [
            "",
            f"sum of the per-source medians: ours {ours_sum:,.2f} s, dlt {dlt_sum:,.2f} s, "
            f"dlt/ours {dlt_sum / ours_sum:.2f}; 429s in all rounds: ours "
            f"{ours_429}, dlt {dlt_429}",
        ]
    if whole is not None:
        equal = all(whole.rows.get(p.source) == p.ours[-1].rows for p in pairs)
        rows = "equal to ours" if equal else f"DIFFER: {whole.rows}"
        lines.append(
            f"dlt, every source in one pipeline.run: {_f(whole.wall_s, 2)} s, {whole.calls:,} calls, "
            f"{whole.http_429} answered 429, rows {rows}"
            f"{' (' + whole.error + ')' if whole.error else ''}"
        )
    return "\n".join(lines)


def format_whole(job: dict[str, Any], whole: DltRun) -> str:
    """Our daily_load_job against dlt's one run, measured alike two ways: each process from
    spawn to exit (imports, start-up and exit included), and the run alone (ours RUN_START to
    RUN_SUCCESS, dlt's `pipeline.run` with its /auth: imports and exit left out)."""
    assert whole.wall_s and whole.process_wall_s
    return (
        f"whole nightly, process to process: our daily_load_job {job['wall_s']:,.2f} s (error_logs, "
        f"checks and catalog included) vs dlt {whole.process_wall_s:,.2f} s: dlt/ours "
        f"{whole.process_wall_s / job['wall_s']:.2f}; the run alone: ours {job['run_s']:,.2f} s vs dlt "
        f"{whole.wall_s:,.2f} s: dlt/ours {whole.wall_s / job['run_s']:.2f}; CPU of the process: ours "
        f"{job['cpu_s']:,.2f} s, dlt {whole.cpu_s or 0:,.2f} s"
    )


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
    parser.add_argument(
        "--rounds", type=int, default=1, help="runs per side and source, order alternating (median shown)"
    )
    parser.add_argument(
        "--export-delay-s",
        type=float,
        default=None,
        help="the sandbox's export_delay_s (how long an async export stays processing; default 0.5)",
    )
    parser.add_argument(
        "--export-sync-max-bytes",
        type=int,
        default=None,
        help="the sandbox's export_sync_max_bytes: a sync export of a bigger file answers a gateway's "
        "504 after 29 s (default 64 MiB; dlt's sync 5-minute export of 10,000 SIMs is ~110 MB)",
    )
    parser.add_argument(
        "--no-history",
        action="store_true",
        help="start our lakes empty (default: they hold the day before of the export sources, "
        "loaded untimed, as a deployment's lake does; the exports size themselves on it)",
    )
    parser.add_argument(
        "--tight-limit",
        type=int,
        default=None,
        help="calls/min per API of the tight scenario (default 1,200): a low one makes a short "
        "rate-bound race, e.g. --sims 1000 --scenarios tight --sources session_events --tight-limit 200",
    )
    parser.add_argument("--whole", action="store_true", help="also dlt: every source in one pipeline.run")
    parser.add_argument("--job", action="store_true", help="also our real daily_load_job, once per scenario")
    parser.add_argument(
        "--whole-only",
        action="store_true",
        help="only the whole nightlies: dlt's one pipeline.run against our daily_load_job, --rounds "
        "times per scenario, order alternating (no per-source pairs)",
    )
    parser.add_argument(
        "--job-executors",
        default="in_process",
        help="with --whole-only: comma-separated executors of our job as bench.daily_job names them "
        "(in_process: the shipped one, steps of different API pools at once; serial: one step at a time)",
    )
    args = parser.parse_args(argv)
    args.scenarios = [s for s in args.scenarios.split(",") if s]
    if unknown := set(args.scenarios) - set(SCENARIOS):
        parser.error(f"--scenarios: unknown {sorted(unknown)}; use {', '.join(SCENARIOS)}")
    args.sources = [s for s in args.sources.split(",") if s]
    if unknown := set(args.sources) - set(SOURCES):
        parser.error(f"--sources: unknown {sorted(unknown)}; daily sources are {', '.join(SOURCES)}")
    if args.sims < 1:
        parser.error("--sims must be at least 1")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if args.tight_limit is not None and args.tight_limit < 1:
        parser.error("--tight-limit must be at least 1 call a minute")
    args.job_executors = [e for e in args.job_executors.split(",") if e]
    from bench.daily_job import EXECUTORS

    if unknown := set(args.job_executors) - set(EXECUTORS):
        parser.error(f"--job-executors: unknown {sorted(unknown)}; use {', '.join(EXECUTORS)}")
    return args


def whole_dlt(
    args: argparse.Namespace, sandbox: ProcessSandbox, scenario: str, day: str, out: Path, deadline: Deadline
) -> DltRun:
    """dlt's whole nightly: every source in one `pipeline.run`."""
    whole = run_dlt(
        sandbox,
        psutil.Process(sandbox.pid),
        sources=args.sources,
        scenario=scenario,
        day=day,
        workers=args.concurrency,
        out=out,
        deadline=deadline,
    )
    print(f"  {scenario} whole dlt: {json.dumps(whole.as_dict())}", flush=True)
    return whole


def whole_rounds(
    args: argparse.Namespace,
    sandbox: ProcessSandbox,
    scenario: str,
    now: datetime,
    day: str,
    root: Path,
    history: Path | None,
    deadline: Deadline,
    jobs: list[dict[str, Any]],
) -> bool:
    """`--whole-only`: per round, dlt's whole nightly and our job once per executor, the order
    turning each round so each side sees the machine alike; then the medians. True if one failed."""
    failed = False
    dlt_runs: list[DltRun] = []
    ours: dict[str, list[dict[str, Any]]] = {e: [] for e in args.job_executors}
    for round_ in range(args.rounds):
        sides = ["dlt", *args.job_executors]
        for side in sides if round_ % 2 == 0 else sides[::-1]:
            if side == "dlt":
                whole = whole_dlt(
                    args, sandbox, scenario, day, root / "dlt" / f"{scenario}-whole-{round_}", deadline
                )
                failed |= bool(whole.error)
                dlt_runs.append(whole)
                continue
            home = root / f"job-{scenario}-{side}-{round_}"
            with_history(history, home / "lake")
            job = run_job(sandbox, scenario, now, day, [], home, args.concurrency, executor=side)
            jobs.append(job)
            failed |= bool(job.get("error"))
            ours[side].append(job)
    for side, runs in ours.items():
        for job, whole in zip(runs, dlt_runs, strict=False):
            if whole.wall_s and whole.process_wall_s and job.get("wall_s"):
                print(f"{scenario} {side}: {format_whole(job, whole)}", flush=True)
    if dlt_runs and all(d.process_wall_s and d.wall_s for d in dlt_runs):
        dlt_process = statistics.median(d.process_wall_s for d in dlt_runs)  # type: ignore[misc]
        dlt_run = statistics.median(d.wall_s for d in dlt_runs)  # type: ignore[misc]
        for side, runs in ours.items():
            done = [j for j in runs if j.get("wall_s")]
            if done:
                wall = statistics.median(j["wall_s"] for j in done)
                run = statistics.median(j["run_s"] for j in done)
                refused = [j.get("http_429", "?") for j in done]
                print(
                    f"{scenario} medians of {len(done)} round(s), {side} (429s per run {refused}): ours "
                    f"{wall:,.2f} s vs dlt "
                    f"{dlt_process:,.2f} s process to process (dlt/ours {dlt_process / wall:.2f}); the run "
                    f"alone {run:,.2f} s vs {dlt_run:,.2f} s (dlt/ours {dlt_run / run:.2f})",
                    flush=True,
                )
    return failed


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.tight_limit is not None:
        SCENARIOS["tight"] = args.tight_limit  # bench.nightly's table: its runs report this limit too
    deadline = Deadline(args.time_cap)
    now, day = sandbox_now_and_day(args.now)
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
        bench_sandbox(args, now) as sandbox,
    ):
        root = Path(tmp)
        server = psutil.Process(sandbox.pid)
        sandbox.update_settings(record_calls=False)  # the audit log would grow for every call
        if args.export_delay_s is not None:
            sandbox.update_settings(export_delay_s=args.export_delay_s)
        if args.export_sync_max_bytes is not None:
            sandbox.update_settings(export_sync_max_bytes=args.export_sync_max_bytes)
        history = None
        if not args.no_history and set(args.sources) & set(HISTORY_SOURCES):
            history = root / "history"
            seed_history(sandbox, day, history, args.concurrency, deadline)
        for scenario in args.scenarios:
            sandbox.update_settings(rate_limit_per_minute=SCENARIOS[scenario])
            if args.whole_only:
                failed |= whole_rounds(args, sandbox, scenario, now, day, root, history, deadline, jobs)
                continue
            pairs: list[Pair] = []
            for source in args.sources:
                pair = Pair(source)
                pairs.append(pair)
                for round_ in range(args.rounds):
                    for side in ("ours", "dlt") if round_ % 2 == 0 else ("dlt", "ours"):
                        cpu_before = child_cpu_s()
                        if side == "ours":
                            with_history(history, root / "ours" / str(round_) / f"{scenario}-ours")
                            mine = run_source(
                                sandbox,
                                server,
                                source=source,
                                scenario=scenario,
                                day=day,
                                baseline=False,
                                concurrency=args.concurrency,
                                lake=root / "ours" / str(round_),
                                deadline=deadline,
                            )
                            pair.ours.append(mine)
                            pair.ours_cpu_s.append(child_cpu_s() - cpu_before)
                            print(f"  {scenario} {source} ours: {json.dumps(mine.as_dict())}", flush=True)
                        else:
                            theirs = run_dlt(
                                sandbox,
                                server,
                                sources=[source],
                                scenario=scenario,
                                day=day,
                                workers=args.concurrency,
                                out=root / "dlt" / f"{scenario}-{source}-{round_}",
                                deadline=deadline,
                            )
                            pair.dlt.append(theirs)
                            pair.dlt_cpu_s.append(child_cpu_s() - cpu_before)
                            print(f"  {scenario} {source} dlt: {json.dumps(theirs.as_dict())}", flush=True)
                failed |= not pair.rows_equal
            whole = None
            if args.whole:
                whole = whole_dlt(args, sandbox, scenario, day, root / "dlt" / f"{scenario}-whole", deadline)
                failed |= bool(whole.error)
            runs += [{"scenario": scenario, **p.as_dict()} for p in pairs]
            runs += [whole.as_dict()] if whole else []
            print("\n" + format_scenario(scenario, pairs, whole) + "\n", flush=True)
            if args.job:
                with_history(history, root / f"job-{scenario}" / "lake")
                job = run_job(
                    sandbox,
                    scenario,
                    now,
                    day,
                    [p.ours[-1] for p in pairs],
                    root / f"job-{scenario}",
                    args.concurrency,
                )
                jobs.append(job)
                failed |= bool(job.get("error"))
                if whole is not None and whole.wall_s and whole.process_wall_s and job.get("wall_s"):
                    print(f"{scenario}: {format_whole(job, whole)}\n", flush=True)
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
