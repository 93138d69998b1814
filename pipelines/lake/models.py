"""SQL models: one SELECT per file under `sql/staging/` and `sql/marts/`, dependencies read from the SQL.

A model's name is its file name; its description is its first line (`-- what it holds`). Every
table it references must be a lake table or another model; staging models may not read marts.

Staging models are views, never files: a mart build inlines the staging models it reads (directly
or through other staging models) as CTEs of its query (`mart_query`), so DuckDB plans the whole
chain as one query and pushes filters and projections down to the Parquet scans; the catalog
publishes them as views. Marts are materialised to `<lake>/_models/<name>/part-0.parquet`, sorted
by their declared grain, or, with a `-- partitioned by:` header, one file per month rebuilt
incrementally by day or month (`pipelines.lake.incremental`). Seeds (`sql/seeds/*.csv`, editable mappings) are
staging views of their rows (`seed_model`).
"""

from __future__ import annotations

import csv
import functools
import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import SqlglotError

from pipelines.lake.errors import ModelError
from pipelines.lake.health import unreadable_files
from pipelines.lake.incremental import (
    Input,
    MartBuild,
    build_partitioned,
    observe,
    record_build,
    unchanged_since_last_build,
)
from pipelines.lake.lake import Lake, WriteResult
from pipelines.lake.partitioning import Partitioning, parse_partitioning
from pipelines.lake.spec import MODELS_FOLDER, TableSpec
from pipelines.lake.view_cache import current_key, mart_view, staging_view, table_view, view_columns
from pipelines.lake.views import quote_identifier, quote_literal

LAYERS = ("staging", "marts")
SEEDS = "seeds"  # editable CSV mappings, served as staging views (`seed_model`)
SEED_FREE_TEXT = ("note", "notes")  # seed columns that may be blank
MATERIALISED_LAYERS = ("marts",)
_MODEL_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_ANNOTATION = re.compile(r"^--\s*(grain|not null):\s*(.+?)\s*$", re.IGNORECASE)
DIALECT = "duckdb"


@dataclass(frozen=True)
class SqlModel:
    """One SELECT over lake tables and other models; `depends_on` is parsed from `sql`, sorted."""

    name: str
    layer: str
    path: Path
    sql: str
    description: str
    depends_on: tuple[str, ...]
    references: tuple[tuple[str, int], ...] = ()  # (name, times the SQL reads it), sorted

    @property
    def select_sql(self) -> str:
        """The statement without its trailing `;` and anything after it, ready to nest in a query."""
        return _statement(self.sql)

    @property
    def materialised(self) -> bool:
        """Marts are written to Parquet; staging models stay views (inlined where they are read)."""
        return self.layer in MATERIALISED_LAYERS

    @property
    def annotations(self) -> dict[str, tuple[str, ...]]:
        """`{"grain": (...), "not null": (...)}` from the `-- grain:` / `-- not null:` comment lines."""
        found: dict[str, tuple[str, ...]] = {}
        for line in self.sql.splitlines():
            match = _ANNOTATION.match(line.strip())
            if match:
                columns = (c.strip() for c in match.group(2).split(","))
                found[match.group(1).lower()] = tuple(c for c in columns if c)
        return found

    @property
    def partitioning(self) -> Partitioning | None:
        """How a mart is split into day or month files (`-- partitioned by:`), else None."""
        return parse_partitioning(self.path, self.sql) if self.materialised else None

    @property
    def grain(self) -> tuple[str, ...]:
        """The columns that identify a row (unique, NULLs equal); a mart's rows are sorted by them."""
        return self.annotations.get("grain", ())


@functools.lru_cache(maxsize=256)
def _statement(sql: str) -> str:
    """Kept per SQL text: a nightly build asked ~160 times for the same 30 models' statements,
    0.4 s of tokenizing (bench/README.md, "Incremental builds", round 12)."""
    semicolons = [t for t in Dialect.get_or_raise(DIALECT).tokenize(sql) if t.text == ";"]
    text = sql[: semicolons[0].start] if semicolons else sql
    return text.strip()


