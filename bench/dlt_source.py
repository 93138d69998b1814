"""The nightly's sources as a dlt `rest_api` pipeline: the competitor `bench/dlt_nightly.py` races.

What a dlt user would write for the same day of the same data, with dlt's own machinery:
`rest_api_resources` (declarative REST source), `HeaderCursorPaginator` on Soracom's
`x-soracom-next-key` -> `last_evaluated_key`, dependent resources resolved from their parent
(`sims` -> per-SIM session events, `harvest_resources` -> entries) with `parallelized=True`,
dlt's requests client (retries 429 after `Retry-After`), a filesystem destination writing
Parquet. Soracom's auth (`POST /auth` -> API key + token headers) is done once up front: dlt
has no auth class for it, and the token outlives a nightly.

Made fair on purpose: the same call-skipping rules as our assets (`may_have_events`,
`may_have_entries`, as `processing_steps` filters on the parent resource), so both sides make
the same calls; the same page sizes; the exports are downloaded and parsed by Arrow and handed
to dlt as Arrow tables (dlt's fastest path, no per-row Python). One difference: the exports use
`export_mode=sync` (the answer carries the download URL), because `rest_api` cannot poll an
async export's status; our pipeline exports async and polls, which costs it a poll interval.

This module needs `dlt` (`pip install -e '.[bench]'`); nothing in `make test` imports it.

    python -m bench.dlt_source --source session_events --day 2026-11-29 --url http://... \
        --auth-key-id ... --auth-key ... --out /tmp/dlt --workers 32

prints one JSON line (wall time, rows, peak RSS) like `bench/load_one.py`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

SOURCES = ("session_events", "air_traffic_daily", "air_traffic_5min", "harvest_entries")
_EXPORT_PERIODS = {"air_traffic_daily": "day", "air_traffic_5min": "minutes"}


def configure_dlt(workers: int) -> None:
    """dlt reads its settings from the environment: set them before it is imported. Workers as
    our client's concurrency; telemetry off (no network but the sandbox)."""
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "WARNING")
    os.environ["EXTRACT__WORKERS"] = str(workers)
    os.environ["EXTRACT__MAX_PARALLEL_ITEMS"] = str(workers)
    os.environ.setdefault("NORMALIZE__WORKERS", "1")  # 2 cores: processes cost more than they give
    os.environ.setdefault("LOAD__WORKERS", str(min(workers, 8)))


def authenticate(url: str, auth_key_id: str, auth_key: str) -> dict[str, str]:
    """`POST /auth` once: the API key, token and operator id every call needs."""
    from dlt.sources.helpers import requests

    answer = requests.post(f"{url}/v1/auth", json={"authKeyId": auth_key_id, "authKey": auth_key})
    body = answer.json()
    return {"apiKey": body["apiKey"], "token": body["token"], "operatorId": body["operatorId"]}


def _may_have_events(window_start_ms: int) -> Any:
    from assets.sessions import may_have_events

    return lambda sim: bool(sim.get("simId")) and may_have_events(sim, window_start_ms)


def _may_have_entries(window_start_ms: int) -> Any:
    from assets.harvest import may_have_entries

    return lambda resource: may_have_entries(resource, window_start_ms)


def _download_csv(page: list[dict[str, Any]]) -> Iterator[Any]:
    """Each export's CSV (from the answer's `url`, no Soracom headers), read by Arrow in blocks
    and yielded as record batches: no Python object per row, bounded memory."""
    import pyarrow.csv as pacsv
    from dlt.sources.helpers import requests

    for export in page:
        with tempfile.NamedTemporaryFile(suffix=".csv") as file:
            with requests.get(export["url"], stream=True) as answer:
                for chunk in answer.iter_content(chunk_size=1 << 20):
                    file.write(chunk)
            file.flush()
            reader = pacsv.open_csv(file.name, read_options=pacsv.ReadOptions(block_size=8 << 20))
            for batch in reader:
                if batch.num_rows:
                    yield batch


