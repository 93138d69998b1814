"""API and Napter audit logs, one UTC hour per partition.

Soracom keeps both for only 24 hours unless the paid extension is on, which is why they
load hourly: a missed day is lost for good. The API log's time field is spelled both
`requestedTimeEpochMs` (schema) and `requestedTimeEpocMs` (official example); both are read.
"""

from typing import Any

import polars as pl
import pyarrow as pa

from assets.frames import TIMESTAMP, ms_to_ts, records_frame, require_values
from assets.loading import Fetched, Progress
from assets.partitions import Window, hourly_partitions
from assets.retention import API_AUDIT, NAPTER_AUDIT
from assets.source import Source
from pipelines.lake import TableSpec
from pipelines.soracom import SoracomClient

API_SHAPE: dict[str, pl.DataType] = {
    "requestedTimeEpochMs": pl.Int64,
    "requestedTimeEpocMs": pl.Int64,
    "apiKind": pl.Utf8,
    "requestPath": pl.Utf8,
    "remoteIpAddress": pl.Utf8,
    "operatorId": pl.Utf8,
    "userName": pl.Utf8,
    "statusCode": pl.Int64,
}

NAPTER_SHAPE: dict[str, pl.DataType] = {
    "createdAt": pl.Int64,
    "type": pl.Utf8,
    "connectionId": pl.Utf8,
    "imsi": pl.Utf8,
    "operatorId": pl.Utf8,
    "tls": pl.Boolean,
    "direction": pl.Struct(
        {
            "sourceIPAddress": pl.Utf8,
            "sourcePort": pl.Int64,
            "destinationIPAddress": pl.Utf8,
            "destinationPort": pl.Int64,
        }
    ),
}

_HOUR_PARTITION = [("date", pa.date32()), ("hour", pa.int32())]

API_SPEC = TableSpec(
    name="api_audit_logs",
    schema=pa.schema(
        [
            *_HOUR_PARTITION,
            ("coverage", pa.string()),
            ("requested_time", TIMESTAMP),
            ("requested_time_ms", pa.int64()),
            ("api_kind", pa.string()),
            ("request_path", pa.string()),
            ("status_code", pa.int64()),
            ("remote_ip_address", pa.string()),
            ("operator_id", pa.string()),
            ("user_name", pa.string()),
            ("_extra", pa.string()),
            ("_loaded_at", TIMESTAMP),
        ]
    ),
    partition_by=("date", "hour"),
    description="API audit log (who called which API when), per UTC hour. Without the paid option "
    "Soracom logs only /v1/auth calls and keeps them 24 hours.",
)

NAPTER_SPEC = TableSpec(
    name="napter_audit_logs",
    schema=pa.schema(
        [
            *_HOUR_PARTITION,
            ("coverage", pa.string()),
            ("created_at", TIMESTAMP),
            ("created_at_ms", pa.int64()),
            ("type", pa.string()),
            ("connection_id", pa.string()),
            ("imsi", pa.string()),
            ("operator_id", pa.string()),
            ("tls", pa.bool_()),
            ("source_ip_address", pa.string()),
            ("source_port", pa.int64()),
            ("destination_ip_address", pa.string()),
            ("destination_port", pa.int64()),
            ("_extra", pa.string()),
            ("_loaded_at", TIMESTAMP),
        ]
    ),
    partition_by=("date", "hour"),
    description="Napter (remote access) audit log per UTC hour; "
    "direction flattened to source_*/destination_*.",
)


def hour_partition(window: Window) -> dict[str, object]:
    return {"date": window.start.strftime("%Y-%m-%d"), "hour": window.start.hour}


def api_frame(records: list[dict[str, Any]], window: Window) -> pl.DataFrame:
    raw = records_frame(records, API_SHAPE, call="getApiAuditLogs")
    time_ms = pl.coalesce("requestedTimeEpochMs", "requestedTimeEpocMs")
    require_values(
        raw.select(time_ms.alias("requestedTimeEpochMs")), "getApiAuditLogs", ["requestedTimeEpochMs"]
    )
    raw = raw.with_columns(time_ms.alias("requested_time_ms"))
    frame = raw.select(
        ms_to_ts("requested_time_ms").alias("requested_time"),
        pl.col("requested_time_ms"),
        pl.col("apiKind").alias("api_kind"),
        pl.col("requestPath").alias("request_path"),
        pl.col("statusCode").alias("status_code"),
        pl.col("remoteIpAddress").alias("remote_ip_address"),
        pl.col("operatorId").alias("operator_id"),
        pl.col("userName").alias("user_name"),
        pl.col("_extra"),
    )
    # No natural key: identical entries (same call twice in one ms) are both kept.
    return frame.filter(pl.col("requested_time_ms").is_between(window.start_ms, window.end_ms, closed="left"))


def napter_frame(records: list[dict[str, Any]], window: Window) -> pl.DataFrame:
    raw = records_frame(records, NAPTER_SHAPE, call="getNapterAuditLogs", required=("createdAt",))
    direction = pl.col("direction")
    frame = raw.select(
        ms_to_ts("createdAt").alias("created_at"),
        pl.col("createdAt").alias("created_at_ms"),
        pl.col("type"),
        pl.col("connectionId").alias("connection_id"),
        pl.col("imsi"),
        pl.col("operatorId").alias("operator_id"),
        pl.col("tls"),
        direction.struct.field("sourceIPAddress").alias("source_ip_address"),
        direction.struct.field("sourcePort").alias("source_port"),
        direction.struct.field("destinationIPAddress").alias("destination_ip_address"),
        direction.struct.field("destinationPort").alias("destination_port"),
        pl.col("_extra"),
    )
    return frame.filter(pl.col("created_at_ms").is_between(window.start_ms, window.end_ms, closed="left"))


async def fetch_api_logs(client: SoracomClient, window: Window, progress: Progress) -> Fetched:
    records = [r async for r in client.list_api_audit_logs(window.start, window.end)]
    progress.info(f"{len(records)} API audit log entries")
    return Fetched(api_frame(records, window))


async def fetch_napter_logs(client: SoracomClient, window: Window, progress: Progress) -> Fetched:
    records = [r async for r in client.list_napter_audit_logs(window.start, window.end)]
    progress.info(f"{len(records)} Napter audit log entries")
    return Fetched(napter_frame(records, window))


API_AUDIT_LOGS_SOURCE = Source(
    spec=API_SPEC,
    retention=API_AUDIT,
    partitions_def=hourly_partitions,
    lake_partition=hour_partition,
    fetch=fetch_api_logs,
    group="audit_logs",
    sort_by=("coverage", "requested_time_ms", "request_path"),
    job="hourly",
    api="`/audit_logs/api`",
    pool="audit_logs_api",
)
api_audit_logs = API_AUDIT_LOGS_SOURCE.asset


NAPTER_AUDIT_LOGS_SOURCE = Source(
    spec=NAPTER_SPEC,
    retention=NAPTER_AUDIT,
    partitions_def=hourly_partitions,
    lake_partition=hour_partition,
    fetch=fetch_napter_logs,
    group="audit_logs",
    sort_by=("coverage", "created_at_ms", "connection_id"),
    job="hourly",
    api="`/audit_logs/napter`",
    pool="audit_logs_napter",
)
napter_audit_logs = NAPTER_AUDIT_LOGS_SOURCE.asset