def _description(path: Path, sql: str) -> str:
    first = next((line.strip() for line in sql.splitlines() if line.strip()), "")
    if not first.startswith("--") or not first[2:].strip():
        raise ModelError(
            f"{path}: the first line must be a comment describing the model, e.g. `-- Daily usage`"
        )
    return first[2:].strip()


def _referenced_tables(path: Path, sql: str) -> Counter[str]:
    try:
        statements = [s for s in sqlglot.parse(sql, read=DIALECT) if s is not None]
    except SqlglotError as error:
        raise ModelError(f"{path}: cannot parse the SQL: {error}") from None
    statements = [s for s in statements if not isinstance(s, exp.Semicolon)]
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        kinds = [type(s).__name__ for s in statements]
        raise ModelError(f"{path}: a model file holds exactly one SELECT statement, found {kinds}")
    tree = statements[0]
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    names: Counter[str] = Counter()
    for table in tree.find_all(exp.Table):
        if not table.name:  # table functions: range(), generate_series(), read_parquet()...
            continue
        if table.catalog or (table.db and table.db != "main"):
            raise ModelError(
                f"{path}: references {table.sql(dialect=DIALECT)}; models name lake tables and other "
                "models without a schema or database prefix"
            )
        if table.db or table.name not in ctes:
            names[table.name] += 1
    return names


def _seed_value(cell: str) -> str:
    """A blank cell is NULL (so the seed's not-null check names it), anything else text."""
    return quote_literal(cell.strip()) if cell.strip() else "CAST(NULL AS VARCHAR)"


def seed_model(path: Path) -> SqlModel:
    """A seed: an editable CSV under `sql/seeds/` (header = column names, every value text) served
    as a staging view of its rows, plus `seed_row` (1-based file order, for first-match rules).
    Every column is required (blank cells fail the model's not-null check) except free-text
    `note` columns.
    Its SQL is a VALUES list made from the file when models are discovered, so the catalog's view
    holds the rows themselves and reads no path of this machine."""
    name = path.stem
    if not _MODEL_NAME.match(name):
        raise ModelError(f"{path}: seed names are lower-case letters, digits and '_'; rename the file")
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            rows = [row for row in csv.reader(handle) if any(cell.strip() for cell in row)]
    except (OSError, UnicodeError, csv.Error) as error:
        raise ModelError(f"{path}: cannot read the seed as UTF-8 CSV: {error}") from None
    if not rows:
        raise ModelError(f"{path}: the seed is empty; its first line must name the columns")
    header = [cell.strip() for cell in rows[0]]
    bad = [c for c in header if not _MODEL_NAME.match(c)] + (["seed_row"] if "seed_row" in header else [])
    if bad or len(set(header)) != len(header):
        raise ModelError(
            f"{path}: column names must be distinct lower-case identifiers (not seed_row), got {header}"
        )
    body = rows[1:]
    for number, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise ModelError(f"{path}: line {number} has {len(row)} values, the header names {len(header)}")
    columns = ", ".join(quote_identifier(c) for c in (*header, "seed_row"))
    if body:
        values = ",\n".join(
            f"    ({', '.join(_seed_value(cell) for cell in row)}, {index})"
            for index, row in enumerate(body, start=1)
        )
        select = f"SELECT * FROM (VALUES\n{values}\n) AS seed({columns})"
    else:
        nulls = ", ".join(f"CAST(NULL AS VARCHAR) AS {quote_identifier(c)}" for c in header)
        select = f"SELECT {nulls}, CAST(NULL AS INTEGER) AS seed_row WHERE false"
    description = f"Seed: the rows of sql/{SEEDS}/{path.name} (edit the file; file order is seed_row)"
    required = ", ".join(c for c in (*header, "seed_row") if c not in SEED_FREE_TEXT)
    sql = f"-- {description}\n-- grain: seed_row\n-- not null: {required}\n{select}\n"
    return SqlModel(name, "staging", path, sql, description, ())


