"""The SQL models under `sql/` as Dagster assets: one asset per file, upstreams parsed from its SQL.

`discover_models` runs when this module is imported, so a model that names an unknown table (or
has no description, or forms a cycle) fails definition loading with a message naming the file
and the table. A mart's asset materialises it under `<lake>/_models/<name>/` (atomic, rows sorted
by its grain, so a re-run gives the same file contents): one file per month for marts over time,
of whose days or months only those whose inputs changed are rebuilt (run config `full_refresh`:
all; see sql/README.md "Incremental builds"). A staging model is a view:
its asset only checks that the SQL binds over the lake (no scan, no file) and stays an asset so
the lineage tables -> staging -> marts shows in the UI and its checks run against the view; marts
inline it when they are built. The catalog, which depends on every model, exposes them as views.
"""

from collections.abc import Callable

import dagster as dg
import duckdb
from dagster import AssetExecutionContext

from assets.catalog import catalog_asset
from assets.check_rules import (
    Outcome,
    check_result,
    evaluate_not_null,
    evaluate_reconciliation,
    evaluate_unique,
)
from assets.describe import OWNERS, column_schema, sql_file_reference
from assets.resources import LakeResource
from assets.tables import TABLE_SPECS
from pipelines.lake import (
    Lake,
    ModelError,
    SqlModel,
    ViewResult,
    WriteResult,
    build_model,
    create_views,
    discover_models,
)
from pipelines.lake.incremental import MartBuild
from pipelines.lake.views import quote_identifier
from pipelines.packaged import sql_dir

SQL_DIR = sql_dir()
MODELS: list[SqlModel] = discover_models(SQL_DIR, [spec.name for spec in TABLE_SPECS])
MODELS_BY_NAME = {model.name: model for model in MODELS}


# Models follow the loads (no fixed cron): a model is requested once anything it reads changed
# since its last request, and not while any of that is still being loaded or it is running
# itself; staging and marts requested on one tick run in one run, in dependency order.
# Evaluated by the `models_automation` sensor (pipelines/schedules.py).
FOLLOW_THE_LOADS = (
    dg.AutomationCondition.any_deps_updated().since_last_handled()
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
).with_label("after what it reads changed")


class ModelBuildConfig(dg.Config):
    """Run config of a model's step (set for every mart at once by the models_job's
    `full_refresh`, `models_job_config`)."""

    full_refresh: bool = False  # rebuild every partition, not only those whose inputs changed


def models_job_config(full_refresh: bool) -> dict[str, object]:
    """The steps' run config that the models_job's top-level `full_refresh` stands for."""
    return {"ops": {m.name: {"config": {"full_refresh": full_refresh}} for m in MODELS}}


def _group(model: SqlModel) -> str:
    return f"models_{model.layer}"


def connect_model(lake: Lake, *names: str) -> duckdb.DuckDBPyConnection:
    """A connection with TEMP views of the models `names`: marts over their files, staging models
    as their own SQL over the lake (they are views, never files), as the marts read them."""
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        create_views(con, lake, names, TABLE_SPECS, MODELS)
    except (duckdb.Error, ModelError):
        con.close()
        raise
    return con


def model_ready(lake: Lake, model: SqlModel) -> bool:
    """A staging model (a view) can always be checked; a mart once it is materialised."""
    return not model.materialised or lake.has_model(model.name)


# The checks declared with a model's asset and run in its step, all blocking: a duplicate grain,
# a NULL key or a month that does not reconcile is wrong data for whatever reads the model.
Rule = Callable[[duckdb.DuckDBPyConnection], Outcome]


def model_checks(model: SqlModel) -> list[tuple[dg.AssetCheckSpec, Rule]]:
    """The checks of one model, from its `-- grain:` / `-- not null:` lines (and `reconciled` on
    `billing_reconciliation`)."""
    asset, notes, name = dg.AssetKey(model.name), model.annotations, model.name
    checks: list[tuple[dg.AssetCheckSpec, Rule]] = []
    if "grain" in notes:
        key = notes["grain"]
        spec = dg.AssetCheckSpec(
            "unique_key",
            asset=asset,
            blocking=True,
            description=f"No two rows of {name} share ({', '.join(key)}).",
        )
        checks.append((spec, lambda con: evaluate_unique(con, name, key)))
    if "not null" in notes:
        required = notes["not null"]
        spec = dg.AssetCheckSpec(
            "required_not_null",
            asset=asset,
            blocking=True,
            description=f"{name}: no NULLs in {', '.join(required)}.",
        )
        checks.append((spec, lambda con: evaluate_not_null(con, name, required)))
    if name == "billing_reconciliation":
        spec = dg.AssetCheckSpec(
            "reconciled",
            asset=asset,
            blocking=True,
            description="Billing CSV total = monthly bill and daily bills = the CSV's daily lines, within "
            "report_params.reconciliation_tolerance (1 currency unit), for every month with a bill and "
            "a CSV.",
        )
        checks.append((spec, evaluate_reconciliation))
    return checks


