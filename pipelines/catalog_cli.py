"""`soracom-lake catalog`: rebuild the DuckDB catalog over a lake in one step (after moving or
copying the data folder, or to point it at another lake), or print external-table DDL.

    soracom-lake catalog [--lake URL] [--catalog PATH]      rebuild the views
    soracom-lake catalog --ddl trino|athena|spark [--lake URL]   print CREATE statements
"""

from __future__ import annotations

import argparse
import sys

from pipelines import settings
from pipelines.lake import Lake, LakeError, ModelError, build_catalog, discover_models
from pipelines.lake.ddl import DIALECTS, after_ddl_hint, external_table_ddl
from pipelines.lake.storage import LocalStorage
from pipelines.packaged import sql_dir


def add_lake_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--lake", help=f"lake folder or URL (s3://bucket/prefix); default ${settings.LAKE_ROOT} or data/lake"
    )


def open_existing_lake(lake_arg: str | None) -> Lake:
    """The lake `--lake` (or the setting) names; a local folder that is not there is an error, not
    an empty lake to build an empty catalog over."""
    lake = Lake(lake_arg or settings.setting(settings.LAKE_ROOT))
    if isinstance(lake.storage, LocalStorage) and not lake.storage.root.is_dir():
        raise LakeError(f"the lake {lake.root} does not exist: pass --lake with the lake's folder or URL")
    return lake


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_lake_argument(parser)
    parser.add_argument("--catalog", help=f"DuckDB file to (re)build; default ${settings.CATALOG_PATH}")
    parser.add_argument("--ddl", choices=DIALECTS, help="print CREATE EXTERNAL TABLE statements instead")


def run(args: argparse.Namespace) -> int:
    from assets.tables import TABLE_SPECS  # the Soracom tables; imported only when the command runs

    try:
        lake = open_existing_lake(args.lake)
        if args.ddl:
            print(f"-- {args.ddl} external tables over {lake.root}; then run: {after_ddl_hint(args.ddl)}")
            for statement in external_table_ddl(lake, TABLE_SPECS, args.ddl):
                print(f"{statement};\n")
            return 0
        try:
            models = discover_models(sql_dir(), [s.name for s in TABLE_SPECS])
        except ModelError as error:
            print(f"warning: SQL models left out of the catalog: {error}", file=sys.stderr)
            models = []
        path = build_catalog(
            lake, args.catalog or settings.setting(settings.CATALOG_PATH), TABLE_SPECS, models
        )
    except LakeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    loaded = sum(1 for spec in TABLE_SPECS if lake.partitions(spec))
    print(f"catalog {path}: views over {lake.root} ({loaded} of {len(TABLE_SPECS)} tables with data)")
    return 0
