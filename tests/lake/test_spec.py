import datetime as dt

import pyarrow as pa
import pytest

from pipelines.lake import PartitionError, SchemaError, TableSpec
from tests.lake.conftest import USAGE


def test_partition_values_are_typed_from_strings_or_values():
    assert USAGE.partition_values({"date": "2024-03-01", "coverage": "jp"}) == {
        "date": dt.date(2024, 3, 1),
        "coverage": "jp",
    }
    assert (
        USAGE.partition_path({"date": dt.date(2024, 3, 1), "coverage": "g"}) == "date=2024-03-01/coverage=g"
    )


@pytest.mark.parametrize(
    ("partition", "message"),
    [
        ({"date": "2024-03-01"}, "missing: ['coverage']"),
        ({"date": "2024-03-01", "coverage": "jp", "hour": 1}, "unknown: ['hour']"),
        ({"date": dt.datetime(2024, 3, 1), "coverage": "jp"}, "expected a datetime.date"),
        ({"date": "2024-3-1", "coverage": "jp"}, "expected 'YYYY-MM-DD'"),
        ({"date": "2024-03-01", "coverage": "a/b"}, "'a/b'"),
        ({"date": "2024-03-01", "coverage": ""}, "non-empty string"),
        ({"date": "2024-03-01", "coverage": ".hidden"}, "not starting with '.'"),
    ],
)
def test_bad_partitions_are_refused_with_the_reason(partition, message):
    with pytest.raises(PartitionError, match="table 'usage'") as error:
        USAGE.partition_values(partition)
    assert message in str(error.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "Usage"}, "table name 'Usage' is invalid"),
        ({"name": "_models"}, "reserved"),
        ({"partition_by": ("day",)}, "partition_by names columns ['day']"),
        ({"primary_key": ("nope",)}, "primary_key names columns ['nope']"),
        ({"schema": pa.schema([("x", pa.float64()), ("t", pa.timestamp("us"))])}, "time zone UTC"),
        ({"schema": pa.schema([("x", pa.float64())]), "partition_by": ("x",)}, "string, date32 or integer"),
    ],
)
def test_bad_specs_are_refused(kwargs, message):
    base = {"name": "t", "schema": pa.schema([("x", pa.int64()), ("y", pa.string())])}
    with pytest.raises(SchemaError) as error:
        TableSpec(**{**base, **kwargs})
    assert message in str(error.value)


def test_integer_partitions_parse_from_path_segments():
    spec = TableSpec("t", pa.schema([("month", pa.int32()), ("x", pa.int64())]), partition_by=("month",))
    assert spec.partition_values({"month": "202403"}) == {"month": 202403}
    assert spec.parse_segment("month", "month=202403") == 202403
    assert spec.parse_segment("month", "other=1") is None
    with pytest.raises(PartitionError, match="expected an integer"):
        spec.partition_values({"month": True})
