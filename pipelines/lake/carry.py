"""A carried input of an incremental mart build: the rows of its older files that can still matter.

`apply_carry` points the TEMP view of a `carried by` table (session events) at its newer files
plus what the mart's carry query keeps of the files before the boundary day. Reading every older
file each night made the carry grow with the history kept, so each carry is stored beside the
mart (`_models/<mart>/_carry/<table>.*`, a folder the mart's `*.parquet` glob and its readers do
not see) and the next build starts from it: the older files are then the stored rows plus the
files between the stored boundary and the new one, when (and only when) all of these hold:

- every file before the new boundary is the one the stored carry's build saw (same stamps, none
  added or removed): a re-load, backfill or retention of an older day means reading the files;
- the stored boundary is not after the new one, and the carry query and column types are the same.

Why the stored rows stand in for the files before the stored boundary E (A): the carry query's
proof says the sessions it dropped from A ended before E and have no event in the files from E
on that its build read; the files between E and the new boundary E' are those same files
(unchanged), so those sessions are still closed at E', never lie between a kept session and its
next one, and every kept session of A is in the stored rows with all its events. The query then
keeps the same sessions from the stored rows plus those files as from the files themselves. One
case it cannot see: a session of the newer files that A held but the carry dropped (the
query's fallback fires on it when it has the older rows). For that the store keeps a 64-bit
hash (md5) of every session key in the older files: a newer session that is not in the rows read
but whose hash is stored means reading the files again (a hash collision only costs that
re-read). When the query falls back to every older row (carry_whole), the files are read and no
carry is stored.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import duckdb
import pyarrow.parquet as pq

from pipelines.lake.errors import ModelError
from pipelines.lake.lake import COMPRESSION, Lake
from pipelines.lake.spec import MODELS_FOLDER, TableSpec
from pipelines.lake.view_cache import forget
from pipelines.lake.views import duckdb_types, quote_identifier, quote_literal, table_view_sql

CARRY_FOLDER = "_carry"
CARRY_VERSION = 1
WHOLE_COLUMN = "carry_whole"  # the carry query's flag: true when it returned every older row
_EPOCH_DAY = date(1970, 1, 1).toordinal()
# The session key whose hashes are stored: one session of one SIM.
_KEY = "md5_number_lower(concat_ws(chr(0), coverage, sim_id, session_id))"


@dataclass(frozen=True)
class CarryFile:
    """An older file of the carried table: its key, its day (ordinal) and its write stamp."""

    key: str
    day: int
    stamp: str


@dataclass(frozen=True)
class Carried:
    """What `apply_carry` did: `stored` whether it started from the stored carry, `whole` whether
    the query kept every older row (its proof did not hold), `rows` how many older rows it kept."""

    stored: bool
    whole: bool
    rows: int


def _store_key(mart: str, table: str, suffix: str) -> str:
    return f"{MODELS_FOLDER}/{mart}/{CARRY_FOLDER}/{table}.{suffix}"


def apply_carry(
    lake: Lake,
    con: duckdb.DuckDBPyConnection,
    spec: TableSpec,
    select: str,
    older: Sequence[CarryFile],
    newer: Sequence[CarryFile],
    boundary_day: int,
    mart: str | None = None,
) -> Carried:
    """Point the TEMP view named after `spec` at its files `newer` plus the rows the carry query
    `select` keeps of the files `older` (the rows that can still matter from `boundary_day` on;
    the query's argument for that is in its SQL file). The query reads the TEMP views
    `carry_older` and `carry_newer` and `carry_boundary.boundary_ms`, the start of that day, and
    returns the kept rows plus a boolean column `carry_whole`. With `mart`, the carry is stored
    beside the mart and the next build starts from it when it can (module docstring)."""
    boundary_ms = (boundary_day - _EPOCH_DAY) * 86_400_000
    body = table_view_sql(lake, spec, con, [f.key for f in newer])
    con.execute(f"CREATE OR REPLACE TEMP VIEW carry_newer AS {body}")
    con.execute(
        "CREATE OR REPLACE TEMP TABLE carry_boundary AS SELECT CAST($1 AS BIGINT) AS boundary_ms",
        [boundary_ms],
    )
    types = duckdb_types(con, spec.schema)
    fingerprint = hashlib.sha256(json.dumps([select, types]).encode()).hexdigest()
    meta = _stored(lake, mart, spec.name, fingerprint, older, boundary_day) if mart else None
    carried = None
    if meta is not None:
        carried = _from_store(lake, con, spec, select, older, meta, types)
    stored = carried is not None
    if carried is None:
        body = table_view_sql(lake, spec, con, [f.key for f in older])
        con.execute(f"CREATE OR REPLACE TEMP VIEW carry_older AS {body}")
        carried = _run(con, select)
        keys = f"SELECT DISTINCT {_KEY} AS session_key FROM carry_older"
    else:
        since = [f.key for f in older if f.day >= int(meta["boundary_day"])]
        body = table_view_sql(lake, spec, con, since)
        keys = (
            f"SELECT session_key FROM read_parquet({quote_literal(lake.storage.uri(meta['keys']))}) "
            f"UNION SELECT {_KEY} FROM ({body})"
        )
    forget(con, spec.name)
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {quote_identifier(spec.name)} AS "
        f"SELECT * EXCLUDE ({WHOLE_COLUMN}) FROM carry_rows UNION ALL BY NAME SELECT * FROM carry_newer"
    )
    if mart:
        if carried.whole:
            for suffix in ("json", "rows.parquet", "keys.parquet"):
                lake.storage.delete(_store_key(mart, spec.name, suffix))
        else:
            _store(lake, con, mart, spec.name, fingerprint, [*older, *newer], boundary_day, keys)
    return Carried(stored, carried.whole, carried.rows)


def _run(con: duckdb.DuckDBPyConnection, select: str) -> Carried:
    con.execute(f"CREATE OR REPLACE TEMP TABLE carry_rows AS {select}")
    if WHOLE_COLUMN not in con.table("carry_rows").columns:
        raise ModelError(f"a carry query must return the boolean column {WHOLE_COLUMN!r} beside the rows")
    flag = f"coalesce(bool_or({WHOLE_COLUMN}), false)"
    ((rows, whole),) = con.execute(f"SELECT count(*), {flag} FROM carry_rows").fetchall()
    return Carried(False, bool(whole), int(rows))


def _stored(
    lake: Lake, mart: str, table: str, fingerprint: str, older: Sequence[CarryFile], boundary_day: int
) -> Mapping[str, object] | None:
    """The stored carry's description when the build may start from it (module docstring)."""
    try:
        with lake.storage.open_read(_store_key(mart, table, "json")) as handle:
            meta = json.loads(handle.read())
    except (FileNotFoundError, ValueError):
        return None
    if not isinstance(meta, dict) or (meta.get("version"), meta.get("fingerprint")) != (
        CARRY_VERSION,
        fingerprint,
    ):
        return None
    seen = meta.get("files")
    stored_boundary = meta.get("boundary_day")
    if not isinstance(seen, dict) or not isinstance(stored_boundary, int) or stored_boundary > boundary_day:
        return None
    before = {key: stamp for key, (day, stamp) in seen.items() if day < boundary_day}
    if before != {f.key: f.stamp for f in older}:
        return None
    return meta


def _from_store(
    lake: Lake,
    con: duckdb.DuckDBPyConnection,
    spec: TableSpec,
    select: str,
    older: Sequence[CarryFile],
    meta: Mapping[str, object],
    types: Mapping[str, str],
) -> Carried | None:
    """Run the carry over the stored rows plus the older files since the stored boundary; None
    when it cannot stand in for the files (a token mismatch, a newer session the stored hashes
    know but the rows read do not, or the query's fallback)."""
    rows_key, keys_key = str(meta["rows"]), str(meta["keys"])
    for key in (rows_key, keys_key):
        try:
            with lake.storage.open_read(key) as handle:
                token = (pq.ParquetFile(handle).schema_arrow.metadata or {}).get(b"carry_token")
        except FileNotFoundError:
            return None
        if token != str(meta["token"]).encode():
            return None
    columns = ", ".join(
        f"CAST({quote_identifier(c)} AS {t}) AS {quote_identifier(c)}" for c, t in types.items()
    )
    stored = f"SELECT {columns} FROM read_parquet({quote_literal(lake.storage.uri(rows_key))})"
    since = [f.key for f in older if f.day >= int(meta["boundary_day"])]
    body = table_view_sql(lake, spec, con, since)
    con.execute(f"CREATE OR REPLACE TEMP VIEW carry_older AS {stored} UNION ALL {body}")
    ((unseen,),) = con.execute(
        f"""
        SELECT count(*) FROM (
            SELECT DISTINCT coverage, sim_id, session_id FROM carry_newer
            ANTI JOIN (SELECT DISTINCT coverage, sim_id, session_id FROM carry_older)
                USING (coverage, sim_id, session_id)
        )
        WHERE {_KEY} IN (SELECT session_key FROM read_parquet({quote_literal(lake.storage.uri(keys_key))}))
        """
    ).fetchall()
    if unseen:
        return None
    carried = _run(con, select)
    return None if carried.whole else carried


def _store(
    lake: Lake,
    con: duckdb.DuckDBPyConnection,
    mart: str,
    table: str,
    fingerprint: str,
    seen: Sequence[CarryFile],
    boundary_day: int,
    keys: str,
) -> None:
    """Write the kept rows and the older files' session-key hashes, then the description naming
    them (a token in all three ties them together: a crash between writes leaves no usable carry)."""
    token = uuid.uuid4().hex
    for suffix, query in (
        ("rows.parquet", f"SELECT * EXCLUDE ({WHOLE_COLUMN}) FROM carry_rows"),
        ("keys.parquet", keys),
    ):
        table_rows = con.sql(query).to_arrow_table().replace_schema_metadata({"carry_token": token})
        with lake.storage.atomic_write(_store_key(mart, table, suffix)) as temp:
            pq.write_table(table_rows, temp, compression=COMPRESSION)
    meta = {
        "version": CARRY_VERSION,
        "fingerprint": fingerprint,
        "boundary_day": boundary_day,
        "token": token,
        "rows": _store_key(mart, table, "rows.parquet"),
        "keys": _store_key(mart, table, "keys.parquet"),
        "files": {f.key: [f.day, f.stamp] for f in seen},  # older and newer: see _stored
    }
    with (
        lake.storage.atomic_write(_store_key(mart, table, "json")) as temp,
        open(temp, "x", encoding="utf-8") as handle,
    ):
        json.dump(meta, handle, sort_keys=True)
