"""The SQL models under `sql/` as Dagster assets: one asset per file, upstreams parsed from its SQL.

`discover_models` runs when this module is imported, so a model that names an unknown table (or
has no description, or forms a cycle) fails definition loading with a message naming the file
and the table. A mart's asset materialises it to `<lake>/_models/<name>/part-0.parquet` (atomic,
rows sorted by its grain, so a re-run gives the same file contents). A staging model is a view:
its asset only checks that the SQL binds over the lake (no scan, no file) and stays an asset so
the lineage tables -> staging -> marts shows in the UI and its checks run against the view; marts
inline it when they are built. The catalog, which depends on every model, exposes them as views.
"""

import dagster as dg
from dagster import AssetExecutionContext

from assets.catalog import catalog_asset
from assets.resources import LakeResource
from assets.tables import TABLE_SPECS
from pipelines.lake import SqlModel, ViewResult, build_model, discover_models
from pipelines.packaged import sql_dir

SQL_DIR = sql_dir()
MODELS: list[SqlModel] = discover_models(SQL_DIR, [spec.name for spec in TABLE_SPECS])
MODELS_BY_NAME = {model.name: model for model in MODELS}


def _group(model: SqlModel) -> str:
    return f"models_{model.layer}"


def model_asset(model: SqlModel, models: list[SqlModel] = MODELS) -> dg.AssetsDefinition:
    """The asset of one model: deps are the tables and models its SQL reads."""

    @dg.asset(
        name=model.name,
        deps=[dg.AssetKey(name) for name in model.depends_on],
        group_name=_group(model),
        kinds={"duckdb", "parquet"} if model.materialised else {"duckdb"},
        description=model.description,
        metadata={
            "sql_file": dg.MetadataValue.path(str(model.path)),
            "layer": model.layer,
            "materialised": "parquet" if model.materialised else "view",
            "grain": dg.MetadataValue.json(list(model.grain)),
            "depends_on": dg.MetadataValue.json(list(model.depends_on)),
        },
    )
    def _model(context: AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
        built = build_model(lake.lake(), model, TABLE_SPECS, models)
        if isinstance(built, ViewResult):
            context.log.info(f"model {model.name}: a view of {len(built.columns)} columns (binds)")
            return dg.MaterializeResult(metadata={"view_columns": dg.MetadataValue.json(list(built.columns))})
        context.log.info(f"model {model.name}: {built.rows} rows -> {built.path}")
        return dg.MaterializeResult(
            metadata={
                "rows": dg.MetadataValue.int(built.rows),
                "bytes": dg.MetadataValue.int(built.bytes),
                "path": dg.MetadataValue.path(built.path),
                "dagster/row_count": dg.MetadataValue.int(built.rows),
            }
        )

    return _model


MODEL_ASSETS: list[dg.AssetsDefinition] = [model_asset(model) for model in MODELS]
MODEL_KEYS = [dg.AssetKey(model.name) for model in MODELS]


# The catalog as the definitions declare it: after every model (public Dagster API only).
CATALOG_AFTER_MODELS = catalog_asset(after=MODEL_KEYS)
