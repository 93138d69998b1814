"""`harvest_entries`: Harvest Data entries of a UTC day, for every resource that sent data.

`/data/resources` lists the resources with their last write time; a resource whose last
write is before the window cannot have entries in it and is skipped. The rest are read
oldest-first (`sort=asc`) concurrently.
"""

from typing import Any

import polars as pl
import pyarrow as pa

from assets.frames import TIMESTAMP, ms_to_ts, records_frame
from assets.loading import Fetched, Progress
from assets.partitions import Window, by_day, daily_partitions
from assets.retention import HARVEST
from assets.source import Source
from pipelines.lake import TableSpec
from pipelines.soracom import SoracomClient

PROGRESS_EVERY = 500

SHAPE: dict[str, pl.DataType] = {
    "resourceType": pl.Utf8,
    "resourceId": pl.Utf8,
    "time": pl.Int64,
    "contentType": pl.Utf8,
    "content": pl.Utf8,
    "category": pl.Utf8,
}

SPEC = TableSpec(
    name="harvest_entries",
    schema=pa.schema(
        [
            ("date", pa.date32()),
            ("coverage", pa.string()),
            ("resource_type", pa.string()),
            ("resource_id", pa.string()),
            ("time", TIMESTAMP),
            ("time_ms", pa.int64()),
            ("content_type", pa.string()),
            ("content", pa.string()),
            ("category", pa.string()),
            ("_extra", pa.string()),
            ("_loaded_at", TIMESTAMP),
        ]
    ),
    partition_by=("date",),
    primary_key=("coverage", "resource_type", "resource_id", "time_ms"),
    description="Harvest Data entries per UTC day. `content` is the text as stored (JSON text, plain "
    'text, or {"payload": base64} for binary).',
)


CALL = "getDataEntries"
REQUIRED = ("time", "resourceType", "resourceId")


def entries_frame(records: list[dict[str, Any]], window: Window) -> pl.DataFrame:
    raw = records_frame(records, SHAPE, call=CALL, required=REQUIRED)
    frame = raw.select(
        pl.col("resourceType").alias("resource_type"),
        pl.col("resourceId").alias("resource_id"),
        ms_to_ts("time").alias("time"),
        pl.col("time").alias("time_ms"),
        pl.col("contentType").alias("content_type"),
        pl.col("content"),
        pl.col("category"),
        pl.col("_extra"),
    )
    frame = frame.filter(pl.col("time_ms").is_between(window.start_ms, window.end_ms, closed="left"))
    return frame.unique(subset=["resource_type", "resource_id", "time_ms"], keep="first", maintain_order=True)


def may_have_entries(resource: dict[str, Any], window_start_ms: int) -> bool:
    """False when the resource's last write is known and before the window."""
    last = resource.get("lastModifiedTime")
    return not (isinstance(last, int) and last < window_start_ms)


async def fetch_harvest(client: SoracomClient, window: Window, progress: Progress) -> Fetched:
    resources = [r async for r in client.list_harvest_resources()]
    wanted = [r for r in resources if may_have_entries(r, window.start_ms)]
    progress.info(f"{len(resources)} Harvest resources, {len(wanted)} written to since the window start")
    done = 0

    async def one(resource: dict[str, Any]) -> list[dict[str, Any]]:
        nonlocal done
        rtype, rid = str(resource["resourceType"]), str(resource["resourceId"])
        entries = [
            {**e, "resourceType": e.get("resourceType", rtype), "resourceId": e.get("resourceId", rid)}
            async for e in client.list_harvest_entries(rtype, rid, window.start, window.end, sort="asc")
        ]
        done += 1
        progress.add_rows(len(entries))
        progress.every(done, len(wanted), PROGRESS_EVERY, "resources fetched")
        return entries

    per_resource = await client.map_concurrent(one, wanted)
    records = [entry for entries in per_resource for entry in entries]
    return Fetched(
        entries_frame(records, window),
        {"resources_listed": len(resources), "resources_fetched": len(wanted)},
    )


HARVEST_ENTRIES_SOURCE = Source(
    spec=SPEC,
    retention=HARVEST,
    partitions_def=daily_partitions,
    lake_partition=by_day,
    fetch=fetch_harvest,
    group="harvest",
    sort_by=("coverage", "resource_type", "resource_id", "time_ms"),
    job="daily",
    pool="harvest",
    api="`/data/resources`, `/data/{type}/{id}`",
)
harvest_entries = HARVEST_ENTRIES_SOURCE.asset
