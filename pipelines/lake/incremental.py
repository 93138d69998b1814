"""Incremental mart builds: rebuild only the partitions whose inputs changed since the last build.

A mart's folder `<lake>/_models/<name>/` holds, besides its Parquet, `_state.json`: what the last
build saw (the mart's definition hash, a content hash of each dimension it reads whole, and the
write stamp of every input file: size + mtime + inode locally, ETag on an object store; a
rewritten file always gets a new stamp, wall-clock time alone is never trusted). The next build
compares: a changed definition, dimension or whole input (or `full_refresh`, or no state) means
a full rebuild; otherwise only the partitions reached by the changed input partitions are
recomputed, from views restricted to the input files they read, and written; every other file is
left alone. A rewritten partition whose bytes come out equal is not replaced either, so marts
reading it see no change. Unpartitioned marts are skipped when nothing they read changed.

Partitioned layout: `<col>=<value>.parquet` per partition (rows sorted by the grain) and an
empty `part-0.parquet` carrying the schema, so the mart's `*.parquet` glob binds even with no
partition. Leading `_` keeps `_state.json` out of Hive-style readers (Athena, Trino, Spark).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipelines.lake.errors import ModelError
from pipelines.lake.lake import COMPRESSION, PART_FILE, Lake, WriteResult
from pipelines.lake.partitioning import END, Partitioning, unit_of, unit_value
from pipelines.lake.spec import MODELS_FOLDER, TableSpec
from pipelines.lake.views import quote_identifier, quote_literal, table_view_sql

STATE_FILE = "_state.json"
STATE_VERSION = 1
STREAM_BATCH_ROWS = 131_072
WRITERS = 2  # partition files written at once (Parquet encoding releases the GIL)


@dataclass(frozen=True)
class Input:
    """A table (`spec` set) or a mart the build reads, and where its files are."""

    name: str
    spec: TableSpec | None = None

    @property
    def folder(self) -> str:
        return self.spec.name if self.spec is not None else f"{MODELS_FOLDER}/{self.name}"

    def stamps(self, lake: Lake) -> dict[str, str]:
        """Stamps of its data files (no temp files, no state, no schema file)."""
        found = lake.storage.stamps(self.folder)
        if self.spec is not None:
            return {k: v for k, v in found.items() if k.endswith("/" + PART_FILE)}
        return {k: v for k, v in found.items() if k.endswith(".parquet")}


@dataclass(frozen=True)
class MartBuild(WriteResult):
    """A mart build: totals over its files, and what this build did (partitioned marts list
    their partition values; an unpartitioned mart only says whether it was `skipped`)."""

    full: bool = False
    written: tuple[str, ...] = ()  # partition values whose file was replaced
    unchanged: tuple[str, ...] = ()  # recomputed, same bytes: left alone
    deleted: tuple[str, ...] = ()  # no rows any more: file removed
    skipped: bool = False  # nothing it reads changed: nothing recomputed


def _mart_partition(key: str) -> tuple[str, str] | None:
    """(`column`, `value`) of a partition file `..._models/<name>/<column>=<value>.parquet`."""
    name = key.rsplit("/", 1)[-1]
    if not name.endswith(".parquet") or "=" not in name:
        return None
    column, value = name.removesuffix(".parquet").split("=", 1)
    return column, value


def _input_value(source: Input, key: str, column: str) -> str:
    if source.spec is None:
        found = _mart_partition(key)
        if found is None or found[0] != column:
            raise ModelError(f"{key}: not a partition file of mart {source.name!r} by {column!r}")
        return found[1]
    for segment in key.split("/"):
        if segment.startswith(column + "="):
            return segment[len(column) + 1 :]
    raise ModelError(f"{key}: table {source.name!r} is not partitioned by {column!r}")


def state_key(name: str) -> str:
    return f"{MODELS_FOLDER}/{name}/{STATE_FILE}"


def partition_key(name: str, column: str, value: str) -> str:
    return f"{MODELS_FOLDER}/{name}/{column}={value}.parquet"


def read_state(lake: Lake, name: str) -> dict[str, object] | None:
    """The last build's state, or None (never built incrementally, unreadable, older format)."""
    try:
        with lake.storage.open_read(state_key(name)) as handle:
            state = json.loads(handle.read())
    except (FileNotFoundError, ValueError):
        return None
    return state if isinstance(state, dict) and state.get("version") == STATE_VERSION else None


