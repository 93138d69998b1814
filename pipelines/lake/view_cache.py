"""TEMP views of tables, staging models and marts, re-created on a connection only when what
they are made of changed.

Every mart build, check and staging-model step binds the views of what it reads; a table's view
probes its files' schemas (a year of daily traffic: 365 footers, ~35 ms) and each staging view
binds again over it. A build of every model on one connection did that ~30 times for unchanged
files (~0.6 s of a nightly incremental build, bench/README.md "Incremental builds"). So each view
records, in a DuckDB variable of its connection, a key of what it was made from (a table: where
its files are, their write stamps and its column types; a mart: where and its files' stamps; a
staging model: its SQL and the keys of the views it reads), and is left as it is when the key is
the same (so also across lakes: two buckets with equal files have different keys). Code
that points a view at something else (a restricted or carried input) calls `forget`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable

import duckdb

from pipelines.lake.lake import PART_FILE, Lake
from pipelines.lake.spec import MODELS_FOLDER, TableSpec
from pipelines.lake.views import duckdb_types, model_view_sql, quote_identifier, table_view_sql

_VARIABLE = "lake_view_key_"
_BODIES: dict[tuple[str, str], str] = {}  # (table, key) -> its view's SQL, for re-pointing a view back
_MAX_BODIES = 256


def _digest(parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def current_key(con: duckdb.DuckDBPyConnection, name: str) -> str | None:
    """The key the view `name` was last made from on `con` (None: unknown or pointed elsewhere)."""
    ((value,),) = con.execute("SELECT getvariable(?)", [_VARIABLE + name]).fetchall()
    return None if value is None else str(value)


def _set(con: duckdb.DuckDBPyConnection, name: str, body: str, key: str | None) -> None:
    con.execute(f"CREATE OR REPLACE TEMP VIEW {quote_identifier(name)} AS {body}")
    if key is None:
        forget(con, name)
    else:
        con.execute(f"SET VARIABLE {quote_identifier(_VARIABLE + name)} = ?", [key])


def forget(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """The view `name` no longer shows what its key says (it was pointed at other rows)."""
    con.execute(f"RESET VARIABLE {quote_identifier(_VARIABLE + name)}")


def table_view(lake: Lake, con: duckdb.DuckDBPyConnection, spec: TableSpec) -> str:
    """Make (or keep) the TEMP view of the table `spec` over all its files; returns its key."""
    listing = lake.storage.stamps(spec.name)  # one listing: it also warms the reads of the view below
    stamps = sorted((k, v) for k, v in listing.items() if k.endswith("/" + PART_FILE))
    key = _digest(["table", lake.storage.uri(spec.name), stamps, duckdb_types(con, spec.schema)])
    if current_key(con, spec.name) == key:
        return key
    body = _BODIES.get((spec.name, key))
    if body is None:
        body = table_view_sql(lake, spec, con, listed=sorted(listing))
        if len(_BODIES) >= _MAX_BODIES:
            _BODIES.clear()
        _BODIES[(spec.name, key)] = body
    _set(con, spec.name, body, key)
    return key


def mart_view(lake: Lake, con: duckdb.DuckDBPyConnection, name: str) -> str:
    """Make (or keep) the TEMP view of the mart `name` over its files; returns its key."""
    top = f"{MODELS_FOLDER}/{name}/"
    stamps = sorted(
        (k, v)
        for k, v in lake.storage.stamps(f"{MODELS_FOLDER}/{name}").items()
        if k.endswith(".parquet") and "/" not in k.removeprefix(top)
    )
    key = _digest(["mart", lake.storage.uri(f"{MODELS_FOLDER}/{name}"), stamps])
    if current_key(con, name) != key:
        _set(con, name, model_view_sql(lake, name), key)
    return key


def staging_view(con: duckdb.DuckDBPyConnection, name: str, sql: str, reads: Iterable[str | None]) -> None:
    """Make (or keep) the TEMP view of a staging model: its SQL over the views `reads` keys name
    (a None key, a view pointed elsewhere, always re-creates it)."""
    keys = list(reads)
    key = None if any(k is None for k in keys) else _digest(["staging", name, sql, keys])
    if key is None or current_key(con, name) != key:
        _set(con, name, sql, key)


def view_columns(con: duckdb.DuckDBPyConnection, name: str) -> tuple[str, ...]:
    """The columns of the TEMP view `name` as the catalog holds them since it was made (bound
    then), without binding it again: a relation over the view binds it anew, ~4 ms over a year
    of traffic files, ~25 times a build. Anything else named `name` is bound."""
    rows = con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE database_name = 'temp' AND table_name = ? "
        "ORDER BY column_index",
        [name],
    ).fetchall()
    if not rows:  # not a TEMP view: whatever it is, bind it
        return tuple(con.table(name).columns)
    return tuple(str(column) for (column,) in rows)


def remembered(con: duckdb.DuckDBPyConnection, name: str, what: str, compute: Callable[[], str]) -> str:
    """`compute()`, a figure over the view `name` (e.g. a dimension's content hash), kept on the
    connection for as long as the view's key is the same (computed again when it has none)."""
    key = current_key(con, name)
    if key is None:
        return compute()
    variable = "lake_memo_" + _digest([name, what])
    ((held,),) = con.execute("SELECT getvariable(?)", [variable]).fetchall()
    if isinstance(held, str) and held.startswith(key + "\t"):
        return held.removeprefix(key + "\t")
    value = compute()
    con.execute(f"SET VARIABLE {quote_identifier(variable)} = ?", [f"{key}\t{value}"])
    return value
