"""DuckDB view definitions over the lake's Parquet, shared by the catalog and the model runner."""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import pyarrow as pa

from pipelines.lake.lake import Lake
from pipelines.lake.spec import TableSpec


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def duckdb_types(con: duckdb.DuckDBPyConnection, schema: pa.Schema) -> dict[str, str]:
    """DuckDB's own spelling of each column type, by letting DuckDB read an empty Arrow table."""
    relation = con.from_arrow(schema.empty_table())
    return dict(zip(relation.columns, (str(t) for t in relation.types), strict=True))


def read_parquet_sql(
    lake: Lake, spec: TableSpec, con: duckdb.DuckDBPyConnection, keys: Sequence[str] | None = None
) -> str:
    """`read_parquet(...)` over every partition file of `spec`, or only the files `keys` name."""
    types = duckdb_types(con, spec.schema)
    options = ["union_by_name = true"]
    if spec.partition_by:
        hive = ", ".join(f"{quote_literal(c)}: {quote_literal(types[c])}" for c in spec.partition_by)
        options += ["hive_partitioning = true", f"hive_types = {{{hive}}}"]
    else:
        options.append("hive_partitioning = false")
    if keys is None:
        files = quote_literal(lake.table_glob(spec))
    else:
        files = "[" + ", ".join(quote_literal(lake.storage.uri(key)) for key in keys) + "]"
    return f"read_parquet({files}, {', '.join(options)})"


def table_view_sql(
    lake: Lake,
    spec: TableSpec,
    con: duckdb.DuckDBPyConnection,
    keys: Sequence[str] | None = None,
    listed: Sequence[str] | None = None,
) -> str:
    """SELECT over a table's partition files (or only the files `keys` name), columns in spec
    order and typed as the spec says. `listed`: every key under the table, from a listing the
    caller just made through the storage (`stamps`, `list_files`: it also warmed the reads), so
    the view costs no listing of its own (a request on an object store).

    Columns missing from every file (added to the spec later) read as typed NULLs; with no files
    at all the view is empty but still typed, so models and BI tools can bind to it.
    """
    lake.storage.register(con)
    types = duckdb_types(con, spec.schema)
    if keys is None:
        empty = not lake.partitions(spec, listed)  # a listing unless given, which also warms the reads
    else:
        empty = not keys
        if keys:
            lake.storage.warm(spec.name)
    if empty:
        columns = ", ".join(f"CAST(NULL AS {t}) AS {quote_identifier(c)}" for c, t in types.items())
        return f"SELECT {columns} WHERE false"
    source = read_parquet_sql(lake, spec, con, keys)
    probe = con.sql(f"SELECT * FROM {source} LIMIT 0")
    present = {c: str(t) for c, t in zip(probe.columns, probe.types, strict=True)}
    columns = []
    for column, wanted in types.items():
        name = quote_identifier(column)
        if column not in present:
            columns.append(f"CAST(NULL AS {wanted}) AS {name}")
        elif present[column] != wanted:
            columns.append(f"CAST({name} AS {wanted}) AS {name}")
        else:
            columns.append(name)
    return f"SELECT {', '.join(columns)} FROM {source}"


def model_view_sql(lake: Lake, name: str) -> str:
    return f"SELECT * FROM read_parquet({quote_literal(lake.model_glob(name))})"