def _write_state(lake: Lake, name: str, state: Mapping[str, object]) -> None:
    with lake.storage.atomic_write(state_key(name)) as temp, open(temp, "x", encoding="utf-8") as handle:
        json.dump(state, handle, sort_keys=True, indent=1)


def dimension_hash(con: duckdb.DuckDBPyConnection, name: str, columns: Iterable[str]) -> str:
    """Row count and an order-free sum of row hashes of the dimension's `columns` (all if none)."""
    chosen = list(columns) or list(con.table(name).columns)
    listed = ", ".join(quote_identifier(c) for c in chosen)
    count, total = con.execute(
        f"SELECT count(*), CAST(coalesce(sum(CAST(hash({listed}) AS HUGEINT)), 0) AS VARCHAR) "
        f"FROM {quote_identifier(name)}"
    ).fetchall()[0]
    return f"{count}:{total}"


def _bound(con: duckdb.DuckDBPyConnection, text: str, where: str) -> int | None:
    if text == END:
        return None
    if text.startswith("report_params."):
        column = text.split(".", 1)[1]
        try:
            rows = con.execute(
                f"SELECT CAST({quote_identifier(column)} AS BIGINT) FROM report_params"
            ).fetchall()
        except duckdb.Error as error:
            raise ModelError(f"{where}: cannot read the bound {text}: {error}") from error
        if len(rows) != 1 or rows[0][0] is None:
            raise ModelError(f"{where}: the bound {text} is not one value")
        return int(rows[0][0])
    return int(text)


class _Unchanged(Exception):
    """Raised inside `atomic_write` to drop a temp file equal to the published one."""


def _same_bytes(lake: Lake, key: str, temp: str) -> bool:
    try:
        with lake.storage.open_read(key) as handle:
            old = handle.read()
    except FileNotFoundError:
        return False
    with open(temp, "rb") as handle:
        return handle.read() == old


def _write_if_changed(lake: Lake, table: pa.Table, key: str) -> bool:
    """Write `table` to `key` as Parquet unless the file there already has exactly these bytes."""
    try:
        with lake.storage.atomic_write(key) as temp:
            # No dictionary pages: a day's few thousand rows write ~1.5x faster and smaller without
            # them (zstd finds the repeats); measured on sim_daily_traffic_by_type's 365 days.
            pq.write_table(table, temp, compression=COMPRESSION, use_dictionary=False)
            if _same_bytes(lake, key, temp):
                raise _Unchanged
    except _Unchanged:
        return False
    return True


def _check_partition_column(schema: pa.Schema, column: str, unit: str, where: str) -> None:
    kind = schema.field(column).type
    if unit == "day" and not pa.types.is_date32(kind):
        raise ModelError(f"{where}: day({column}) needs a DATE column, {column!r} is {kind}")
    if unit == "month" and not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        raise ModelError(f"{where}: month({column}) needs a YYYYMM text column, {column!r} is {kind}")


def _partitions(reader: pa.RecordBatchReader, column: str, unit: str) -> Iterator[tuple[str, pa.Table]]:
    """(value, its rows as one chunk) for each partition value of a stream sorted by `column`."""
    held: list[pa.RecordBatch] = []
    value = ""
    for batch in reader:
        runs = pc.run_end_encode(batch.column(column))
        start = 0
        for run_value, end in zip(runs.values.to_pylist(), runs.run_ends.to_pylist(), strict=True):
            text = run_value.isoformat() if unit == "day" else str(run_value)
            unit_of(text, unit, column)  # a month column must hold YYYYMM (or YYYY-MM) values
            if text != value and held:
                yield value, pa.Table.from_batches(held).combine_chunks()
                held = []
            value = text
            held.append(batch.slice(start, end - start))
            start = end
    if held:
        yield value, pa.Table.from_batches(held).combine_chunks()


@dataclass
class Observed:
    """What the build reads, as it is now."""

    definition: str
    dimensions: dict[str, str]
    inputs: dict[str, dict[str, str]]
    whole: dict[str, dict[str, str]]

    def state(self, rows: Mapping[str, int], sizes: Mapping[str, int]) -> dict[str, object]:
        return {
            "version": STATE_VERSION,
            "definition": self.definition,
            "dimensions": self.dimensions,
            "inputs": self.inputs,
            "whole": self.whole,
            "rows": dict(rows),
            "bytes": dict(sizes),
        }

    def same_whole(self, state: Mapping[str, object]) -> bool:
        return (
            state.get("definition") == self.definition
            and state.get("dimensions") == self.dimensions
            and state.get("whole") == self.whole
        )


