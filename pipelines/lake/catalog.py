"""`build_catalog`: a DuckDB file of views over the lake, rebuilt whole and swapped in atomically;
`open_catalog`: open it read-only, refusing with a clear message a catalog that was moved or copied
away from the lake it was built over (its views would read the original lake, or nothing).

The new catalog is written under a temp name next to the old one, checkpointed, closed, then
`os.replace`d over it. Processes holding the old file open (read-only BI tools, analysts) keep
their open file and are never blocked; new connections see the new views. The file is written in
DuckDB's v1.1 storage format, so DuckDB 1.1 and later (the CLI and BI drivers users have) open it.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import duckdb

from pipelines.lake.errors import LakeError
from pipelines.lake.lake import Lake
from pipelines.lake.models import SqlModel
from pipelines.lake.spec import TableSpec
from pipelines.lake.storage import LocalStorage, url_scheme
from pipelines.lake.views import model_view_sql, quote_identifier, quote_literal, table_view_sql

log = logging.getLogger(__name__)
CATALOG_TABLE = "_catalog"
# Where the catalog was built and over which lake: `open_catalog` compares them with where it is.
BUILD_TABLE = "_catalog_build"
# The oldest DuckDB whose storage format the catalog is written in (readable by 1.1 and later).
STORAGE_VERSION = "v1.1.0"
REBUILD_HINT = "soracom-lake catalog --lake {lake} --catalog {catalog}"


def build_catalog(
    lake: Lake,
    catalog_path: str | os.PathLike[str],
    specs: Iterable[TableSpec],
    models: Iterable[SqlModel] = (),
    column_comments: Mapping[str, str] | None = None,
) -> Path:
    """Write a fresh catalog: a view per table, per staging model (its SQL) and per materialised mart,
    and a `_catalog` table describing them; swap it onto `catalog_path`. Marts not materialised yet
    and staging models that do not bind are skipped (logged). `models` in discovery order.
    `column_comments` (column name -> text) become column comments of every view with that column."""
    specs = list(specs)
    models = list(models)
    names = [s.name for s in specs] + [m.name for m in models]
    clashes = sorted({n for n in names if names.count(n) > 1})
    if clashes:
        raise LakeError(f"catalog: names used more than once across tables and models: {clashes}")
    target = Path(catalog_path).expanduser().resolve()
    storage = LocalStorage(target.parent)
    built_at = dt.datetime.now(dt.UTC)
    with storage.atomic_write(target.name) as temp:
        con = duckdb.connect()
        try:
            con.execute(
                f"ATTACH {quote_literal(temp)} AS catalog (STORAGE_VERSION {quote_literal(STORAGE_VERSION)})"
            )
            con.execute("USE catalog")
            con.execute(
                f"CREATE TABLE {BUILD_TABLE} (lake_root VARCHAR, catalog_path VARCHAR, built_at TIMESTAMPTZ)"
            )
            con.execute(f"INSERT INTO {BUILD_TABLE} VALUES (?, ?, ?)", [lake.root, str(target), built_at])
            lake.storage.register(con)
            con.execute(
                f"CREATE TABLE {CATALOG_TABLE} (name VARCHAR, kind VARCHAR, description VARCHAR, "
                "partition_by VARCHAR[], primary_key VARCHAR[], depends_on VARCHAR[], "
                "source VARCHAR, built_at TIMESTAMPTZ)"
            )
            for spec in specs:
                _create_view(con, spec.name, table_view_sql(lake, spec, con), spec.description)
                con.execute(
                    f"INSERT INTO {CATALOG_TABLE} VALUES (?, 'table', ?, ?, ?, [], ?, ?)",
                    [
                        spec.name,
                        spec.description,
                        list(spec.partition_by),
                        list(spec.primary_key),
                        lake.table_glob(spec),
                        built_at,
                    ],
                )
            for model in models:
                if not _create_model_view(con, lake, model):
                    continue
                con.execute(
                    f"INSERT INTO {CATALOG_TABLE} VALUES (?, ?, ?, [], ?, ?, ?, ?)",
                    [
                        model.name,
                        f"model:{model.layer}",
                        model.description,
                        list(model.grain),
                        list(model.depends_on),
                        str(model.path),
                        built_at,
                    ],
                )
            _comment_columns(con, column_comments or {})
            con.execute("CHECKPOINT")
            con.execute("USE memory")
            con.execute("DETACH catalog")
        finally:
            con.close()
        # A WAL next to the old catalog (left by a read-write session) belongs to the old file;
        # DuckDB would try to replay it into the new one. The catalog holds no data of its own.
        stale_wal = target.with_name(target.name + ".wal")
        if stale_wal.exists():
            log.warning("catalog: removing %s left by a read-write session on the old catalog", stale_wal)
            stale_wal.unlink(missing_ok=True)
    return target


def _create_model_view(con: duckdb.DuckDBPyConnection, lake: Lake, model: SqlModel) -> bool:
    """A mart's view reads its file (skipped until materialised); a staging model's view is its SQL
    over the views above it (skipped, logged, if it does not bind: the tables still get published)."""
    if model.materialised:
        if not lake.has_model(model.name):
            log.warning("catalog: mart %s is not materialised yet; no view for it", model.name)
            return False
        _create_view(con, model.name, model_view_sql(lake, model.name), model.description)
        return True
    try:
        _create_view(con, model.name, model.select_sql, model.description)
    except duckdb.Error as error:
        log.warning("catalog: staging model %s (%s) does not bind: %s", model.name, model.path, error)
        return False
    return True


def _create_view(con: duckdb.DuckDBPyConnection, name: str, body: str, description: str) -> None:
    con.execute(f"CREATE VIEW {quote_identifier(name)} AS {body}")
    if description:
        con.execute(f"COMMENT ON VIEW {quote_identifier(name)} IS {quote_literal(description)}")


def _comment_columns(con: duckdb.DuckDBPyConnection, comments: Mapping[str, str]) -> None:
    """`COMMENT ON COLUMN` for every view column that `comments` describes (BI tools show them)."""
    rows = con.execute(
        "SELECT table_name, column_name FROM duckdb_columns() WHERE database_name = 'catalog' "
        "AND table_name IN (SELECT view_name FROM duckdb_views() WHERE database_name = 'catalog')"
    ).fetchall()
    con.execute("BEGIN TRANSACTION")  # one commit for the ~250 comments, not one each (~0.1 s a build)
    for view, column in rows:
        if column in comments:
            con.execute(
                f"COMMENT ON COLUMN {quote_identifier(view)}.{quote_identifier(column)} "
                f"IS {quote_literal(comments[column])}"
            )
    con.execute("COMMIT")


def catalog_lake_root(con: duckdb.DuckDBPyConnection) -> tuple[str, str] | None:
    """(lake root, catalog path) the open catalog was built with; None for a catalog built before
    they were recorded."""
    tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    if BUILD_TABLE not in tables:
        return None
    row = con.execute(f"SELECT lake_root, catalog_path FROM {BUILD_TABLE}").fetchone()
    return None if row is None else (str(row[0]), str(row[1]))


def open_catalog(catalog_path: str | os.PathLike[str]) -> duckdb.DuckDBPyConnection:
    """The catalog, read-only, TimeZone UTC, able to read its lake (an object store's file system
    registered). A `LakeError` saying how to rebuild it when the file is missing, was moved or
    copied (its views would read the original lake), or its lake is gone."""
    path = Path(catalog_path).expanduser().resolve()
    if not path.exists():
        raise LakeError(f"the catalog {path} does not exist yet: run a load, or `soracom-lake catalog`")
    con = duckdb.connect(str(path), read_only=True)
    try:
        con.execute("SET TimeZone = 'UTC'")
        built = catalog_lake_root(con)
        if built is None:
            return con
        root, built_path = built
        lake = Lake(root)
        local = isinstance(lake.storage, LocalStorage)
        if Path(built_path) != path:
            hint = REBUILD_HINT.format(lake=_moved_lake(root, built_path, path), catalog=path)
            raise LakeError(
                f"the catalog {path} was built as {built_path} over the lake {root}: it was moved or "
                "copied, and its views still read that lake. Rebuild its views over the lake it belongs "
                f"to (one step): {hint}"
            )
        if local and not lake.storage.root.is_dir():
            hint = REBUILD_HINT.format(lake="<the lake's new place>", catalog=path)
            raise LakeError(
                f"the catalog {path} reads the lake {root}, which does not exist (moved or deleted); "
                f"rebuild its views: {hint}"
            )
        lake.storage.register(con)
    except BaseException:
        con.close()
        raise
    return con


def _moved_lake(root: str, built_path: str, path: Path) -> str:
    """Where the lake probably is now: at the same place relative to the catalog, if it was local."""
    if url_scheme(root) is not None:
        return root
    try:
        relative = Path(root).relative_to(Path(built_path).parent)
    except ValueError:
        return "<lake folder or URL>"
    return str(path.parent / relative)
