"""Air data traffic from the operator-wide usage export (one call for all SIMs, terminated ones included).

`air_traffic_daily`: one row per IMSI, UTC day and speed class (export period=day).
`air_traffic_5min`: one row per IMSI, 5-minute bucket and speed class (period=minutes),
which Soracom keeps only 32 days. The CSV's trailing tag/group columns are kept in `_extra`.
Both export sync (the answer holds the file's URL: no polling) when the table's nearest loaded
partition says the file is small (`SORACOM_EXPORT_SYNC_MAX_ROWS`), else async; a sync export
that fails is run again async (`pipelines/soracom/exports.py`).
"""

import shutil
import tempfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import polars as pl
import pyarrow as pa

from assets.frames import TIMESTAMP, csv_extra_of, typing_answer_of
from assets.loading import Batches, Fetched, Progress
from assets.partitions import Window, by_day, daily_partitions
from assets.retention import AIR_DAILY, AIR_MINUTES
from assets.source import Source
from pipelines.lake import TableSpec
from pipelines.soracom import SoracomClient, parse_csv
from pipelines.soracom.csv import read_csv_blocks

KNOWN = (
    "imsi",
    "date",
    "type",
    "uploadByteSizeTotal",
    "uploadPacketCountTotal",
    "downloadByteSizeTotal",
    "downloadPacketCountTotal",
)
TOTALS = {
    "uploadByteSizeTotal": "upload_bytes",
    "uploadPacketCountTotal": "upload_packets",
    "downloadByteSizeTotal": "download_bytes",
    "downloadPacketCountTotal": "download_packets",
}
CALL, WHAT = "exportAirStats", "Air usage export"  # named in typing errors
STREAM_FROM_BYTES = 8 << 20  # exports bigger than this are read a block at a time, not at once
STREAM_BLOCK_BYTES = 8 << 20  # CSV bytes per block (~90k rows of 5-minute usage)
_TOTAL_FIELDS = [(name, pa.int64()) for name in TOTALS.values()]

DAILY_SPEC = TableSpec(
    name="air_traffic_daily",
    schema=pa.schema(
        [
            ("date", pa.date32()),
            ("coverage", pa.string()),
            ("imsi", pa.string()),
            ("speed_class", pa.string()),
            *_TOTAL_FIELDS,
            ("_extra", pa.string()),
            ("_loaded_at", TIMESTAMP),
        ]
    ),
    partition_by=("date",),
    primary_key=("coverage", "imsi", "speed_class"),
    description="Air data usage per IMSI, UTC day and speed class (subscription on global coverage); "
    "includes terminated SIMs. Tag columns of the export are kept in _extra.",
)

MINUTES_SPEC = TableSpec(
    name="air_traffic_5min",
    schema=pa.schema(
        [
            ("date", pa.date32()),
            ("coverage", pa.string()),
            ("imsi", pa.string()),
            ("time", TIMESTAMP),
            ("unixtime", pa.int64()),
            ("speed_class", pa.string()),
            *_TOTAL_FIELDS,
            ("_extra", pa.string()),
            ("_loaded_at", TIMESTAMP),
        ]
    ),
    partition_by=("date",),
    primary_key=("coverage", "imsi", "time", "speed_class"),
    description="Air data usage per IMSI, ~5-minute bucket (start time, UTC) and speed class. "
    "Soracom keeps these 32 days.",
)


def usage_frame(csv: bytes, window: Window, period: str) -> pl.DataFrame:
    """Export CSV -> typed rows inside the window. Columns are read by header name."""
    with typing_answer_of(CALL, WHAT):
        raw = parse_csv(csv)
    return typed_usage(raw, window, period)


def typed_usage(raw: pl.DataFrame, window: Window, period: str) -> pl.DataFrame:
    """A parsed export (CSV columns as text) -> typed rows inside the window."""
    with typing_answer_of(CALL, WHAT):
        missing = [c for c in KNOWN if c not in raw.columns]
        if missing and raw.height:
            raise ValueError(f"Air usage export lacks columns {missing}; header: {raw.columns}")
        if missing:  # header-only or empty file: no traffic in the window
            raw = pl.DataFrame({c: pl.Series(c, [], dtype=pl.Utf8) for c in KNOWN})
        return _typed(raw.lazy(), raw.columns, window, period).collect()