def discover_models(sql_dir: str | os.PathLike[str], known_tables: Iterable[str]) -> list[SqlModel]:
    """All models under `sql_dir`, checked, in dependency order (staging before marts when free)."""
    root = Path(sql_dir)
    if not root.is_dir():
        raise ModelError(f"model folder {root} does not exist")
    tables = set(known_tables)
    found: list[SqlModel] = []
    for seed in sorted((root / SEEDS).glob("*.csv")):
        if seed.stem in tables:
            raise ModelError(f"{seed}: seed {seed.stem!r} has the same name as a lake table; rename the file")
        found.append(seed_model(seed))
    for layer in LAYERS:
        for path in sorted((root / layer).glob("*.sql")):
            name = path.stem
            if not _MODEL_NAME.match(name):
                raise ModelError(
                    f"{path}: model names are lower-case letters, digits and '_'; rename the file"
                )
            if name in tables:
                raise ModelError(f"{path}: model {name!r} has the same name as a lake table; rename the file")
            if any(m.name == name for m in found):
                raise ModelError(f"{path}: another layer already has a model named {name!r}")
            sql = path.read_text(encoding="utf-8")
            description = _description(path, sql)
            references = tuple(sorted(_referenced_tables(path, sql).items()))
            depends_on = tuple(n for n, _ in references)
            found.append(SqlModel(name, layer, path, sql, description, depends_on, references))

    by_name = {m.name: m for m in found}
    for model in found:
        for dependency in model.depends_on:
            if dependency not in tables and dependency not in by_name:
                raise ModelError(
                    f"{model.path}: references table {dependency!r}, which is neither a lake table "
                    f"nor a model (tables: {sorted(tables)}; models: {sorted(by_name)})"
                )
            if model.layer == "staging" and by_name.get(dependency, model).layer == "marts":
                raise ModelError(f"{model.path}: a staging model may not read the mart {dependency!r}")
    for model in found:
        _check_partitioning(model, by_name)
    return _dependency_order(found, by_name)


def _check_partitioning(model: SqlModel, by_name: dict[str, SqlModel]) -> None:
    """A partitioned mart's header names its own key column, inputs it reads and staging dimensions."""
    if model.layer != "marts":
        if parse_partitioning(model.path, model.sql) is not None:
            raise ModelError(f"{model.path}: only marts are partitioned; remove `-- partitioned by:`")
        return
    part = model.partitioning
    if part is None:
        return
    if part.column not in model.grain or part.column not in model.annotations.get("not null", ()):
        raise ModelError(
            f"{model.path}: the partition column {part.column!r} must be in `-- grain:` and `-- not null:`"
        )
    dims = {d.name for d in part.dimensions}
    for name in dims:
        if by_name.get(name) is None or by_name[name].materialised:
            raise ModelError(f"{model.path}: dimension {name!r} is not a staging model")
    reads = _closure(model.depends_on, by_name, stop=dims)
    behind_dims = _closure(dims, by_name)
    for declared in part.inputs:
        upstream = by_name.get(declared.name)
        if declared.name not in reads or (upstream is not None and not upstream.materialised):
            raise ModelError(
                f"{model.path}: partition input {declared.name!r} is not a table or mart the model reads "
                "(outside its dimensions)"
            )
        if declared.name in behind_dims:
            raise ModelError(
                f"{model.path}: {declared.name!r} is read by a dimension too; a dimension is read whole"
            )
        if upstream is not None and upstream.partitioning is None:
            raise ModelError(f"{model.path}: partition input {declared.name!r} is a mart without partitions")


def _dependency_order(found: list[SqlModel], by_name: dict[str, SqlModel]) -> list[SqlModel]:
    """Topological order that keeps discovery order wherever dependencies allow (stable, deterministic)."""
    ordered: list[SqlModel] = []
    placed: set[str] = set()
    pending = list(found)
    while pending:
        ready = next((m for m in pending if all(d in placed or d not in by_name for d in m.depends_on)), None)
        if ready is None:
            raise ModelError(f"models form a dependency cycle: {_find_cycle(pending, by_name)}")
        ordered.append(ready)
        placed.add(ready.name)
        pending.remove(ready)
    return ordered