def soracom_source(url: str, auth: dict[str, str], day: str, sources: list[str], *, parallel: bool) -> Any:
    """A dlt source holding the resources of `sources` for the UTC day `day`."""
    import dlt
    from dlt.sources.helpers.rest_client.paginators import HeaderCursorPaginator
    from dlt.sources.rest_api import rest_api_resources

    start = datetime.fromisoformat(day).replace(tzinfo=UTC)
    end = start + timedelta(days=1)
    from_ms, to_ms = int(start.timestamp() * 1000), int(end.timestamp() * 1000)
    resources: list[Any] = []
    if "session_events" in sources:
        resources += [
            {
                "name": "sims",
                "endpoint": {"path": "sims", "params": {"limit": 100}},
                "selected": False,
                "processing_steps": [{"filter": _may_have_events(from_ms)}],
            },
            {
                "name": "session_events",
                "endpoint": {
                    "path": "sims/{resources.sims.simId}/events/sessions",
                    "params": {"from": from_ms, "to": to_ms, "limit": 1000},
                },
                "parallelized": parallel,
            },
        ]
    if "harvest_entries" in sources:
        resources += [
            {
                "name": "harvest_resources",
                "endpoint": {"path": "data/resources", "params": {"limit": 1000}},
                "selected": False,
                "processing_steps": [{"filter": _may_have_entries(from_ms)}],
            },
            {
                "name": "harvest_entries",
                "endpoint": {
                    "path": "data/{resources.harvest_resources.resourceType}"
                    "/{resources.harvest_resources.resourceId}",
                    "params": {"from": from_ms, "to": to_ms, "sort": "asc", "limit": 1000},
                },
                "include_from_parent": ["resourceType", "resourceId"],
                "parallelized": parallel,
            },
        ]
    exports = [s for s in sources if s in _EXPORT_PERIODS]
    for name in exports:
        resources.append(
            {
                "name": f"{name}_export",
                "endpoint": {
                    "path": f"stats/air/operators/{auth['operatorId']}/export",
                    "method": "POST",
                    "params": {"export_mode": "sync"},
                    "json": {
                        "from": int(start.timestamp()),
                        "to": int(end.timestamp()) - 1,  # inclusive: the day's last second
                        "period": _EXPORT_PERIODS[name],
                    },
                    "paginator": "single_page",
                    "data_selector": "$",
                },
                "selected": False,
            }
        )
    config: dict[str, Any] = {
        "client": {
            "base_url": f"{url}/v1/",
            "headers": {"X-Soracom-API-Key": auth["apiKey"], "X-Soracom-Token": auth["token"]},
            "paginator": HeaderCursorPaginator(
                cursor_key="x-soracom-next-key", cursor_param="last_evaluated_key"
            ),
        },
        "resource_defaults": {"write_disposition": "append"},
        "resources": resources,
    }
    built = {r.name: r for r in rest_api_resources(config)}
    for name in exports:
        download = dlt.transformer(_download_csv, name=name, parallelized=parallel)
        built[name] = built[f"{name}_export"] | download
    chosen = [built[s] for s in sources]
    return dlt.source(lambda: chosen, name="soracom", max_table_nesting=1)()


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Load `args.sources` for `args.day` into Parquet under `args.out`: one `pipeline.run`."""
    configure_dlt(args.workers)
    import dlt

    from bench.load_one import peak_rss_mb

    started = time.perf_counter()
    auth = authenticate(args.url, args.auth_key_id, args.auth_key)
    source = soracom_source(args.url, auth, args.day, args.sources, parallel=not args.serial)
    pipeline = dlt.pipeline(
        pipeline_name=f"soracom_{os.getpid()}",
        pipelines_dir=str(Path(args.out) / "pipelines"),
        destination=dlt.destinations.filesystem(bucket_url=Path(args.out).resolve().as_uri()),
        dataset_name="soracom",
    )
    pipeline.run(source, loader_file_format="parquet")
    wall = time.perf_counter() - started
    counts = pipeline.last_trace.last_normalize_info.row_counts
    return {
        "sources": args.sources,
        "wall_s": wall,
        "rows": {s: int(counts.get(s, 0)) for s in args.sources},
        "tables": dict(counts),
        "peak_rss_mb": peak_rss_mb(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--source", action="append", dest="sources", choices=SOURCES, required=True)
    parser.add_argument("--day", required=True, help="UTC day to load, YYYY-MM-DD")
    parser.add_argument("--url", required=True, help="sandbox origin, e.g. http://127.0.0.1:8765")
    parser.add_argument("--auth-key-id", required=True)
    parser.add_argument("--auth-key", required=True)
    parser.add_argument("--out", required=True, help="folder for the Parquet files and dlt's state")
    parser.add_argument("--workers", type=int, default=32, help="dlt extract workers (our concurrency)")
    parser.add_argument("--serial", action="store_true", help="parallelized=False (dlt's default)")
    args = parser.parse_args(argv)
    print(json.dumps(run(args)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
