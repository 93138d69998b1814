"""Load one source's partition (one UTC day) through Dagster, in a fresh process, and print
one JSON line: wall time, rows, client stats and this process's peak RSS.

Run by `bench/nightly.py` once per source so every source's memory is measured alone:
    python -m bench.load_one --source session_events --day 2026-11-29 --url http://... \
        --auth-key-id ... --auth-key ... --lake /tmp/lake --concurrency 32
With `--baseline` it runs the naive fetch of `bench/baseline.py` instead (no Dagster, no lake).
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import sys
import time
from typing import Any

SOURCES = ("session_events", "air_traffic_daily", "air_traffic_5min", "harvest_entries")


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _asset(source: str) -> Any:
    from pipelines.jobs import DAILY_ASSETS

    by_name = {a.key.to_user_string(): a for a in DAILY_ASSETS}
    if source not in by_name:
        raise SystemExit(f"unknown source {source!r}; daily sources: {', '.join(sorted(by_name))}")
    return by_name[source]


def load(args: argparse.Namespace) -> dict[str, Any]:
    import dagster as dg

    from assets.resources import ClockResource, LakeResource, SoracomResource

    asset = _asset(args.source)
    resources = {
        "soracom": SoracomResource(
            auth_key_id=args.auth_key_id,
            auth_key=args.auth_key,
            endpoint_jp=args.url,
            coverages="jp",
            max_concurrency=args.concurrency,
        ),
        "lake": LakeResource(root=args.lake, catalog_path=f"{args.lake}/catalog.duckdb"),
        "clock": ClockResource(),
    }
    rss_before = peak_rss_mb()
    cpu_before = time.process_time()
    started = time.perf_counter()
    result = dg.materialize([asset], partition_key=args.day, resources=resources, raise_on_error=True)
    wall = time.perf_counter() - started
    events = result.get_asset_materialization_events()
    metadata = events[0].materialization.metadata if events else {}

    def value(name: str, default: Any = None) -> Any:
        return metadata[name].value if name in metadata else default

    api_stats = value("api_stats", {}) or {}
    client = api_stats.get("jp", next(iter(api_stats.values()), {})) if api_stats else {}
    return {
        "source": args.source,
        "wall_s": wall,
        "rows": value("rows", 0),
        "bytes": value("bytes", 0),
        "client": client,
        "cpu_s": time.process_time() - cpu_before,
        "rss_before_load_mb": rss_before,
        "peak_rss_mb": peak_rss_mb(),
        "metadata": {
            k: v.value
            for k, v in metadata.items()
            if isinstance(getattr(v, "value", None), int | float | str) and k not in ("path",)
        },
    }


def baseline(args: argparse.Namespace) -> dict[str, Any]:
    from datetime import UTC, datetime

    from bench.baseline import run_baseline

    start = datetime.fromisoformat(args.day).replace(tzinfo=UTC)
    cpu_before = time.process_time()
    run = run_baseline(
        args.url, {"authKeyId": args.auth_key_id, "authKey": args.auth_key}, args.source, start
    )
    return {
        "source": args.source,
        "wall_s": run.wall_s,
        "rows": run.items,
        "bytes": run.bytes,
        "client": {
            "calls": sum(run.calls.values()),
            "calls_by_operation": dict(run.calls),
            "http_429": run.http_429,
        },
        "cpu_s": time.process_time() - cpu_before,
        "peak_rss_mb": peak_rss_mb(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--source", required=True, choices=SOURCES)
    parser.add_argument("--day", required=True, help="UTC day to load, YYYY-MM-DD")
    parser.add_argument("--url", required=True, help="sandbox origin, e.g. http://127.0.0.1:8765")
    parser.add_argument("--auth-key-id", required=True)
    parser.add_argument("--auth-key", required=True)
    parser.add_argument("--lake", required=True, help="lake root folder")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--baseline", action="store_true", help="fetch the naive way instead (bench/baseline.py)"
    )
    args = parser.parse_args(argv)
    logging.getLogger("dagster").setLevel(logging.WARNING)
    print(json.dumps(baseline(args) if args.baseline else load(args)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