def observe(
    lake: Lake,
    con: duckdb.DuckDBPyConnection,
    definition: str,
    partitioning: Partitioning | None,
    inputs: Iterable[Input],
    whole: Iterable[Input],
) -> Observed:
    """Hash the definition and dimensions, and stamp every input file (before anything is read)."""
    digest = hashlib.sha256(definition.encode()).hexdigest()
    dimensions = {}
    if partitioning is not None:
        dimensions = {d.name: dimension_hash(con, d.name, d.columns) for d in partitioning.dimensions}
    return Observed(
        digest,
        dimensions,
        {source.name: source.stamps(lake) for source in inputs},
        {source.name: source.stamps(lake) for source in whole},
    )


def unchanged_since_last_build(lake: Lake, name: str, observed: Observed) -> bool:
    """An unpartitioned mart whose file exists and whose inputs are as its last build saw them."""
    state = read_state(lake, name)
    return (
        state is not None
        and observed.same_whole(state)
        and lake.storage.exists(f"{MODELS_FOLDER}/{name}/{PART_FILE}")
    )


def record_build(lake: Lake, name: str, observed: Observed) -> None:
    _write_state(lake, name, observed.state({}, {}))


def build_partitioned(
    lake: Lake,
    con: duckdb.DuckDBPyConnection,
    name: str,
    partitioning: Partitioning,
    grain: tuple[str, ...],
    query_for: Callable[[str | None], str],  # WHERE condition -> the mart's SELECT sorted by (column, grain)
    observed: Observed,
    inputs: list[Input],
    full_refresh: bool,
    source: str = "",
) -> MartBuild:
    """Rebuild the partitions of mart `name` that its changed inputs reach (all of them on a
    full rebuild), leave the others' files untouched, and record what this build saw."""
    unit, column = partitioning.unit, partitioning.column
    where = source or f"mart {name!r}"
    state = read_state(lake, name)
    existing = {
        found[1]: key
        for key in lake.storage.stamps(f"{MODELS_FOLDER}/{name}")
        if (found := _mart_partition(key)) is not None and found[0] == column
    }
    full = full_refresh or state is None or not observed.same_whole(state)
    by_name = {source.name: source for source in inputs}
    affected: set[int] = set()
    needed: dict[str, list[str]] = {}
    if not full:
        plan = _plan(lake, con, where, partitioning, by_name, observed, state, existing)
        if plan is None:
            full = True
        else:
            affected, needed = plan
    if not full and not affected:
        _write_state(lake, name, observed.state(state.get("rows", {}), state.get("bytes", {})))
        return _result(lake, name, state.get("rows", {}), state.get("bytes", {}), skipped=True)

    literal = _literal(unit)
    if full:
        select = query_for(None)
    else:
        for source_name, keys in needed.items():
            _restrict(lake, con, by_name[source_name], keys)
        values = ", ".join(literal(unit_value(u, unit)) for u in sorted(affected))
        select = query_for(f"{quote_identifier(column)} IN ({values})")
    rows: dict[str, int] = {} if full else dict(state.get("rows", {}))
    sizes: dict[str, int] = {} if full else dict(state.get("bytes", {}))
    written, unchanged, deleted = [], [], []
    try:
        # Sorted by (partition, grain) and streamed: each partition's rows are contiguous, become
        # one table and are written by the same code whether the build is full or incremental,
        # so both give the same bytes; one partition is held at a time, writes overlap the query.
        reader = con.sql(select).to_arrow_reader(STREAM_BATCH_ROWS)
        _check_partition_column(reader.schema, column, unit, where)
        _write_if_changed(lake, reader.schema.empty_table(), f"{MODELS_FOLDER}/{name}/{PART_FILE}")
        pending = {}
        with ThreadPoolExecutor(max_workers=WRITERS) as pool:
            for value, part in _partitions(reader, column, unit):
                rows[value] = part.num_rows
                pending[value] = pool.submit(
                    _write_if_changed, lake, part, partition_key(name, column, value)
                )
            for value, done in sorted(pending.items()):
                (written if done.result() else unchanged).append(value)
                sizes[value] = lake.storage.size(partition_key(name, column, value))
    finally:
        if not full:
            for source_name in needed:
                _restrict(lake, con, by_name[source_name], None)
    targets = set(existing) if full else {unit_value(u, unit) for u in affected}
    for value in sorted(targets - set(pending)):
        rows.pop(value, None)
        sizes.pop(value, None)
        if value in existing:
            lake.storage.delete(partition_key(name, column, value))
            deleted.append(value)
    _write_state(lake, name, observed.state(rows, sizes))
    return _result(
        lake,
        name,
        rows,
        sizes,
        full=full,
        written=tuple(written),
        unchanged=tuple(unchanged),
        deleted=tuple(deleted),
    )