def _find_cycle(pending: list[SqlModel], by_name: dict[str, SqlModel]) -> str:
    # Every pending model waits on another pending model, so walking first waits must loop.
    names = {m.name for m in pending}
    path = [pending[0].name]
    while True:
        model = by_name[path[-1]]
        following = next(d for d in model.depends_on if d in names)
        if following in path:
            loop = [*path[path.index(following) :], following]
            return " -> ".join(f"{n} ({by_name[n].path})" for n in loop)
        path.append(following)


@dataclass(frozen=True)
class ViewResult:
    """A staging model checked over the lake: it binds, with these columns. No file is written."""

    name: str
    columns: tuple[str, ...]


def create_views(
    connection: duckdb.DuckDBPyConnection,
    lake: Lake,
    names: Iterable[str],
    specs: Iterable[TableSpec],
    models: Iterable[SqlModel],
) -> None:
    """TEMP views for `names` and everything they read through staging models: tables over their
    Parquet, staging models as their own SQL, marts over their materialised files (which must exist).

    Creating a view binds it, so a staging model that does not bind fails here naming its file.
    Checks query models through these views; a mart build reads tables and marts through them.
    The views shadow same-named objects on the connection. A view whose files (and, for a
    staging model, SQL and inputs) are as when it was made on this connection is kept
    (`pipelines.lake.view_cache`).
    """
    lake.storage.register(connection)
    specs_by_name = {s.name: s for s in specs}
    ordered = list(models)
    models_by_name = {m.name: m for m in ordered}
    needed = _closure(names, models_by_name)
    unknown = sorted(needed - specs_by_name.keys() - models_by_name.keys())
    if unknown:
        raise ModelError(f"{unknown[0]!r} is neither a given table nor a given model")
    for name in (n for n in specs_by_name if n in needed):
        table_view(lake, connection, specs_by_name[name])
    for model in (m for m in ordered if m.name in needed):
        try:
            if model.materialised:
                if not lake.has_model(model.name):
                    raise ModelError(
                        f"mart {model.name!r} ({model.path}) is not materialised yet; materialise marts "
                        "in the order discover_models returns"
                    )
                mart_view(lake, connection, model.name)  # its stamps: a listing, which warms the reads
            else:
                reads = [current_key(connection, d) for d in model.depends_on]
                staging_view(connection, model.name, model.select_sql, reads)
        except duckdb.Error as error:
            raise ModelError(f"{model.path}: DuckDB failed to run the model: {error}") from error


def _closure(names: Iterable[str], models: dict[str, SqlModel], stop: Iterable[str] = ()) -> set[str]:
    """`names` plus what their staging models read, transitively (a mart is read from its file),
    not looking into the models in `stop`."""
    stop = set(stop)
    needed: set[str] = set()
    pending = list(names)
    while pending:
        name = pending.pop()
        if name in needed:
            continue
        needed.add(name)
        model = models.get(name)
        if model is not None and not model.materialised and name not in stop:
            pending.extend(model.depends_on)
    return needed


def build_model(
    lake: Lake,
    model: SqlModel,
    specs: Iterable[TableSpec],
    models: Iterable[SqlModel],
    con: duckdb.DuckDBPyConnection | None = None,
    full_refresh: bool = False,
) -> WriteResult | ViewResult:
    """What the models job does with one model: a mart is materialised (`materialise_model`,
    incrementally unless `full_refresh`); a staging model is only checked to bind over the lake
    as it is now (cheap: nothing is scanned), so a broken staging file fails its own asset, naming
    the file, before any mart reads it."""
    if model.materialised:
        return materialise_model(lake, model, specs, models, con, full_refresh)
    with _connection(con) as connection:
        create_views(connection, lake, [model.name], specs, models)  # made (bound) unless kept
        return ViewResult(model.name, view_columns(connection, model.name))


