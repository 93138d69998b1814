"""Pages -> Parquet throughput of the session and traffic tables, no HTTP.

Each source's pages are made as the sandbox serves them: session events as one compact JSON
array per SIM and day (the body of `listSimSessionEvents`), traffic as the usage export's CSV.
They then go through the asset's own code, in three timed stages:

- decode: page bytes -> columns (Arrow's JSON reader / the CSV reader), no typing yet;
- type: decoded columns -> the table's typed rows (`typed_events` / `typed_usage`);
- write: lineage columns, schema check and `Lake.write_partition` (zstd Parquet).

The target (1M rows/s) is for decoded pages -> Parquet (type + write); bytes -> Parquet adds
the decode and is printed next to it.

    .venv/bin/python -m bench.throughput --sims 10000 --days 3
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from assets import sessions, traffic
from assets.frames import add_lineage, table_columns
from assets.json_pages import pages_frame
from assets.partitions import Window
from pipelines.lake import Lake, TableSpec
from pipelines.soracom import parse_csv
from sandbox.server.jsonbody import dumps
from sandbox.world import World

TARGET_ROWS_PER_S = 1_000_000


@dataclass
class Stages:
    rows: int = 0
    page_bytes: int = 0
    decode_s: float = 0.0
    type_s: float = 0.0
    write_s: float = 0.0

    def add(self, rows: int, page_bytes: int, decode_s: float, type_s: float, write_s: float) -> None:
        self.rows += rows
        self.page_bytes += page_bytes
        self.decode_s += decode_s
        self.type_s += type_s
        self.write_s += write_s


def _timed(fn: Callable[..., Any], *args: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    value = fn(*args)
    return value, time.perf_counter() - started


def _write(lake: Lake, spec: TableSpec, day: str, frame: pl.DataFrame) -> int:
    typed = table_columns(add_lineage(frame, "jp", datetime.now(UTC)), spec.schema, spec.partition_by)
    return lake.write_partition(spec, {"date": day}, typed).rows


def _window(start: datetime) -> Window:
    return Window(start.strftime("%Y-%m-%d"), start, start + timedelta(days=1))


def session_pages(world: World, window: Window) -> list[bytes]:
    """The day's `listSimSessionEvents` answers: one compact JSON array per SIM with events."""
    by_sim: dict[str, list[dict[str, Any]]] = {}
    for event in world.all_session_events("jp", window.start_ms, window.end_ms):
        by_sim.setdefault(event["simId"], []).append(event)
    return [dumps(events) for events in by_sim.values()]


def decode_session_pages(pages: list[bytes]) -> pl.DataFrame:
    return pages_frame(pages, sessions.SHAPE, call=sessions.CALL, required=sessions.REQUIRED)


def sessions_throughput(world: World, days: list[datetime], lake: Lake) -> Stages:
    stages = Stages()
    for window in map(_window, days):
        pages = session_pages(world, window)
        raw, decode_s = _timed(decode_session_pages, pages)
        frame, type_s = _timed(sessions.typed_events, raw, window)
        rows, write_s = _timed(_write, lake, sessions.SPEC, window.key, frame)
        stages.add(rows, sum(map(len, pages)), decode_s, type_s, write_s)
    return stages


def traffic_throughput(world: World, days: list[datetime], lake: Lake, period: str) -> Stages:
    spec = traffic.MINUTES_SPEC if period == "minutes" else traffic.DAILY_SPEC
    stages = Stages()
    for window in map(_window, days):
        from_s, to_s = int(window.start.timestamp()), int(window.end.timestamp()) - 1
        csv = world.air_usage_csv("jp", period, from_s, to_s)
        raw, decode_s = _timed(parse_csv, csv)
        frame, type_s = _timed(traffic.typed_usage, raw, window, period)
        rows, write_s = _timed(_write, lake, spec, window.key, frame)
        stages.add(rows, len(csv), decode_s, type_s, write_s)
    return stages


def report(name: str, s: Stages) -> str:
    decoded_rate = s.rows / (s.type_s + s.write_s)
    bytes_rate = s.rows / (s.decode_s + s.type_s + s.write_s)
    verdict = "meets" if decoded_rate >= TARGET_ROWS_PER_S else "misses"
    return (
        f"| {name} | {s.rows:,} | {s.page_bytes / 1e6:,.1f} | {s.decode_s:.3f} | {s.type_s:.3f} "
        f"| {s.write_s:.3f} | {decoded_rate:,.0f} | {verdict} | {bytes_rate:,.0f} |"
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
        target = f"target {TARGET_ROWS_PER_S:,} rows/s decoded -> Parquet"
        print(f"# pages -> Parquet, {args.sims:,} SIMs ({target})")
        print(
            "| table | rows | page MB | decode s | type s | write s "
            "| decoded->Parquet rows/s | target | bytes->Parquet rows/s |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        print(report("session_events", sessions_throughput(world, days, lake)), flush=True)
        print(report("air_traffic_daily", traffic_throughput(world, days, lake, "day")), flush=True)
        minutes = traffic_throughput(world, days[-args.minute_days :], lake, "minutes")
        print(report("air_traffic_5min", minutes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
