"""`error_logs`: the error logs (`getLogs`, `GET /logs`) of a UTC day: delivery failures of
Beam, Funnel, Funk, Harvest and Unified Endpoint, and Air warnings, per SIM or device.

Soracom keeps them only about 30 days (the console's error-log page; the API file does not
say), and they are the first thing to look at when data stops arriving: a lake that keeps
them lets a cost or traffic anomaly be traced to its cause months later. One paged call per
coverage and day covers the whole operator.
"""

from __future__ import annotations

from typing import Any

import polars as pl
import pyarrow as pa

from assets.frames import TIMESTAMP, json_text, ms_to_ts, records_frame
from assets.loading import Fetched, Progress
from assets.partitions import Window, by_day, daily_partitions
from assets.retention import Retention
from assets.source import Source
from pipelines.lake import TableSpec
from pipelines.soracom import SoracomClient

SHAPE: dict[str, pl.DataType] = {
    "time": pl.Int64,
    "service": pl.Utf8,
    "logLevel": pl.Utf8,
    "resourceType": pl.Utf8,
    "resourceId": pl.Utf8,
    "operatorId": pl.Utf8,
}

SPEC = TableSpec(
    name="error_logs",
    schema=pa.schema(
        [
            ("date", pa.date32()),
            ("coverage", pa.string()),
            ("time", TIMESTAMP),
            ("time_ms", pa.int64()),
            ("service", pa.string()),
            ("log_level", pa.string()),
            ("resource_type", pa.string()),
            ("resource_id", pa.string()),
            ("operator_id", pa.string()),
            ("body", pa.string()),
            ("_extra", pa.string()),
            ("_loaded_at", TIMESTAMP),
        ]
    ),
    partition_by=("date",),
    description="Error logs (getLogs) per UTC day: service, level, resource (IMSI or device id) and the "
    "log body as JSON text.",
)


def logs_frame(records: list[dict[str, Any]], window: Window) -> pl.DataFrame:
    raw = records_frame(records, SHAPE, handled=("body",), call="getLogs", required=("time",))
    frame = raw.select(
        ms_to_ts("time").alias("time"),
        pl.col("time").alias("time_ms"),
        pl.col("service"),
        pl.col("logLevel").alias("log_level"),
        pl.col("resourceType").alias("resource_type"),
        pl.col("resourceId").alias("resource_id"),
        pl.col("operatorId").alias("operator_id"),
        pl.Series("body", json_text(r.get("body") for r in records), dtype=pl.Utf8),
        pl.col("_extra"),
    )
    return frame.filter(pl.col("time_ms").is_between(window.start_ms, window.end_ms, closed="left"))


async def fetch_error_logs(client: SoracomClient, window: Window, progress: Progress) -> Fetched:
    records = [
        r
        async for r in client.items(
            "GET",
            "/logs",
            params={"from": window.start_ms, "to": window.end_ms, "limit": 1000},
            operation="getLogs",
        )
    ]
    progress.info(f"{len(records)} error log entries")
    return Fetched(logs_frame(records, window))


ERROR_LOGS = Retention("error logs", days=30)

ERROR_LOGS_SOURCE = Source(
    spec=SPEC,
    fetch=fetch_error_logs,
    partitions_def=daily_partitions,
    lake_partition=by_day,
    retention=ERROR_LOGS,
    group="logs",
    job="daily",
    pool="logs",
    sort_by=("coverage", "time_ms", "resource_id", "service"),
    api="`/logs` (getLogs)",
)