def materialise_model(
    lake: Lake,
    model: SqlModel,
    specs: Iterable[TableSpec],
    models: Iterable[SqlModel],
    con: duckdb.DuckDBPyConnection | None = None,
    full_refresh: bool = False,
) -> WriteResult:
    """Run the mart `model` in DuckDB over its upstreams and write its rows, sorted by its grain
    (`ORDER BY ALL` if it declares none), to `<lake>/_models/<name>/part-0.parquet` atomically;
    a partitioned mart (`-- partitioned by:`) to one file per month, rebuilding only the
    partitions its changed inputs reach (`pipelines.lake.incremental`) unless `full_refresh`.
    An unpartitioned mart none of whose inputs changed since its last build is left as it is.

    Upstream marts must be materialised first; staging models are inlined (`mart_query`). The
    grain is unique (its asset check), so the sort is total and a re-run writes the same rows in
    the same order, without sorting on every column. The connection's TimeZone is set to UTC so
    date arithmetic on timestamps does not depend on the machine.
    """
    if not model.materialised:
        raise ModelError(
            f"{model.path}: {model.name!r} is a {model.layer} model, published as a view and inlined "
            "into the marts that read it; only marts are materialised (use build_model)"
        )
    models, specs = list(models), list(specs)
    part = model.partitioning
    inputs, whole = _inputs(model, models, specs)
    definition = "\n".join((mart_query(model, models), part.header if part else ""))
    with _connection(con) as connection:
        # The TEMP views bind every staging model of the chain first, so an error in one names its
        # file; the query below then inlines the chain as CTEs, which shadow those views.
        create_views(connection, lake, model.depends_on, specs, models)
        observed = observe(lake, connection, definition, part, inputs, whole)
        if part is not None:
            order = (part.column, *(c for c in model.grain if c != part.column))

            def query_for(where: str | None) -> str:
                return mart_query(model, models, order=order, where=where)

            try:
                return build_partitioned(
                    lake,
                    connection,
                    model.name,
                    part,
                    model.grain,
                    query_for,
                    observed,
                    inputs,
                    full_refresh,
                    source=str(model.path),
                )
            except duckdb.Error as error:
                raise _model_failed(lake, model, error, specs, models) from error
        if not full_refresh and unchanged_since_last_build(lake, model.name, observed):
            key = lake.model_key(model.name)
            with lake.storage.open_read(key) as handle:
                rows = pq.ParquetFile(handle).metadata.num_rows
            size = lake.storage.size(key)
            return MartBuild(path=lake.storage.uri(key), rows=rows, bytes=size, skipped=True)
        key = lake.model_key(model.name)
        _remove_partition_files(lake, model.name)
        with lake.storage.atomic_write(key) as temp:
            query = mart_query(model, models)
            try:
                connection.execute(
                    f"COPY ({query}) TO {quote_literal(temp)} (FORMAT parquet, COMPRESSION zstd)"
                )
            except duckdb.Error as error:
                raise _model_failed(lake, model, error, specs, models) from error
        record_build(lake, model.name, observed)
    with lake.storage.open_read(key) as handle:
        rows = pq.ParquetFile(handle).metadata.num_rows
    return WriteResult(path=lake.storage.uri(key), rows=rows, bytes=lake.storage.size(key))


def _remove_partition_files(lake: Lake, name: str) -> None:
    """A mart that was partitioned before keeps only its one file."""
    for key in lake.storage.list_files(f"{MODELS_FOLDER}/{name}"):
        file_name = key.rsplit("/", 1)[-1]
        if file_name.endswith(".parquet") and "=" in file_name:
            lake.storage.delete(key)