def usage_batches(path: Path, window: Window, period: str) -> pl.DataFrame | Batches:
    """`usage_frame` of an export file on disk; a big file (a day of 5-minute rows of 100k SIMs
    is ~12M rows, ~1 GB) as `Batches` read a block at a time, never whole in memory."""
    if path.stat().st_size < STREAM_FROM_BYTES:
        return usage_frame(path.read_bytes(), window, period)

    def read() -> Iterator[pl.DataFrame]:
        with typing_answer_of(CALL, WHAT):
            for raw in read_csv_blocks(path, STREAM_BLOCK_BYTES):
                missing = [c for c in KNOWN if c not in raw.columns]
                if missing:
                    raise ValueError(f"Air usage export lacks columns {missing}; header: {raw.columns}")
                yield _typed(raw.lazy(), raw.columns, window, period).collect()

    return Batches(read)


def _typed(raw: pl.LazyFrame, columns: list[str], window: Window, period: str) -> pl.LazyFrame:
    date_format = "%Y%m%d%H%M" if period == "minutes" else "%Y%m%d"
    parsed = (
        pl.col("date").str.strptime(pl.Datetime("us"), date_format, strict=True).dt.replace_time_zone("UTC")
    )
    frame = raw.select(
        pl.col("imsi").str.strip_chars(),
        parsed.alias("time"),
        pl.col("type").alias("speed_class"),
        *(pl.col(k).str.strip_chars().cast(pl.Int64, strict=True).alias(v) for k, v in TOTALS.items()),
        csv_extra_of(columns, KNOWN),
    )
    frame = frame.filter(pl.col("time") >= window.start, pl.col("time") < window.end)
    if period == "minutes":
        return frame.with_columns((pl.col("time").dt.epoch("s")).alias("unixtime"))
    return frame.drop("time")


def _export_window(window: Window) -> tuple:
    """The export's `to` names the last period *included*, so ask up to one second before the end."""
    return window.start, window.end - timedelta(seconds=1)


async def fetch_daily(client: SoracomClient, window: Window, progress: Progress) -> Fetched:
    start, end = _export_window(window)
    csv = await client.export_air_usage(start, end, "day", expected_rows=progress.expected_rows())
    frame = usage_frame(csv, window, "day")
    progress.info(f"daily usage export: {len(csv)} bytes, {frame.height} rows")
    return Fetched(frame, {"export_bytes": len(csv)})


async def fetch_minutes(client: SoracomClient, window: Window, progress: Progress) -> Fetched:
    """The export goes to a temporary file and is read from there a block at a time, so memory
    stays flat however many SIMs there are; the lake writes it batch by batch (`Batches`)."""
    start, end = _export_window(window)
    folder = Path(tempfile.mkdtemp(prefix="soracom-usage-"))
    try:
        size = await client.export_air_usage_to_file(
            start, end, folder / "usage.csv", "minutes", expected_rows=progress.expected_rows()
        )
        frame = usage_batches(folder / "usage.csv", window, "minutes")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    progress.info(f"5-minute usage export: {size} bytes")
    return Fetched(frame, {"export_bytes": size}, cleanup=lambda: shutil.rmtree(folder, ignore_errors=True))


AIR_TRAFFIC_DAILY_SOURCE = Source(
    spec=DAILY_SPEC,
    retention=AIR_DAILY,
    partitions_def=daily_partitions,
    lake_partition=by_day,
    fetch=fetch_daily,
    group="traffic",
    sort_by=("coverage", "imsi", "speed_class"),
    job="daily",
    api="`/stats/air/operators/{op}/export` (period day)",
    pool="exports",  # exportAirStats + getExportedFile, which billing_items polls too
)
air_traffic_daily = AIR_TRAFFIC_DAILY_SOURCE.asset


AIR_TRAFFIC_5MIN_SOURCE = Source(
    spec=MINUTES_SPEC,
    retention=AIR_MINUTES,
    partitions_def=daily_partitions,
    lake_partition=by_day,
    fetch=fetch_minutes,
    group="traffic",
    sort_by=("coverage", "imsi", "time", "speed_class"),
    job="daily",
    api="`/stats/air/operators/{op}/export` (period minutes)",
    pool="exports",  # exportAirStats + getExportedFile, which billing_items polls too
)
air_traffic_5min = AIR_TRAFFIC_5MIN_SOURCE.asset
