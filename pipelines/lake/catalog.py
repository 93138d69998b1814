"""`build_catalog`: a DuckDB file of views over the lake, rebuilt whole and swapped in atomically.

The new catalog is written under a temp name next to the old one, checkpointed, closed, then
`os.replace`d over it. Processes holding the old file open (read-only BI tools, analysts) keep
their open file and are never blocked; new connections see the new views.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Iterable
from pathlib import Path

import duckdb

from pipelines.lake.errors import LakeError
from pipelines.lake.lake import Lake
from pipelines.lake.models import SqlModel
from pipelines.lake.spec import TableSpec
from pipelines.lake.storage import LocalStorage
from pipelines.lake.views import model_view_sql, quote_identifier, quote_literal, table_view_sql

log = logging.getLogger(__name__)
CATALOG_TABLE = "_catalog"


def build_catalog(
    lake: Lake,
    catalog_path: str | os.PathLike[str],
    specs: Iterable[TableSpec],
    models: Iterable[SqlModel] = (),
) -> Path:
    """Write a fresh catalog: a view per table, per staging model (its SQL) and per materialised mart,
    and a `_catalog` table describing them; swap it onto `catalog_path`. Marts not materialised yet
    and staging models that do not bind are skipped (logged). `models` in discovery order."""
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
        con = duckdb.connect(temp)
        try:
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
            con.execute("CHECKPOINT")
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
