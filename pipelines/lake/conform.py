"""Make incoming data exactly match a `TableSpec`, or say precisely why it cannot.

Only lossless, unsurprising conversions happen implicitly (string flavours, integer widths with
overflow checks, decimal rescaling without loss, time units without truncation, all-null columns).
Anything that could change values (float -> decimal, naive -> UTC time, text -> date) is refused
with a message telling the caller what to convert.
"""

from __future__ import annotations

from collections.abc import Mapping

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.lake.errors import SchemaError
from pipelines.lake.spec import TableSpec


def to_arrow(data: pa.Table | pl.DataFrame, table: str) -> pa.Table:
    if isinstance(data, pl.DataFrame):
        return data.to_arrow()
    if isinstance(data, pa.Table):
        return data
    raise SchemaError(f"table {table!r}: expected a pyarrow.Table or polars.DataFrame, got {type(data)}")


def _string_like(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)


def _binary_like(t: pa.DataType) -> bool:
    return pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_binary_view(t)


def _list_like(t: pa.DataType) -> bool:
    return pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_list_view(t)


def _refusal(got: pa.DataType, expected: pa.DataType) -> str | None:
    """Why `got` may not be cast implicitly to `expected`, or None if the cast is allowed."""
    if got == expected or pa.types.is_null(got):
        return None
    if pa.types.is_dictionary(got):
        return _refusal(got.value_type, expected)
    checks = [
        (_string_like, _string_like),
        (_binary_like, _binary_like),
        (pa.types.is_integer, pa.types.is_integer),
        (pa.types.is_integer, pa.types.is_floating),
        (pa.types.is_integer, pa.types.is_decimal),
        (pa.types.is_decimal, pa.types.is_decimal),
        (pa.types.is_date, pa.types.is_date),
        (pa.types.is_time, pa.types.is_time),
        (pa.types.is_duration, pa.types.is_duration),
        (pa.types.is_boolean, pa.types.is_boolean),
    ]
    if any(a(got) and b(expected) for a, b in checks):
        return None
    if pa.types.is_floating(got) and pa.types.is_floating(expected):
        return None if got.bit_width <= expected.bit_width else "narrowing a float loses precision"
    if pa.types.is_timestamp(got) and pa.types.is_timestamp(expected):
        if got.tz is None:
            return (
                "naive timestamps are ambiguous; attach UTC first "
                "(Polars: .dt.replace_time_zone('UTC'), pyarrow: pa.timestamp(unit, tz='UTC'))"
            )
        return None
    if (_list_like(got) and _list_like(expected)) or (
        pa.types.is_fixed_size_list(got) and _list_like(expected)
    ):
        return _refusal(got.value_type, expected.value_type)
    if pa.types.is_struct(got) and pa.types.is_struct(expected):
        got_names = [f.name for f in got]
        if got_names != [f.name for f in expected]:
            return f"struct fields {got_names} differ from {[f.name for f in expected]}"
        for g, e in zip(got, expected, strict=True):
            reason = _refusal(g.type, e.type)
            if reason:
                return f"struct field {g.name!r}: {reason}"
        return None
    if pa.types.is_map(got) and pa.types.is_map(expected):
        return _refusal(got.key_type, expected.key_type) or _refusal(got.item_type, expected.item_type)
    if pa.types.is_floating(got) and pa.types.is_decimal(expected):
        return (
            "money must not pass through floats; build the column from Decimal or strings "
            "(e.g. json.loads(body, parse_float=decimal.Decimal)) or cast it yourself"
        )
    return f"convert the column to {expected} before writing"


