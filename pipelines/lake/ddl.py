"""`external_table_ddl`: CREATE statements that expose the lake to Trino, Athena or Spark.

For users who outgrow DuckDB: the lake's Hive layout is what those engines read natively, so one
statement per table (partition columns from the folder names, the same types: strings for ids,
DECIMAL money, timestamps that are UTC instants) is all they need. Each statement is checked by
parsing it with sqlglot in its dialect before it is returned.
"""

from __future__ import annotations

from collections.abc import Iterable

import pyarrow as pa
import sqlglot
from sqlglot import exp

from pipelines.lake.errors import LakeError
from pipelines.lake.lake import Lake
from pipelines.lake.spec import TableSpec

DIALECTS = ("trino", "athena", "spark")


def _hive_type(t: pa.DataType) -> str:
    """Hive DDL type (Athena, Spark). Timestamps are UTC instants in the files (isAdjustedToUTC)."""
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "STRING"
    if pa.types.is_list(t):
        return f"ARRAY<{_hive_type(t.value_type)}>"
    return _common_type(t, {8: "TINYINT", 16: "SMALLINT", 32: "INT", 64: "BIGINT"}, "TIMESTAMP")


def _trino_type(t: pa.DataType) -> str:
    """Trino Hive-connector type; its Hive tables have no zoned timestamps: values are UTC."""
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "VARCHAR"
    if pa.types.is_list(t):
        return f"ARRAY({_trino_type(t.value_type)})"
    return _common_type(t, {8: "TINYINT", 16: "SMALLINT", 32: "INTEGER", 64: "BIGINT"}, "TIMESTAMP(6)")


def _common_type(t: pa.DataType, integers: dict[int, str], timestamp: str) -> str:
    if pa.types.is_integer(t):
        return integers[t.bit_width]
    if pa.types.is_boolean(t):
        return "BOOLEAN"
    if pa.types.is_decimal(t):
        return f"DECIMAL({t.precision}, {t.scale})"
    if pa.types.is_float64(t):
        return "DOUBLE"
    if pa.types.is_float32(t):
        return "REAL"
    if pa.types.is_date(t):
        return "DATE"
    if pa.types.is_timestamp(t):
        return timestamp
    raise LakeError(f"no external-table type for the Arrow type {t}")


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _location(lake: Lake, spec: TableSpec) -> str:
    uri = lake.storage.uri(spec.name)
    return uri if "://" in uri else f"file://{uri}"


def _trino(lake: Lake, spec: TableSpec) -> str:
    def q(name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    # Trino's Hive connector wants the partition columns last.
    fields = [f for f in spec.schema if f.name not in spec.partition_by]
    fields += [spec.schema.field(c) for c in spec.partition_by]
    columns = ",\n".join(f"  {q(f.name)} {_trino_type(f.type)}" for f in fields)
    properties = ["format = 'PARQUET'", f"external_location = {_literal(_location(lake, spec))}"]
    if spec.partition_by:
        properties.append(f"partitioned_by = ARRAY[{', '.join(_literal(c) for c in spec.partition_by)}]")
    return (
        f"CREATE TABLE IF NOT EXISTS {q(spec.name)} (\n{columns}\n)\n"
        f"COMMENT {_literal(spec.description)}\nWITH ({', '.join(properties)})"
    )


def _hive(lake: Lake, spec: TableSpec) -> str:
    def q(name: str) -> str:
        return "`" + name.replace("`", "``") + "`"

    columns = ",\n".join(
        f"  {q(f.name)} {_hive_type(f.type)}" for f in spec.schema if f.name not in spec.partition_by
    )
    partitioned = ""
    if spec.partition_by:
        parts = ", ".join(f"{q(c)} {_hive_type(spec.schema.field(c).type)}" for c in spec.partition_by)
        partitioned = f"PARTITIONED BY ({parts})\n"
    return (
        f"CREATE EXTERNAL TABLE IF NOT EXISTS {q(spec.name)} (\n{columns}\n)\n"
        f"COMMENT {_literal(spec.description)}\n{partitioned}"
        f"STORED AS PARQUET\nLOCATION {_literal(_location(lake, spec) + '/')}"
    )


def external_table_ddl(lake: Lake, specs: Iterable[TableSpec], dialect: str) -> list[str]:
    """One CREATE statement per table for `dialect` (trino, athena or spark), each parsed by sqlglot
    in that dialect (a `LakeError` if one does not parse: it would be a bug here)."""
    if dialect not in DIALECTS:
        raise LakeError(f"unknown DDL dialect {dialect!r}: use one of {', '.join(DIALECTS)}")
    build = _trino if dialect == "trino" else _hive
    statements = []
    for spec in specs:
        statement = build(lake, spec)
        try:
            parsed = sqlglot.parse_one(statement, read=dialect)
        except sqlglot.errors.ParseError as error:
            raise LakeError(f"{dialect} DDL of {spec.name!r} does not parse: {error}") from error
        if not isinstance(parsed, exp.Create):
            raise LakeError(f"{dialect} DDL of {spec.name!r} is not a CREATE statement")
        statements.append(statement)
    return statements


def after_ddl_hint(dialect: str) -> str:
    """What to run once the tables exist, so the engine finds the partitions already written."""
    if dialect == "trino":
        return "CALL system.sync_partition_metadata('<schema>', '<table>', 'ADD')  -- per table"
    return "MSCK REPAIR TABLE <table>  -- per table (Athena: or partition projection)"
