"""Model rebuild vs one DuckDB scan of the same lake, full and incremental.

Fills a lake straight from a sandbox World (no HTTP; the ingestion modules' own typing code,
via testkit/world_lake.py): a year of daily traffic, `--session-days` of session events
and Harvest entries, a day of 5-minute traffic, a day of audit logs, 12 billing months. Then
times (a) DuckDB reading every column of every table once, and (b) a full rebuild of every SQL
model in order through `build_model`, the function each model asset of the `models_job` calls
(staging models: checked to bind, they are views; marts: materialised with their staging chain
inlined), and prints (b)/(a) (target: under 2).

Then the nightly incremental case: the last two days' daily sources (daily and 5-minute traffic,
session events, Harvest, error logs) are removed and the models caught up, the day before is
loaded again and the models built (the night before), then the last day, as the nightly load
would, and (c) the incremental build is timed against (d) DuckDB reading every column of that
day's input files once; prints (c)/(d) (target: at most 2), and beside it a floor no incremental
design can go under: (d) plus publishing durably only the rows the build changed (one Parquet and
one state file per changed mart, no query), and that plus the marts' own queries as the build ran them.

    .venv/bin/python -m bench.models --sims 10000 --lake /tmp/bench-year-lake
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from assets.models import MODELS
from assets.tables import TABLE_SPECS
from pipelines.lake import Lake, build_model
from pipelines.lake.incremental import MartBuild
from pipelines.lake.lake import COMPRESSION
from pipelines.lake.views import quote_identifier, quote_literal
from sandbox.world import World
from testkit.world_lake import (
    LoadPlan,
    closed_days,
    fill_lake,
    load_minutes_day,
    load_session_day,
    load_traffic_day,
)

TARGET_RATIO = 2.0
INCREMENTAL_TARGET = 2.0
# What the nightly load writes for a new day (the daily load job's sources, plus error logs).
UNREAD_BY_MARTS = ("air_traffic_5min", "error_logs")
NIGHTLY_TABLES = ("air_traffic_daily", "air_traffic_5min", "session_events", "harvest_entries", "error_logs")
FLOOR_FOLDER = "_bench_floor"


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


def scan_files(lake: Lake, con: duckdb.DuckDBPyConnection, files: dict[str, list[str]]) -> float:
    """Read and decode every column of the given partition files once (min() of each column)."""
    started = time.perf_counter()
    for keys in files.values():
        listed = ", ".join(quote_literal(lake.storage.uri(k)) for k in keys)
        con.execute(
            f"SELECT min(COLUMNS(*)) FROM read_parquet([{listed}], hive_partitioning = false)"
        ).fetchall()
    return time.perf_counter() - started


def rebuild_models(
    lake: Lake, con: duckdb.DuckDBPyConnection, full_refresh: bool = True
) -> tuple[float, dict[str, float], dict[str, object]]:
    each: dict[str, float] = {}
    results: dict[str, object] = {}
    started = time.perf_counter()
    for model in MODELS:  # dependency order
        t = time.perf_counter()
        results[model.name] = build_model(lake, model, TABLE_SPECS, MODELS, con, full_refresh=full_refresh)
        each[model.name] = time.perf_counter() - t
    return time.perf_counter() - started, each, results


def what_it_did(result: object) -> str:
    if not isinstance(result, MartBuild):
        return "rebuilt (one file)"
    if result.skipped:
        return "nothing it reads changed"
    kind = "full rebuild" if result.full else "incremental"
    counts = (
        f"{len(result.written)} written, {len(result.unchanged)} same bytes, {len(result.deleted)} removed"
    )
    return f"{kind}: {counts}; query {result.query_seconds:.2f} s"


def changed_rows(
    lake: Lake, con: duckdb.DuckDBPyConnection, results: dict[str, object]
) -> dict[str, pa.Table]:
    """What the build changed, per mart: the rows of the partitions it wrote (the new day's, or
    its month's for a mart by month), or the whole file of an unpartitioned mart it rebuilt."""
    changed: dict[str, pa.Table] = {}
    for model in (m for m in MODELS if m.materialised):
        result = results[model.name]
        glob = quote_literal(lake.model_glob(model.name))
        if not isinstance(result, MartBuild):  # rebuilt whole
            changed[model.name] = con.sql(f"SELECT * FROM read_parquet({glob})").to_arrow_table()
        elif result.written and model.partitioning is not None:
            column = quote_identifier(model.partitioning.column)
            values = ", ".join(quote_literal(v) for v in result.written)
            condition = f"CAST({column} AS VARCHAR) IN ({values})"
            changed[model.name] = con.sql(
                f"SELECT * FROM read_parquet({glob}) WHERE {condition}"
            ).to_arrow_table()
    return changed


def write_floor(lake: Lake, changed: dict[str, pa.Table]) -> float:
    """Seconds to publish only what the build changed, as any incremental design must at least:
    each changed mart's new rows as one Parquet file and a small state file beside it, each
    written, fsynced and renamed into place through the lake's own storage (no query, no month
    file read back or rewritten). Written under `_bench_floor/` and removed afterwards."""
    started = time.perf_counter()
    for name, table in changed.items():
        with lake.storage.atomic_write(f"{FLOOR_FOLDER}/{name}/part.parquet") as temp:
            pq.write_table(table, temp, compression=COMPRESSION, use_dictionary=False)
        with lake.storage.atomic_write(f"{FLOOR_FOLDER}/{name}/_state.json") as temp:
            Path(temp).write_text(json.dumps({"rows": table.num_rows}), encoding="utf-8")
    seconds = time.perf_counter() - started
    for key in lake.storage.list_files(FLOOR_FOLDER):
        lake.storage.delete(key)
    return seconds


def remove_nightly_days(lake: Lake, days: list[datetime]) -> None:
    """Delete what the nightly load wrote for `days` (the daily sources' partitions)."""
    for spec in (s for s in TABLE_SPECS if s.name in NIGHTLY_TABLES):
        for removed in days:
            lake.storage.delete(lake.partition_key(spec, {"date": removed.date()}))


def load_nightly_day(lake: Lake, world: World, day: datetime) -> None:
    """What the nightly load writes for `day`, straight from the World."""
    load_traffic_day(lake, world, day)
    load_minutes_day(lake, world, day)
    load_session_day(lake, world, day)


def incremental_case(lake: Lake, world: World, con: duckdb.DuckDBPyConnection) -> None:
    """The nightly: one new day loaded, then the incremental build, vs one scan of that day.
    The night before is played too (its day removed and loaded again, then an incremental
    build), so what the timed build starts from (stored carries included) is what the previous
    night's build left, as in production."""
    before, day = closed_days(world, 2)
    specs = [s for s in TABLE_SPECS if s.name in NIGHTLY_TABLES]
    remove_nightly_days(lake, [before, day])
    rebuild_models(lake, con, full_refresh=False)  # the models as they were two nights before
    load_nightly_day(lake, world, before)
    rebuild_models(lake, con, full_refresh=False)  # the night before
    load_nightly_day(lake, world, day)
    keys = {s.name: [lake.partition_key(s, {"date": day.date()})] for s in specs}
    files = {name: k for name, k in keys.items() if lake.storage.exists(k[0])}
    # The marts read neither 5-minute traffic nor error logs: the target compares with the files
    # they do read (the stricter figure); the scan of everything loaded is printed beside it.
    read = {name: k for name, k in files.items() if name not in UNREAD_BY_MARTS}
    scan_all = min(scan_files(lake, con, files), scan_files(lake, con, files))
    scan = min(scan_files(lake, con, read), scan_files(lake, con, read))
    build_s, each, results = rebuild_models(lake, con, full_refresh=False)
    print(f"\n# nightly incremental build after one new day ({day.date()})")
    print("| step | seconds | what it did |")
    print("|---|---|---|")
    tables = ", ".join(read)
    print(f"| DuckDB scan of every column of that day's files the marts read ({tables}) | {scan:.2f} | |")
    every = "the same over every file loaded that day (+ 5-minute traffic, error logs)"
    print(f"| {every} | {scan_all:.2f} | |")
    print(f"| incremental build of {len(each)} models | {build_s:.2f} | |")
    for model in (m for m in MODELS if m.materialised):
        print(f"| - {model.name} | {each[model.name]:.2f} | {what_it_did(results[model.name])} |")
    changed = changed_rows(lake, con, results)
    floor = min(write_floor(lake, changed) for _ in range(3))
    rows = sum(t.num_rows for t in changed.values())
    print(
        f"| floor: the scan above + publishing only what changed ({len(changed)} marts, {rows:,} rows: "
        f"one Parquet and one state file each, fsynced; best of 3 writes {floor:.3f} s) | "
        f"{scan + floor:.2f} | {(scan + floor) / scan:.1f}x the scan |"
    )
    recomputed = [r for r in results.values() if isinstance(r, MartBuild) and not r.skipped]
    queries = sum(r.query_seconds for r in recomputed)
    rebuilt = {n: each[n] for n, r in results.items() if n in changed and not isinstance(r, MartBuild)}
    whole = ", ".join(f"{n} {seconds:.2f} s" for n, seconds in rebuilt.items())
    print(
        f"| the floor + the queries the build ran ({len(recomputed)} partitioned marts recomputed: "
        f"{queries:.2f} s to their first rows; rebuilt whole, query and write: {whole or 'none'}) | "
        f"{scan + floor + queries + sum(rebuilt.values()):.2f} | "
        f"{(scan + floor + queries + sum(rebuilt.values())) / scan:.1f}x the scan |"
    )
    ratio = build_s / scan if scan else float("nan")
    verdict = "meets" if ratio <= INCREMENTAL_TARGET else "misses"
    target = f"the target of <= {INCREMENTAL_TARGET:g}"
    print(f"\nincremental build / scan of the day = {ratio:.2f} ({verdict} {target})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sims", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=365, help="days of daily traffic (default: a year)")
    parser.add_argument("--session-days", type=int, default=32, help="days of session events and Harvest")
    parser.add_argument("--lake", type=Path, required=True, help="lake folder (reused if already filled)")
    parser.add_argument("--now", default="2026-11-30T02:00:00Z")
    parser.add_argument("--no-incremental", action="store_true", help="only the full rebuild")
    args = parser.parse_args(argv)
    lake = Lake(args.lake)
    marker = args.lake / f".filled-{args.sims}-{args.days}-{args.session_days}"
    now = datetime.fromisoformat(args.now.replace("Z", "+00:00")).astimezone(UTC)
    world = World(seed=42, sims=args.sims, now=now)
    if not marker.exists():
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
    rebuild_s, each, _ = rebuild_models(lake, con, full_refresh=True)
    scan = min(scan_s, scan_again_s)
    print(f"# model rebuild vs one scan: {args.sims:,} SIMs, {args.days} days of traffic, {rows:,} rows")
    print("| step | seconds |")
    print("|---|---|")
    print(f"| DuckDB scan of every column of every table (best of 2) | {scan:.2f} |")
    marts = sum(1 for m in MODELS if m.materialised)
    print(f"| full rebuild of {len(each)} models ({marts} marts materialised) | {rebuild_s:.2f} |")
    for name, seconds in sorted(each.items(), key=lambda kv: -kv[1])[:5]:
        print(f"| - {name} | {seconds:.2f} |")
    staging = [m.name for m in MODELS if not m.materialised]
    print(f"| - the {len(staging)} staging views, bound (no scan) | {sum(each[n] for n in staging):.2f} |")
    ratio = rebuild_s / scan if scan else float("nan")
    verdict = "meets" if ratio < TARGET_RATIO else "misses"
    print(f"\nrebuild / scan = {ratio:.2f} ({verdict} the target of < {TARGET_RATIO:g})")
    if not args.no_incremental:
        incremental_case(lake, world, con)
    return 0


if __name__ == "__main__":
    sys.exit(main())