def _plan(
    lake: Lake,
    con: duckdb.DuckDBPyConnection,
    where: str,
    partitioning: Partitioning,
    by_name: Mapping[str, Input],
    observed: Observed,
    state: Mapping[str, object],
    existing: Iterable[str],
) -> tuple[set[int], dict[str, list[str]]] | None:
    """The mart partitions the changed input partitions reach, and the input files that
    recomputing them reads (input partition x reaches mart partitions x+lo .. x+hi); None when
    an upstream mart's schema file changed (rebuild everything)."""
    unit = partitioning.unit
    before_all = state.get("inputs")
    before_all = before_all if isinstance(before_all, dict) else {}
    units: dict[str, dict[str, int]] = {}  # input -> key -> its partition as a mart unit
    changed: dict[str, set[str]] = {}
    for declared in partitioning.inputs:
        now, before = observed.inputs[declared.name], before_all.get(declared.name, {})
        keys = set(now) | set(before)
        source, column = by_name[declared.name], declared.column
        changed[declared.name] = {k for k in keys if now.get(k) != before.get(k)}
        if source.spec is None:  # a mart: its schema file has no partition
            if any(_mart_partition(k) is None for k in changed[declared.name]):
                return None
            keys = {k for k in keys if _mart_partition(k) is not None}
            changed[declared.name] &= keys
        units[declared.name] = {k: unit_of(_input_value(source, k, column), unit, where) for k in keys}
    # A mart partition can only hold rows where some input has a partition, or where it has a file.
    candidates = {unit_of(value, unit, where) for value in existing}
    for declared in partitioning.inputs:
        now = units[declared.name]
        candidates |= {now[k] for k in observed.inputs[declared.name] if k in now}
    reach = {d.name: (_bound(con, d.lo, where) or 0, _bound(con, d.hi, where)) for d in partitioning.inputs}
    affected: set[int] = set()
    for name, keys in changed.items():
        lo, hi = reach[name]
        for key in keys:
            x = units[name][key]
            affected |= {u for u in candidates if x + lo <= u and (hi is None or u <= x + hi)}
    needed = {}
    for name, (lo, hi) in reach.items():
        at = units[name]
        needed[name] = [
            key
            for key in sorted(k for k in observed.inputs[name] if k in at)
            if any((hi is None or u - hi <= at[key]) and at[key] <= u - lo for u in affected)
        ]
    return affected, needed


def _result(
    lake: Lake, name: str, rows: Mapping[str, int], sizes: Mapping[str, int], **what: Any
) -> MartBuild:
    return MartBuild(
        path=lake.storage.uri(f"{MODELS_FOLDER}/{name}"),
        rows=sum(rows.values()),
        bytes=sum(sizes.values()),
        **what,
    )


def _literal(unit: str) -> Callable[[str], str]:
    if unit == "day":
        return lambda value: f"DATE {quote_literal(value)}"
    return quote_literal


def _restrict(lake: Lake, con: duckdb.DuckDBPyConnection, source: Input, keys: list[str] | None) -> None:
    """Point the TEMP view of `source` at only the files `keys` (all of them when None)."""
    if source.spec is not None:
        body = table_view_sql(lake, source.spec, con, keys)
    else:
        files = [f"{source.folder}/{PART_FILE}", *(keys or [])]
        if keys is None:
            body = f"SELECT * FROM read_parquet({quote_literal(lake.model_glob(source.name))})"
        else:
            listed = ", ".join(quote_literal(lake.storage.uri(k)) for k in files)
            body = f"SELECT * FROM read_parquet([{listed}])"
    con.execute(f"CREATE OR REPLACE TEMP VIEW {quote_identifier(source.name)} AS {body}")
