"""`catalog`: the DuckDB file of views over every lake table (and every materialised SQL model).

It sits downstream of all source tables and is part of every load job, so after any run
the catalog shows every table loaded so far. The build writes a new file and swaps it in
(`build_catalog`), so BI tools holding the old file are never blocked.
"""

from collections.abc import Sequence

import dagster as dg
from dagster import AssetExecutionContext

from assets.describe import COLUMN_DOCS, OWNERS
from assets.resources import LakeResource
from assets.tables import TABLE_ASSETS, TABLE_SPECS
from pipelines.lake import build_catalog

DESCRIPTION = "DuckDB catalog: one view per lake table and materialised model, swapped in atomically."


def build(context: AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    """Rebuild the catalog file from what the lake holds (the body of every `catalog` asset)."""
    # The models the code location loaded: assets/models.py parses the SQL files when imported
    # (here, not at the top: it imports this module). Parsing them again cost every run ~0.3 s.
    from assets.models import MODELS as models

    the_lake = lake.lake()
    path = build_catalog(the_lake, lake.catalog_file(), TABLE_SPECS, models, column_comments=COLUMN_DOCS)
    loaded = {spec.name: len(the_lake.partitions(spec)) for spec in TABLE_SPECS}
    materialised = [m.name for m in models if the_lake.has_model(m.name)]
    context.log.info(f"catalog {path}: {sum(1 for n in loaded.values() if n)} tables with data")
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(path)),
            "tables": dg.MetadataValue.int(len(TABLE_SPECS)),
            "partitions_by_table": dg.MetadataValue.json(loaded),
            "models": dg.MetadataValue.json(materialised),
            "bytes": dg.MetadataValue.int(path.stat().st_size),
        }
    )


def catalog_asset(
    after: Sequence[dg.AssetKey] = (), automation_condition: dg.AutomationCondition | None = None
) -> dg.AssetsDefinition:
    """The `catalog` asset, downstream of every table and of `after` (the SQL models, so a run
    that builds models builds the catalog last), rebuilt by `automation_condition` too (after
    the models). Models not materialised yet are skipped, so load jobs that select only tables
    and the catalog work either way."""
    deps = [*(dg.AssetKey(spec.name) for spec in TABLE_SPECS), *after]
    assert {a.key for a in TABLE_ASSETS} <= set(deps)
    return dg.asset(
        name="catalog",
        deps=deps,
        group_name="catalog",
        kinds={"duckdb"},
        owners=OWNERS,
        description=DESCRIPTION,
        automation_condition=automation_condition,
    )(build)


catalog = catalog_asset()
