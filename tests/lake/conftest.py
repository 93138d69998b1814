"""Shared fixtures: a fresh lake per test and two small generic tables (no Soracom in here)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest

from pipelines.lake import Lake, TableSpec

FIXTURES = Path(__file__).parent / "fixtures"
UTC = dt.UTC

USAGE = TableSpec(
    name="usage",
    schema=pa.schema(
        [
            pa.field("date", pa.date32(), nullable=False),
            pa.field("coverage", pa.string(), nullable=False),
            pa.field("device_id", pa.string(), nullable=False),
            pa.field("ts", pa.timestamp("us", tz="UTC"), nullable=False),
            pa.field("ts_epoch_ms", pa.int64()),
            pa.field("bytes_up", pa.int64()),
            pa.field("amount", pa.decimal128(20, 10)),
            pa.field("_loaded_at", pa.timestamp("us", tz="UTC")),
        ]
    ),
    partition_by=("date", "coverage"),
    primary_key=("device_id", "ts"),
    description="Per-device usage samples",
)

DEVICES = TableSpec(
    name="devices",
    schema=pa.schema([pa.field("device_id", pa.string(), nullable=False), pa.field("name", pa.string())]),
    primary_key=("device_id",),
    description="Device inventory snapshot",
)

LOADED_AT = dt.datetime(2024, 3, 2, 1, 0, tzinfo=UTC)


def usage_frame(
    day: dt.date, devices: int = 3, samples: int = 2, coverage: str | None = None
) -> pl.DataFrame:
    """Deterministic usage rows for one day; `coverage` adds the partition column to the data."""
    rows = []
    for d in range(devices):
        for s in range(samples):
            ts = dt.datetime(day.year, day.month, day.day, s, d, tzinfo=UTC)
            rows.append(
                {
                    "device_id": f"{d:04d}",
                    "ts": ts,
                    "ts_epoch_ms": int(ts.timestamp() * 1000),
                    "bytes_up": 1000 * d + s,
                    "amount": Decimal(f"{d}.{s:010d}"),
                    "_loaded_at": LOADED_AT,
                }
            )
    frame = pl.DataFrame(
        rows,
        schema={
            "device_id": pl.String,
            "ts": pl.Datetime("us", "UTC"),
            "ts_epoch_ms": pl.Int64,
            "bytes_up": pl.Int64,
            "amount": pl.Decimal(20, 10),
            "_loaded_at": pl.Datetime("us", "UTC"),
        },
    )
    if coverage is not None:
        frame = frame.with_columns(pl.lit(coverage).alias("coverage"))
    return frame


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    return Lake(tmp_path / "lake")
