"""Decoded pages -> Parquet throughput of the session and traffic tables, no HTTP.

Session events: the API's JSON records (decoded pages, as the client yields them) of
several days of a sandbox World go through the asset's own `events_frame`, lineage and
`Lake.write_partition`. Traffic: the operator-wide usage export (CSV bytes, the "page" of
that source) goes through `usage_frame` and the same write. Each stage is timed apart, so a
slow stage shows.

    .venv/bin/python -m bench.throughput --sims 10000 --days 10
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from assets import sessions, traffic
from assets.frames import add_lineage, table_columns
from assets.partitions import Window
from pipelines.lake import Lake, TableSpec
from sandbox.world import World

TARGET_ROWS_PER_S = 1_000_000


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


def _write(lake: Lake, spec: TableSpec, day: str, frame: pl.DataFrame) -> int:
    typed = table_columns(add_lineage(frame, "jp", datetime.now(UTC)), spec.schema, spec.partition_by)
    return lake.write_partition(spec, {"date": day}, typed).rows


def sessions_throughput(world: World, days: list[datetime], lake: Lake) -> dict[str, float]:
    """All days' events in one partition-sized batch per day; rows/s over decode + write."""
    batches = []
    for start in days:
        window = Window(start.strftime("%Y-%m-%d"), start, start + timedelta(days=1))
        batches.append((window, world.all_session_events("jp", window.start_ms, window.end_ms)))
    rows = frame_s = write_s = 0.0
    for window, records in batches:
        frame, t_frame = _timed(lambda records=records, window=window: sessions.events_frame(records, window))
        written, t_write = _timed(
            lambda frame=frame, window=window: _write(lake, sessions.SPEC, window.key, frame)
        )
        rows += written
        frame_s += t_frame
        write_s += t_write
    return {"rows": rows, "records_to_frame_s": frame_s, "write_s": write_s}


def traffic_throughput(world: World, days: list[datetime], lake: Lake, period: str) -> dict[str, float]:
    spec = traffic.MINUTES_SPEC if period == "minutes" else traffic.DAILY_SPEC
    rows = frame_s = write_s = 0.0
    for start in days:
        window = Window(start.strftime("%Y-%m-%d"), start, start + timedelta(days=1))
        from_s, to_s = int(start.timestamp()), int(window.end.timestamp()) - 1
        csv = world.air_usage_csv("jp", period, from_s, to_s)
        frame, t_frame = _timed(lambda csv=csv, window=window: traffic.usage_frame(csv, window, period))
        written, t_write = _timed(lambda frame=frame, window=window: _write(lake, spec, window.key, frame))
        rows += written
        frame_s += t_frame
        write_s += t_write
    return {"rows": rows, "records_to_frame_s": frame_s, "write_s": write_s}


def report(name: str, figures: dict[str, float]) -> str:
    total = figures["records_to_frame_s"] + figures["write_s"]
    rate = figures["rows"] / total if total else float("nan")
    verdict = "meets" if rate >= TARGET_ROWS_PER_S else "misses"
    return (
        f"| {name} | {figures['rows']:,.0f} | {figures['records_to_frame_s']:.3f} | {figures['write_s']:.3f} "
        f"| {rate:,.0f} | {verdict} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sims", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=5, help="days of session events and daily traffic")
    parser.add_argument("--minute-days", type=int, default=1, help="days of 5-minute traffic")
    parser.add_argument("--now", default="2026-11-30T02:00:00Z")
    args = parser.parse_args(argv)
    now = datetime.fromisoformat(args.now.replace("Z", "+00:00"))
    world = World(seed=42, sims=args.sims, now=now)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    days = [today - timedelta(days=n) for n in range(args.days, 0, -1)]
    with tempfile.TemporaryDirectory(prefix="bench-throughput-") as tmp:
        lake = Lake(Path(tmp))
        print(f"# decoded pages -> Parquet, {args.sims:,} SIMs (target {TARGET_ROWS_PER_S:,} rows/s)")
        print("| table | rows | records->frame s | frame->Parquet s | rows/s | target |")
        print("|---|---|---|---|---|---|")
        print(report("session_events", sessions_throughput(world, days, lake)), flush=True)
        print(report("air_traffic_daily", traffic_throughput(world, days, lake, "day")), flush=True)
        print(
            report("air_traffic_5min", traffic_throughput(world, days[-args.minute_days :], lake, "minutes"))
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
