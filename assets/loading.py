"""The one way a source asset loads a partition: guard retention, fetch every coverage,
type the rows, write one lake partition atomically, report what happened.

Each source module supplies only a `fetch` coroutine (client + window -> typed frame); this
module owns the asyncio loop, coverages, lineage columns, the write and the metadata.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import dagster as dg
import polars as pl

from assets.frames import add_lineage, table_columns
from assets.partitions import Window
from assets.retention import Retention
from pipelines.lake import TableSpec
from pipelines.resources import LakeResource, SoracomResource
from pipelines.soracom import SoracomClient


@dataclass
class Fetched:
    """What one coverage's fetch produced: the typed rows and any source-specific metadata."""

    frame: pl.DataFrame
    metadata: dict[str, Any] = field(default_factory=dict)


Fetch = Callable[[SoracomClient, Window, "Progress"], Awaitable[Fetched]]


class Progress:
    """Progress lines for long partitions, tagged with the coverage."""

    def __init__(self, log: Any, coverage: str) -> None:
        self._log = log
        self.coverage = coverage

    def info(self, message: str) -> None:
        self._log.info(f"[{self.coverage}] {message}")

    def every(self, done: int, total: int, step: int, what: str) -> None:
        """Log `done/total what` every `step` items and at the end."""
        if total and (done % step == 0 or done == total):
            self.info(f"{done}/{total} {what}")


async def _fetch_coverage(
    soracom: SoracomResource, coverage: str, window: Window, fetch: Fetch, log: Any
) -> tuple[Fetched, dict[str, Any]]:
    async with soracom.client(coverage) as client:
        fetched = await fetch(client, window, Progress(log, coverage))
        return fetched, client.stats.as_dict()


async def _fetch_all(
    soracom: SoracomResource, window: Window, fetch: Fetch, log: Any
) -> list[tuple[str, Fetched, dict[str, Any]]]:
    coverages = soracom.coverage_list()
    results = await asyncio.gather(*(_fetch_coverage(soracom, c, window, fetch, log) for c in coverages))
    return [(c, fetched, stats) for c, (fetched, stats) in zip(coverages, results, strict=True)]


def load_partition(
    context: dg.AssetExecutionContext,
    *,
    spec: TableSpec,
    retention: Retention,
    window: Window,
    partition: Mapping[str, object],
    soracom: SoracomResource,
    lake: LakeResource,
    fetch: Fetch,
    sort_by: list[str] | None = None,
    now: datetime | None = None,
) -> dg.MaterializeResult:
    """Load `window` of one source from every configured coverage into one lake partition."""
    asset = context.asset_key.to_user_string()
    retention.guard(asset, window, now or datetime.now(UTC))
    started = time.monotonic()
    loaded_at = datetime.now(UTC)
    context.log.info(f"loading {asset} {window.key} ({window}) from {soracom.describe()}")
    results = asyncio.run(_fetch_all(soracom, window, fetch, context.log))

    frames = [add_lineage(fetched.frame, coverage, loaded_at) for coverage, fetched, _ in results]
    frame = pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame()
    if sort_by and frame.height:
        frame = frame.sort(sort_by, nulls_last=True, maintain_order=True)
    table = table_columns(frame, spec.schema, spec.partition_by)
    written = lake.lake().write_partition(spec, partition, table)

    calls = sum(stats["calls"] for _, _, stats in results)
    metadata: dict[str, Any] = {
        "rows": dg.MetadataValue.int(written.rows),
        "api_calls": dg.MetadataValue.int(calls),
        "bytes": dg.MetadataValue.int(written.bytes),
        "api_bytes_received": dg.MetadataValue.int(sum(s["bytes_received"] for _, _, s in results)),
        "window_start": dg.MetadataValue.text(window.start.isoformat()),
        "window_end": dg.MetadataValue.text(window.end.isoformat()),
        "coverages": dg.MetadataValue.text(",".join(c for c, _, _ in results)),
        "path": dg.MetadataValue.path(str(written.path)),
        "seconds": dg.MetadataValue.float(round(time.monotonic() - started, 3)),
        "api_stats": dg.MetadataValue.json(
            {c: {k: v for k, v in s.items() if k != "pages_by_operation"} for c, _, s in results}
        ),
    }
    for coverage, fetched, _ in results:
        for key, value in fetched.metadata.items():
            metadata[f"{key}_{coverage}" if len(results) > 1 else key] = value
    context.log.info(
        f"{asset} {window.key}: {written.rows} rows, {calls} API calls, {written.bytes} bytes -> {written.path}"
    )
    return dg.MaterializeResult(metadata=metadata)
