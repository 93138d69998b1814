"""`TableSpec.plain_columns`: named columns are stored without dictionary encoding (by both
write paths), every other column keeps it, and the same rows read back either way."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pyarrow.parquet as pq
import pytest

from pipelines.lake import Lake, SchemaError, TableSpec
from tests.lake.conftest import USAGE, usage_frame

DAY = dt.date(2024, 3, 1)
PLAIN = ("device_id", "ts", "ts_epoch_ms")
SPEC = dataclasses.replace(USAGE, plain_columns=PLAIN)
PARTITION = {"date": DAY, "coverage": "jp"}


def dictionary_encoded(path: str) -> dict[str, bool]:
    group = pq.ParquetFile(path).metadata.row_group(0)
    columns = (group.column(i) for i in range(group.num_columns))
    return {column.path_in_schema: column.has_dictionary_page for column in columns}


@pytest.mark.parametrize("batched", [False, True])
def test_plain_columns_skip_the_dictionary_and_the_others_keep_it(lake: Lake, batched: bool) -> None:
    frame = usage_frame(DAY, devices=50, samples=4)
    if batched:
        written = lake.write_partition_batches(SPEC, PARTITION, [frame.head(100), frame.tail(100)])
    else:
        written = lake.write_partition(SPEC, PARTITION, frame)
    encoded = dictionary_encoded(written.path)
    assert {c for c, has in encoded.items() if not has} == set(PLAIN)
    assert all(encoded[c] for c in SPEC.dictionary_columns)

    plain = lake.read(SPEC, PARTITION).sort("device_id", "ts")
    reference = Lake(lake.storage.root / "reference")
    reference.write_partition(USAGE, PARTITION, frame)
    assert all(dictionary_encoded(reference.storage.uri(reference.partition_key(USAGE, PARTITION))).values())
    assert plain.equals(reference.read(USAGE, PARTITION).sort("device_id", "ts"))


@pytest.mark.parametrize(
    ("plain", "problem"),
    [(("nope",), "plain_columns names columns ['nope'] not in the schema"), (("date",), "partition columns")],
)
def test_plain_columns_must_be_data_columns_of_the_schema(plain: tuple[str, ...], problem: str) -> None:
    with pytest.raises(SchemaError, match=problem.replace("[", r"\[").replace("]", r"\]")):
        TableSpec(USAGE.name, USAGE.schema, USAGE.partition_by, USAGE.primary_key, plain_columns=plain)