def _columns(con: duckdb.DuckDBPyConnection, model: SqlModel) -> list[tuple[str, str]]:
    """(name, DuckDB type) of the model's columns, as its view over the lake has them."""
    rows = con.execute(f"DESCRIBE {quote_identifier(model.name)}").fetchall()
    return [(row[0], row[1]) for row in rows]


def _check_results(
    context: AssetExecutionContext,
    con: duckdb.DuckDBPyConnection,
    model: SqlModel,
    checks: list[tuple[dg.AssetCheckSpec, Rule]],
) -> list[dg.AssetCheckResult]:
    selected = {key.name for key in context.selected_asset_check_keys}
    chosen = [(spec, rule) for spec, rule in checks if spec.name in selected]
    return [check_result(rule(con), check_name=spec.name) for spec, rule in chosen]


def model_asset(model: SqlModel, models: list[SqlModel] = MODELS) -> dg.AssetsDefinition:
    """The asset of one model: deps are the tables and models its SQL reads; its checks run in
    its own step, after the build."""
    checks = model_checks(model)

    @dg.asset(
        name=model.name,
        deps=[dg.AssetKey(name) for name in model.depends_on],
        group_name=_group(model),
        kinds={"duckdb", "parquet"} if model.materialised else {"duckdb"},
        owners=OWNERS,
        description=model.description,
        check_specs=[spec for spec, _ in checks],
        automation_condition=FOLLOW_THE_LOADS,
        metadata={
            "sql_file": dg.MetadataValue.path(str(model.path)),
            "dagster/code_references": sql_file_reference(model.path),
            "layer": model.layer,
            "materialised": "parquet" if model.materialised else "view",
            "grain": dg.MetadataValue.json(list(model.grain)),
            "depends_on": dg.MetadataValue.json(list(model.depends_on)),
        },
    )
    def _model(
        context: AssetExecutionContext, config: ModelBuildConfig, lake: LakeResource
    ) -> dg.MaterializeResult:
        the_lake = lake.lake()
        # One connection for the build, the checks and the column schema: binding the views of the
        # tables reads every partition file's footer, which on object storage is a request each.
        with duckdb.connect() as con:
            built = build_model(
                the_lake, model, TABLE_SPECS, models, con=con, full_refresh=config.full_refresh
            )
            if model.materialised:  # the mart's own view, over the files just written
                create_views(con, the_lake, [model.name], TABLE_SPECS, models)
            results = _check_results(context, con, model, checks)
            schema = {"dagster/column_schema": column_schema(_columns(con, model))}
        if isinstance(built, ViewResult):
            context.log.info(f"model {model.name}: a view of {len(built.columns)} columns (binds)")
            return dg.MaterializeResult(
                metadata={"view_columns": dg.MetadataValue.json(list(built.columns)), **schema},
                check_results=results,
            )
        context.log.info(f"model {model.name}: {built.rows} rows -> {built.path} ({build_summary(built)})")
        # A recomputed partitioned mart's query time, plotted per materialisation by Dagster: a mart
        # whose nightly query grows with the history kept shows here first.
        timed = isinstance(built, MartBuild) and not built.skipped
        query = {"query_seconds": dg.MetadataValue.float(round(built.query_seconds, 3))} if timed else {}
        return dg.MaterializeResult(
            check_results=results,
            metadata={
                "build": build_summary(built),
                "rows": dg.MetadataValue.int(built.rows),
                "bytes": dg.MetadataValue.int(built.bytes),
                "path": dg.MetadataValue.path(built.path),
                "dagster/row_count": dg.MetadataValue.int(built.rows),
                **query,
                **schema,
            },
        )

    return _model


def build_summary(built: WriteResult) -> str:
    """What a mart's build did, for its log line and metadata."""
    if not isinstance(built, MartBuild):
        return "rebuilt"
    if built.skipped:
        return "unchanged: nothing it reads changed since its last build"
    if not built.written and not built.unchanged and not built.deleted:
        return "full rebuild" if built.full else "rebuilt"
    kind = "full rebuild" if built.full else "incremental"
    return (
        f"{kind}: {len(built.written)} partition(s) written, {len(built.unchanged)} recomputed with the "
        f"same bytes, {len(built.deleted)} removed"
    )


MODEL_ASSETS: list[dg.AssetsDefinition] = [model_asset(model) for model in MODELS]
MODEL_KEYS = [dg.AssetKey(model.name) for model in MODELS]


# The catalog as the definitions declare it: after every model (public Dagster API only).
CATALOG_AFTER_MODELS = catalog_asset(after=MODEL_KEYS, automation_condition=FOLLOW_THE_LOADS)
