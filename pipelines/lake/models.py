"""SQL models: one SELECT per file under `sql/staging/` and `sql/marts/`, dependencies read from the SQL.

A model's name is its file name; its description is its first line (`-- what it holds`). Every
table it references must be a lake table or another model; staging models may not read marts.
Models are materialised to `<lake>/_models/<name>/part-0.parquet`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import SqlglotError

from pipelines.lake.errors import ModelError
from pipelines.lake.lake import Lake, WriteResult
from pipelines.lake.spec import TableSpec
from pipelines.lake.views import model_view_sql, quote_identifier, quote_literal, table_view_sql

LAYERS = ("staging", "marts")
_MODEL_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
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

    @property
    def select_sql(self) -> str:
        """The statement without its trailing `;` and anything after it, ready to nest in a query."""
        semicolons = [t for t in Dialect.get_or_raise(DIALECT).tokenize(self.sql) if t.text == ";"]
        text = self.sql[: semicolons[0].start] if semicolons else self.sql
        return text.strip()


def _description(path: Path, sql: str) -> str:
    first = next((line.strip() for line in sql.splitlines() if line.strip()), "")
    if not first.startswith("--") or not first[2:].strip():
        raise ModelError(
            f"{path}: the first line must be a comment describing the model, e.g. `-- Daily usage`"
        )
    return first[2:].strip()


def _referenced_tables(path: Path, sql: str) -> set[str]:
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
    names = set()
    for table in tree.find_all(exp.Table):
        if not table.name:  # table functions: range(), generate_series(), read_parquet()...
            continue
        if table.catalog or (table.db and table.db != "main"):
            raise ModelError(
                f"{path}: references {table.sql(dialect=DIALECT)}; models name lake tables and other "
                "models without a schema or database prefix"
            )
        if table.db or table.name not in ctes:
            names.add(table.name)
    return names


def discover_models(sql_dir: str | os.PathLike[str], known_tables: Iterable[str]) -> list[SqlModel]:
    """All models under `sql_dir`, checked, in dependency order (staging before marts when free)."""
    root = Path(sql_dir)
    if not root.is_dir():
        raise ModelError(f"model folder {root} does not exist")
    tables = set(known_tables)
    found: list[SqlModel] = []
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
            found.append(
                SqlModel(name, layer, path, sql, description, tuple(sorted(_referenced_tables(path, sql))))
            )

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
    return _dependency_order(found, by_name)


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


def materialise_model(
    lake: Lake,
    model: SqlModel,
    specs: Iterable[TableSpec],
    models: Iterable[SqlModel],
    con: duckdb.DuckDBPyConnection | None = None,
) -> WriteResult:
    """Run `model` in DuckDB over its upstream tables and materialised models; write its rows, sorted,
    to `<lake>/_models/<name>/part-0.parquet` atomically. Upstream models must be materialised first.

    The connection's TimeZone is set to UTC so date arithmetic on timestamps does not depend on the
    machine; upstreams become TEMP views (they shadow same-named objects on a connection you pass).
    """
    specs_by_name = {s.name: s for s in specs}
    models_by_name = {m.name: m for m in models}
    own = con is None
    connection = duckdb.connect() if own else con
    try:
        connection.execute("SET TimeZone = 'UTC'")
        for dependency in model.depends_on:
            if dependency in specs_by_name:
                body = table_view_sql(lake, specs_by_name[dependency], connection)
            elif dependency in models_by_name:
                if not lake.has_model(dependency):
                    raise ModelError(
                        f"model {model.name!r} reads model {dependency!r}, which is not materialised yet; "
                        "materialise models in the order discover_models returns"
                    )
                body = model_view_sql(lake, dependency)
            else:
                raise ModelError(
                    f"{model.path}: references {dependency!r}, which is neither a given table nor model"
                )
            connection.execute(f"CREATE OR REPLACE TEMP VIEW {quote_identifier(dependency)} AS {body}")
        key = lake.model_key(model.name)
        with lake.storage.atomic_write(key) as temp:
            query = f"SELECT * FROM (\n{model.select_sql}\n) ORDER BY ALL"
            try:
                connection.execute(
                    f"COPY ({query}) TO {quote_literal(temp)} (FORMAT parquet, COMPRESSION zstd)"
                )
            except duckdb.Error as error:
                raise ModelError(f"{model.path}: DuckDB failed to run the model: {error}") from error
        rows = pq.ParquetFile(lake.storage.uri(key)).metadata.num_rows
        return WriteResult(path=lake.storage.uri(key), rows=rows, bytes=lake.storage.size(key))
    finally:
        if own:
            connection.close()