def _inputs(
    model: SqlModel, models: list[SqlModel], specs: list[TableSpec]
) -> tuple[list[Input], list[Input]]:
    """The mart's partition inputs and its whole inputs (every other table or mart it reads,
    looking through staging models but not into its dimensions)."""
    by_name = {m.name: m for m in models}
    specs_by_name = {s.name: s for s in specs}
    part = model.partitioning
    dims = {d.name for d in part.dimensions} if part else set()
    declared = {d.name for d in part.inputs} if part else set()
    reads = _closure(model.depends_on, by_name, stop=dims)
    sources = sorted(n for n in reads if n in specs_by_name or (n in by_name and by_name[n].materialised))
    for name in declared:
        if name not in by_name and name in specs_by_name:
            column = next(d.column for d in part.inputs if d.name == name)
            if column not in specs_by_name[name].partition_by:
                raise ModelError(f"{model.path}: table {name!r} is not partitioned by {column!r}")
    inputs = [Input(n, specs_by_name.get(n)) for n in sources if n in declared]
    whole = [Input(n, specs_by_name.get(n)) for n in sources if n not in declared]
    return inputs, whole


def _model_failed(
    lake: Lake, model: SqlModel, error: duckdb.Error, specs: Iterable[TableSpec], models: list[SqlModel]
) -> ModelError:
    """The model's error, naming the data files it reads that cannot be read (a corrupt file
    otherwise shows as DuckDB's `don't know what type:` with no file named)."""
    read = _closure(model.depends_on, {m.name: m for m in models})
    bad = [one for spec in specs if spec.name in read for one in unreadable_files(lake, spec)]
    if not bad:
        return ModelError(f"{model.path}: DuckDB failed to run the model: {error}")
    files = "; ".join(f"{one.uri} (table {one.table}: {one.reason})" for one in bad)
    return ModelError(
        f"{model.path}: cannot be built: unreadable data file(s): {files}. Reload those partitions "
        "(a load replaces the file), or move the files aside"
    )


def mart_query(
    model: SqlModel,
    models: Iterable[SqlModel],
    order: Iterable[str] | None = None,
    where: str | None = None,
) -> str:
    """The mart's SELECT with the staging models it reads (directly or through other staging
    models) inlined as CTEs, sorted by its grain (`ORDER BY ALL` if it declares none) or `order`,
    and filtered by the SQL condition `where` (a partitioned build: the partitions it rebuilds).

    DuckDB then plans the mart and its staging chain as one query. A staging model named more than
    once in that query's text is `MATERIALIZED`: computed once (its de-duplication, say) instead
    of per reference; one named once stays inlined, so filters and projections reach the Parquet
    scan. Either way the rows are the same; only the plan differs.
    """
    chain = _staging_chain(model, list(models))
    reads: Counter[str] = Counter()
    for reader in (model, *chain):
        reads.update(dict(reader.references))
    ctes = ",\n".join(
        f"{quote_identifier(m.name)} AS {'MATERIALIZED ' if reads[m.name] > 1 else ''}(\n{m.select_sql}\n)"
        for m in chain
    )
    sort = ", ".join(quote_identifier(c) for c in (model.grain if order is None else order)) or "ALL"
    condition = f" WHERE {where}" if where else ""
    body = f"SELECT * FROM (\n{model.select_sql}\n){condition} ORDER BY {sort}"
    return f"WITH {ctes}\n{body}" if ctes else body


def _staging_chain(model: SqlModel, models: list[SqlModel]) -> list[SqlModel]:
    """The staging models `model` reads, directly or through other staging models, in `models` order."""
    needed = _closure(model.depends_on, {m.name: m for m in models})
    return [m for m in models if not m.materialised and m.name in needed]


@contextmanager
def _connection(con: duckdb.DuckDBPyConnection | None) -> Iterator[duckdb.DuckDBPyConnection]:
    """The caller's connection, or a new one closed afterwards; either way with TimeZone UTC."""
    connection = duckdb.connect() if con is None else con
    try:
        connection.execute("SET TimeZone = 'UTC'")
        yield connection
    finally:
        if con is None:
            connection.close()
