"""Model rebuild vs one DuckDB scan of the same lake.

Fills a lake straight from a sandbox World (no HTTP; the ingestion modules' own typing code,
via testkit/world_lake.py): a year of daily traffic, `--session-days` of session events
and Harvest entries, a day of 5-minute traffic, a day of audit logs, 12 billing months. Then
times (a) DuckDB reading every column of every table once, and (b) rebuilding every SQL model
in order through `build_model`, the function each model asset of the `models_job` calls (staging
models: checked to bind, they are views; marts: materialised with their staging chain inlined),
and prints (b)/(a) (target: under 2).

    .venv/bin/python -m bench.models --sims 10000 --lake /tmp/bench-year-lake
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from assets.models import MODELS
from assets.tables import TABLE_SPECS
from pipelines.lake import Lake, build_model
from pipelines.lake.views import quote_literal
from sandbox.world import World
from testkit.world_lake import LoadPlan, fill_lake

TARGET_RATIO = 2.0


def scan_once(lake: Lake, con: duckdb.DuckDBPyConnection) -> tuple[float, int]:
    """Read and decode every column of every loaded table once (min() of each column)."""
    rows = 0
    started = time.perf_counter()
    for spec in TABLE_SPECS:
        if not lake.partitions(spec):
            continue
        source = f"read_parquet({quote_literal(lake.table_glob(spec))}, hive_partitioning = false)"
        rows += con.execute(f"SELECT count(*) FROM {source}").fetchone()[0]
        con.execute(f"SELECT min(COLUMNS(*)) FROM {source}").fetchall()
    return time.perf_counter() - started, rows


def rebuild_models(lake: Lake, con: duckdb.DuckDBPyConnection) -> tuple[float, dict[str, float]]:
    each: dict[str, float] = {}
    started = time.perf_counter()
    for model in MODELS:  # dependency order
        t = time.perf_counter()
        build_model(lake, model, TABLE_SPECS, MODELS, con)
        each[model.name] = time.perf_counter() - t
    return time.perf_counter() - started, each


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sims", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=365, help="days of daily traffic (default: a year)")
    parser.add_argument("--session-days", type=int, default=32, help="days of session events and Harvest")
    parser.add_argument("--lake", type=Path, required=True, help="lake folder (reused if already filled)")
    parser.add_argument("--now", default="2026-11-30T02:00:00Z")
    args = parser.parse_args(argv)
    lake = Lake(args.lake)
    marker = args.lake / f".filled-{args.sims}-{args.days}-{args.session_days}"
    if not marker.exists():
        now = datetime.fromisoformat(args.now.replace("Z", "+00:00")).astimezone(UTC)
        world = World(seed=42, sims=args.sims, now=now)
        started = time.perf_counter()
        plan = LoadPlan(
            traffic_days=args.days,
            session_days=args.session_days,
            minute_days=1,
            audit_days=1,
            billing_months=12,
        )
        fill_lake(lake, world, plan)
        marker.touch()
        print(f"filled the lake in {time.perf_counter() - started:.0f} s", flush=True)
    con = duckdb.connect()
    scan_s, rows = scan_once(lake, con)
    scan_again_s, _ = scan_once(lake, con)  # warm cache, like the rebuild gets
    rebuild_s, each = rebuild_models(lake, con)
    scan = min(scan_s, scan_again_s)
    print(f"# model rebuild vs one scan: {args.sims:,} SIMs, {args.days} days of traffic, {rows:,} rows")
    print("| step | seconds |")
    print("|---|---|")
    print(f"| DuckDB scan of every column of every table (best of 2) | {scan:.2f} |")
    marts = sum(1 for m in MODELS if m.materialised)
    print(f"| rebuild of {len(each)} models ({marts} marts materialised) | {rebuild_s:.2f} |")
    for name, seconds in sorted(each.items(), key=lambda kv: -kv[1])[:5]:
        print(f"| - {name} | {seconds:.2f} |")
    staging = [m.name for m in MODELS if not m.materialised]
    print(f"| - the {len(staging)} staging views, bound (no scan) | {sum(each[n] for n in staging):.2f} |")
    ratio = rebuild_s / scan if scan else float("nan")
    verdict = "meets" if ratio < TARGET_RATIO else "misses"
    print(f"\nrebuild / scan = {ratio:.2f} ({verdict} the target of < {TARGET_RATIO:g})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
