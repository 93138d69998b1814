"""`soracom-lake models`: build the SQL models over a lake without Dagster, as the models_job does
(staging views checked, marts materialised in dependency order, then the catalog).

    soracom-lake models [--lake URL] [--catalog PATH] [--full-refresh]

Marts rebuild only the partitions whose inputs changed since their last build; `--full-refresh`
rebuilds every partition of every mart (after editing a mart's SQL nothing more is needed: a
changed definition rebuilds that mart fully anyway).
"""

from __future__ import annotations

import argparse
import sys

import duckdb

from pipelines import settings
from pipelines.catalog_cli import add_lake_argument, open_existing_lake
from pipelines.lake import LakeError, build_catalog, build_model


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_lake_argument(parser)
    parser.add_argument(
        "--catalog", help=f"DuckDB file to rebuild afterwards; default ${settings.CATALOG_PATH}"
    )
    parser.add_argument(
        "--full-refresh",
        action="store_true",
        help="rebuild every partition of every mart, not only the changed ones",
    )


def run(args: argparse.Namespace) -> int:
    # Imported only when the command runs: the models are discovered from sql/ at import.
    from assets.models import MODELS, build_summary
    from assets.tables import TABLE_SPECS

    try:
        lake = open_existing_lake(args.lake)
        # One connection for every model: the views of unchanged files are bound once.
        with duckdb.connect() as con:
            for model in MODELS:
                built = build_model(lake, model, TABLE_SPECS, MODELS, con, full_refresh=args.full_refresh)
                if model.materialised:
                    print(f"{model.name}: {built.rows:,} rows, {build_summary(built)}")
        path = build_catalog(
            lake, args.catalog or settings.setting(settings.CATALOG_PATH), TABLE_SPECS, MODELS
        )
    except LakeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"catalog {path}: views over {lake.root}")
    return 0
