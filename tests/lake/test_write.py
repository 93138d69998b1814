import datetime as dt
import os
import stat
from decimal import Decimal

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.lake import Lake, SchemaError, TableSpec
from tests.lake.conftest import DEVICES, USAGE, usage_frame

DAY = dt.date(2024, 3, 1)
PART = {"date": DAY, "coverage": "jp"}


def test_write_lays_out_hive_partition_without_partition_columns_in_the_file(lake):
    result = lake.write_partition(USAGE, PART, usage_frame(DAY))
    expected = os.path.join(lake.root, "usage", "date=2024-03-01", "coverage=jp", "part-0.parquet")
    assert result.path == expected
    assert result.rows == 6
    assert result.bytes == os.path.getsize(expected)
    stored = pq.read_schema(expected)
    assert stored.names == ["device_id", "ts", "ts_epoch_ms", "bytes_up", "amount", "_loaded_at"]
    assert pq.ParquetFile(expected).metadata.row_group(0).column(0).compression == "ZSTD"


def test_read_restores_typed_partition_columns_in_spec_order(lake):
    lake.write_partition(USAGE, PART, usage_frame(DAY))
    lake.write_partition(USAGE, {"date": "2024-03-02", "coverage": "g"}, usage_frame(dt.date(2024, 3, 2)))
    frame = lake.read(USAGE)
    assert frame.columns == USAGE.schema.names
    assert frame.schema["date"] == pl.Date
    assert frame.schema["coverage"] == pl.String
    assert frame.height == 12
    only = lake.read(USAGE, {"coverage": "g"})
    assert set(only["date"].to_list()) == {dt.date(2024, 3, 2)}
    assert lake.partitions(USAGE) == [
        {"date": dt.date(2024, 3, 1), "coverage": "jp"},
        {"date": dt.date(2024, 3, 2), "coverage": "g"},
    ]
    assert lake.has_partition(USAGE, {"date": "2024-03-02", "coverage": "g"})
    assert not lake.has_partition(USAGE, {"date": "2024-03-02", "coverage": "jp"})


def test_rewriting_a_partition_replaces_it(lake):
    lake.write_partition(USAGE, PART, usage_frame(DAY, devices=3))
    lake.write_partition(USAGE, PART, usage_frame(DAY, devices=2))
    lake.write_partition(USAGE, PART, usage_frame(DAY, devices=2))
    assert lake.read(USAGE).height == 4
    folder = os.path.join(lake.root, "usage", "date=2024-03-01", "coverage=jp")
    assert os.listdir(folder) == ["part-0.parquet"]
    con = duckdb.connect()
    assert con.sql(f"SELECT count(*) FROM read_parquet('{lake.table_glob(USAGE)}')").fetchall() == [(4,)]


def test_partition_columns_in_the_data_must_match_the_partition(lake):
    lake.write_partition(USAGE, PART, usage_frame(DAY, coverage="jp"))  # matching: accepted
    wrong = usage_frame(DAY, coverage="g")
    with pytest.raises(SchemaError, match=r"6 row\(s\) have coverage='g'.*coverage='jp'"):
        lake.write_partition(USAGE, PART, wrong)


def test_empty_frame_writes_an_empty_partition(lake):
    assert not lake.has_partition(USAGE, PART)
    result = lake.write_partition(USAGE, PART, pl.DataFrame())
    assert result.rows == 0
    assert lake.has_partition(USAGE, PART)
    empty = lake.read(USAGE)
    assert empty.height == 0 and empty.columns == USAGE.schema.names
    typed_empty = usage_frame(DAY).clear()
    assert lake.write_partition(USAGE, PART, typed_empty).rows == 0
    con = duckdb.connect()
    glob = lake.table_glob(USAGE)
    assert con.sql(f"SELECT count(*) FROM read_parquet('{glob}', hive_partitioning=true)").fetchall() == [
        (0,)
    ]


def test_unpartitioned_table(lake):
    frame = pl.DataFrame({"name": ["a", None], "device_id": ["1", "2"]})  # column order does not matter
    lake.write_partition(DEVICES, {}, frame)
    assert lake.partitions(DEVICES) == [{}]
    assert lake.read(DEVICES).to_dicts() == [
        {"device_id": "1", "name": "a"},
        {"device_id": "2", "name": None},
    ]
    assert lake.table_glob(DEVICES).endswith("/devices/*.parquet")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.with_columns(extra=pl.lit(1)), r"columns \['extra'\] are not in the schema"),
        (lambda f: f.drop("bytes_up"), r"lacks columns \['bytes_up'\]"),
        (
            lambda f: f.with_columns(pl.col("amount").cast(pl.Float64)),
            r"column 'amount': expected decimal128\(20, 10\), got double; money must not pass through floats",
        ),
        (
            lambda f: f.with_columns(pl.col("ts").dt.replace_time_zone(None)),
            r"column 'ts': expected timestamp\[us, tz=UTC\], got timestamp\[us\]; naive timestamps",
        ),
        (
            lambda f: f.with_columns(pl.col("bytes_up").cast(pl.String)),
            r"column 'bytes_up': expected int64, got large_string",
        ),
        (
            lambda f: f.with_columns(pl.lit(None, pl.String).alias("device_id")),
            r"column 'device_id' is declared NOT NULL but has 6 null",
        ),
        (
            lambda f: f.with_columns(pl.lit("0001").alias("device_id"), pl.col("ts").dt.truncate("1d")),
            r"primary key \['device_id', 'ts'\] is not unique .* e\.g\. \{'device_id': '0001'",
        ),
        (
            lambda f: f.with_columns(pl.col("amount").cast(pl.Decimal(38, 12)) + pl.lit(Decimal("1e-12"))),
            r"column 'amount'.*the values do not fit",
        ),
    ],
)
def test_schema_errors_name_table_column_expected_and_got(lake, change, message):
    with pytest.raises(SchemaError, match=message) as error:
        lake.write_partition(USAGE, PART, change(usage_frame(DAY)))
    assert "table 'usage'" in str(error.value)
    assert not lake.has_partition(USAGE, PART)


