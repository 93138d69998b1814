"""`TableSpec`: a table's name, typed schema, partitioning and key, declared once in code.

Also the partition codec: how a partition's values become Hive path segments
(`date=2024-01-01/coverage=jp`) and back.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass

import pyarrow as pa

from pipelines.lake.errors import PartitionError, SchemaError

_TABLE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
# Partition values become path segments; keep them to characters every reader and object store
# takes literally (no escaping needed, no '/' or '=' that would change the path's meaning).
_SAFE_VALUE = re.compile(r"^[A-Za-z0-9_+:-][A-Za-z0-9_.+:-]*$")
MODELS_FOLDER = "_models"


def _is_string(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)


def _partition_kind(t: pa.DataType) -> str | None:
    if _is_string(t):
        return "string"
    if pa.types.is_date32(t):
        return "date"
    if pa.types.is_integer(t):
        return "integer"
    return None


@dataclass(frozen=True)
class TableSpec:
    """A lake table: `schema` includes the partition columns, which live in the path, not the files."""

    name: str
    schema: pa.Schema
    partition_by: tuple[str, ...] = ()
    primary_key: tuple[str, ...] = ()
    description: str = ""
    # Columns whose values are nearly all distinct (ids, times): stored without dictionary
    # encoding, which for them only costs write time and file size.
    plain_columns: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not _TABLE_NAME.match(self.name):
            raise SchemaError(
                f"table name {self.name!r} is invalid: use lower-case letters, digits and '_', "
                "starting with a letter (names starting with '_' are reserved for the lake)"
            )
        if not isinstance(self.schema, pa.Schema):
            raise SchemaError(
                f"table {self.name!r}: schema must be a pyarrow.Schema, got {type(self.schema)}"
            )
        object.__setattr__(self, "partition_by", tuple(self.partition_by))
        object.__setattr__(self, "primary_key", tuple(self.primary_key))
        object.__setattr__(self, "plain_columns", tuple(self.plain_columns))
        names = self.schema.names
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise SchemaError(f"table {self.name!r}: duplicate column names {duplicates}")
        groups = (
            ("partition_by", self.partition_by),
            ("primary_key", self.primary_key),
            ("plain_columns", self.plain_columns),
        )
        for group, columns in groups:
            unknown = [c for c in columns if c not in names]
            if unknown:
                raise SchemaError(f"table {self.name!r}: {group} names columns {unknown} not in the schema")
            if len(set(columns)) != len(columns):
                raise SchemaError(f"table {self.name!r}: {group} repeats a column: {columns}")
        for column in self.partition_by:
            field = self.schema.field(column)
            if _partition_kind(field.type) is None:
                raise SchemaError(
                    f"table {self.name!r}: partition column {column!r} has type {field.type}; "
                    "partition columns must be string, date32 or integer"
                )
        in_path = [c for c in self.plain_columns if c in self.partition_by]
        if in_path:
            raise SchemaError(f"table {self.name!r}: plain_columns names partition columns {in_path}")
        if len(self.partition_by) == len(names):
            raise SchemaError(f"table {self.name!r}: every column is a partition column; add a data column")
        for field in self.schema:
            if pa.types.is_timestamp(field.type) and field.type.tz not in ("UTC", "+00:00", "Etc/UTC"):
                raise SchemaError(
                    f"table {self.name!r}: column {field.name!r} is {field.type}; the lake stores times as "
                    "timestamps with time zone UTC, e.g. pa.timestamp('us', tz='UTC')"
                )

    @property
    def data_schema(self) -> pa.Schema:
        """The schema stored inside each Parquet file: `schema` minus the partition columns."""
        return pa.schema([f for f in self.schema if f.name not in self.partition_by], self.schema.metadata)

    @property
    def dictionary_columns(self) -> list[str]:
        """The data columns stored with dictionary encoding: all but `plain_columns`."""
        return [n for n in self.data_schema.names if n not in self.plain_columns]

    def partition_values(
        self, partition: Mapping[str, object], *, partial: bool = False
    ) -> dict[str, object]:
        """Check and type a partition mapping (`partial` allows a subset, for filtering reads)."""
        if not isinstance(partition, Mapping):
            raise PartitionError(f"table {self.name!r}: partition must be a mapping, got {type(partition)}")
        unknown = [k for k in partition if k not in self.partition_by]
        missing = [k for k in self.partition_by if k not in partition]
        if unknown or (missing and not partial):
            raise PartitionError(
                f"table {self.name!r} is partitioned by {list(self.partition_by)}; got {dict(partition)} "
                f"(unknown: {unknown}, missing: {missing})"
            )
        return {c: self._typed_value(c, partition[c]) for c in self.partition_by if c in partition}

    def _typed_value(self, column: str, value: object) -> object:
        kind = _partition_kind(self.schema.field(column).type)
        where = f"table {self.name!r}, partition column {column!r}"
        if kind == "date":
            if isinstance(value, dt.datetime) or not isinstance(value, dt.date | str):
                raise PartitionError(f"{where}: expected a datetime.date or 'YYYY-MM-DD', got {value!r}")
            if isinstance(value, str):
                try:
                    if len(value) != 10:
                        raise ValueError(value)
                    value = dt.date.fromisoformat(value)
                except ValueError:
                    raise PartitionError(f"{where}: expected 'YYYY-MM-DD', got {value!r}") from None
            return value
        if kind == "integer":
            if isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value):
                value = int(value)
            if isinstance(value, bool) or not isinstance(value, int):
                raise PartitionError(f"{where}: expected an integer, got {value!r}")
            return value
        if not isinstance(value, str) or not _SAFE_VALUE.match(value):
            raise PartitionError(
                f"{where}: expected a non-empty string of letters, digits and '_.+:-' "
                f"(not starting with '.'), got {value!r}"
            )
        return value

    def partition_path(self, values: Mapping[str, object]) -> str:
        """`col=value/...` segments for a typed, complete partition ('' for unpartitioned tables)."""
        return "/".join(f"{c}={format_value(values[c])}" for c in self.partition_by)

    def parse_segment(self, column: str, segment: str) -> object | None:
        """The typed value of a `column=value` path segment, or None if it is not one."""
        prefix = f"{column}="
        if not segment.startswith(prefix):
            return None
        try:
            return self._typed_value(column, segment[len(prefix) :])
        except PartitionError:
            return None


def format_value(value: object) -> str:
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)