def _cast_column(spec: TableSpec, field: pa.Field, column: pa.ChunkedArray) -> pa.ChunkedArray:
    where = f"table {spec.name!r}, column {field.name!r}: expected {field.type}, got {column.type}"
    reason = _refusal(column.type, field.type)
    if reason:
        raise SchemaError(f"{where}; {reason}")
    if column.type == field.type:
        return column
    try:
        return column.cast(field.type, safe=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
        raise SchemaError(f"{where}; the values do not fit: {error}") from None


def conform(
    spec: TableSpec, partition: Mapping[str, object], data: pa.Table | pl.DataFrame, *, check_key: bool = True
) -> pa.Table:
    """`data` cast to `spec.data_schema` (partition columns checked, then dropped), or SchemaError.
    `check_key=False` leaves the primary key to the caller (a streamed write checks the whole
    partition once it is written, see `check_primary_key_file`)."""
    table = to_arrow(data, spec.name)
    names = table.column_names
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise SchemaError(f"table {spec.name!r}: the data repeats columns {repeated}")
    if table.num_columns == 0 and table.num_rows == 0:
        return spec.data_schema.empty_table()  # "loaded, no rows": a frame with nothing in it at all
    extra = [n for n in names if n not in spec.schema.names]
    if extra:
        raise SchemaError(
            f"table {spec.name!r}: columns {extra} are not in the schema (columns: {spec.schema.names}); "
            "drop them or add them to the TableSpec"
        )
    missing = [n for n in spec.schema.names if n not in names and n not in spec.partition_by]
    if missing:
        raise SchemaError(f"table {spec.name!r}: the data lacks columns {missing}")

    for column_name in spec.partition_by:
        if column_name in names:
            _check_partition_column(spec, column_name, partition[column_name], table.column(column_name))

    arrays = []
    for field in spec.data_schema:
        column = _cast_column(spec, field, table.column(field.name))
        if not field.nullable and column.null_count:
            raise SchemaError(
                f"table {spec.name!r}, column {field.name!r} is declared NOT NULL "
                f"but has {column.null_count} null value(s)"
            )
        arrays.append(column)
    result = pa.Table.from_arrays(arrays, schema=spec.data_schema)
    if check_key:
        _check_primary_key(spec, partition, result)
    return result


def _check_partition_column(spec: TableSpec, name: str, expected: object, column: pa.ChunkedArray) -> None:
    field = spec.schema.field(name)
    column = _cast_column(spec, field, column)
    if len(column) == 0:
        return
    matches = pc.fill_null(pc.equal(column, pa.scalar(expected, field.type)), False)
    wrong = len(column) - pc.sum(matches.cast(pa.int64())).as_py()
    if wrong:
        first = column.filter(pc.invert(matches))[0].as_py()
        raise SchemaError(
            f"table {spec.name!r}: {wrong} row(s) have {name}={first!r} (or null) but the partition being "
            f"written is {name}={expected!r}; split the data by partition before writing"
        )


def _key_error(spec: TableSpec, partition: Mapping[str, object], repeated: int, example: dict) -> SchemaError:
    return SchemaError(
        f"table {spec.name!r}: primary key {list(spec.primary_key)} is not unique in partition "
        f"{dict(partition)}: {repeated} key(s) repeat, e.g. {example}; "
        "deduplicate before writing"
    )


def checks_key(spec: TableSpec) -> bool:
    """Whether a write verifies `spec`'s primary key: it checks the key columns that vary within
    a partition, so a key made of partition columns only is left to the table's checks."""
    return any(c not in spec.partition_by for c in spec.primary_key)


def _check_primary_key(spec: TableSpec, partition: Mapping[str, object], table: pa.Table) -> None:
    """Within a partition, key columns must be non-null and unique ("no duplicates, ever").

    Hashed by Polars (a pyarrow group_by took ~1 s per million rows, longer than the write)."""
    key = [c for c in spec.primary_key if c not in spec.partition_by]
    if not key or table.num_rows == 0:
        return
    for column in key:
        nulls = table.column(column).null_count
        if nulls:
            raise SchemaError(f"table {spec.name!r}: primary key column {column!r} has {nulls} null value(s)")
    keys = pl.from_arrow(table.select(key))
    assert isinstance(keys, pl.DataFrame)
    duplicated = keys.filter(keys.is_duplicated())
    if duplicated.height:
        raise _key_error(spec, partition, duplicated.unique().height, duplicated.row(0, named=True))


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def check_primary_key_file(spec: TableSpec, partition: Mapping[str, object], path: str) -> None:
    """`_check_primary_key` over a written Parquet file, by DuckDB (bounded memory, spills to
    disk), for partitions written batch by batch."""
    key = [c for c in spec.primary_key if c not in spec.partition_by]
    if not key:
        return
    columns = ", ".join(_identifier(c) for c in key)
    source = "read_parquet('" + path.replace("'", "''") + "')"
    with duckdb.connect() as con:
        con.execute("SET memory_limit = '256MB'")
        con.execute("SET threads = 2")
        for column in key:
            nulls = con.execute(f"SELECT count(*) FROM {source} WHERE {_identifier(column)} IS NULL")
            count = nulls.fetchone()[0]  # type: ignore[index]
            if count:
                raise SchemaError(
                    f"table {spec.name!r}: primary key column {column!r} has {count} null value(s)"
                )
        repeated = con.execute(
            f"SELECT {columns}, count(*) OVER () AS _repeated FROM {source} "
            f"GROUP BY ALL HAVING count(*) > 1 LIMIT 1"
        ).fetchone()
    if repeated:
        raise _key_error(spec, partition, int(repeated[-1]), dict(zip(key, repeated[:-1], strict=True)))