def test_lossless_casts_are_applied(lake):
    spec = TableSpec(
        "casts",
        pa.schema([("i", pa.int64()), ("s", pa.string()), ("d", pa.decimal128(20, 10)), ("n", pa.string())]),
    )
    data = pa.table(
        {
            "i": pa.array([1, 2], pa.int8()),
            "s": pa.array(["a", "b"]).dictionary_encode(),
            "d": pa.array([Decimal("1.5"), Decimal("2.25")], pa.decimal128(5, 2)),
            "n": pa.nulls(2),
        }
    )
    lake.write_partition(spec, {}, data)
    assert pq.read_schema(lake.storage.uri("casts/part-0.parquet")).remove_metadata() == spec.schema
    with pytest.raises(SchemaError, match="the values do not fit"):
        lake.write_partition(spec, {}, pa.table({"i": [1], "s": ["x"], "d": [10**12], "n": ["x"]}))


def test_decimal_money_round_trips_exactly(lake):
    amounts = [Decimal("1234567890.0123456789"), Decimal("0.0000000001"), Decimal("-99999.9999999999")]
    frame = usage_frame(DAY, devices=3, samples=1).with_columns(
        pl.Series("amount", amounts, pl.Decimal(20, 10))
    )
    lake.write_partition(USAGE, PART, frame)
    assert lake.read(USAGE)["amount"].to_list() == amounts
    con = duckdb.connect()
    rows = con.sql(
        f"SELECT amount, typeof(amount) FROM read_parquet('{lake.table_glob(USAGE)}') ORDER BY device_id"
    ).fetchall()
    assert rows == [(a, "DECIMAL(20,10)") for a in amounts]


def test_utc_timestamps_round_trip(lake):
    lake.write_partition(USAGE, PART, usage_frame(DAY))
    frame = lake.read(USAGE)
    assert frame.schema["ts"] == pl.Datetime("us", "UTC")
    first = frame.sort("ts")["ts"][0]
    assert first == dt.datetime(2024, 3, 1, 0, 0, tzinfo=dt.UTC)
    assert int(first.timestamp() * 1000) == frame.sort("ts")["ts_epoch_ms"][0]
    con = duckdb.connect()
    con.execute("SET TimeZone = 'Asia/Tokyo'")  # display zone must not change the instant
    row = con.sql(
        f"SELECT typeof(ts), epoch_ms(ts), ts_epoch_ms FROM read_parquet('{lake.table_glob(USAGE)}') "
        "ORDER BY ts LIMIT 1"
    ).fetchall()[0]
    assert row[0] == "TIMESTAMP WITH TIME ZONE"
    assert row[1] == row[2]


@pytest.mark.parametrize("umask", [0o000, 0o077])
def test_files_0644_and_folders_0755_whatever_the_umask(tmp_path, umask):
    previous = os.umask(umask)
    try:
        lake = Lake(tmp_path / "deep" / "lake")
        lake.write_partition(USAGE, PART, usage_frame(DAY))
        lake.write_partition(USAGE, PART, usage_frame(DAY))
    finally:
        os.umask(previous)
    modes = {}
    for folder, dirs, files in os.walk(tmp_path / "deep"):
        for name in dirs + files:
            path = os.path.join(folder, name)
            modes[os.path.relpath(path, tmp_path)] = stat.S_IMODE(os.stat(path).st_mode)
    assert modes["deep/lake/usage/date=2024-03-01/coverage=jp/part-0.parquet"] == 0o644
    assert {m for p, m in modes.items() if os.path.isdir(tmp_path / p)} == {0o755}
    assert {m for p, m in modes.items() if os.path.isfile(tmp_path / p)} == {0o644}


def test_a_write_says_whether_it_verified_the_primary_key(lake):
    """The in-step `unique_key` check trusts a write only for a key it verified: one made of
    partition columns only is not (every row of the file shares it), so it is scanned."""
    day = dt.date(2024, 3, 1)
    assert lake.write_partition(USAGE, {"date": day, "coverage": "jp"}, usage_frame(day)).key_verified
    batched = lake.write_partition_batches(USAGE, {"date": day, "coverage": "g"}, [usage_frame(day)])
    assert batched.key_verified
    by_day = TableSpec(
        name="by_day",
        schema=pa.schema([("date", pa.date32()), ("n", pa.int64())]),
        partition_by=("date",),
        primary_key=("date",),
    )
    assert not lake.write_partition(by_day, {"date": day}, pa.table({"n": [1, 2]})).key_verified
