"""Asset checks that read two assets: a source table, or a model, against Soracom's own totals.

- `agrees_with_billing_summaries`: on `billing_items` (per bill item) and `sim_monthly_cost`
  (per SIM), closed months agree with the totals Soracom reports in /bills/summaries.

The checks of one asset run in that asset's own step (`assets/check_rules.py`: `unique_key`,
`required_not_null`, `rows_match_load` on every source table; `unique_key`,
`required_not_null` from a model's `-- grain:` / `-- not null:` lines and `reconciled` on
`billing_reconciliation` in `assets/models.py`). The retention-risk checks live in
assets/checks.py. These two stay separate checks: they read a second asset, which a run of
the first may not have loaded, and they only warn of a difference with Soracom (non-blocking).
"""

import dagster as dg

from assets.check_rules import (
    check_result,
    connect_table,
    evaluate_item_summaries,
    evaluate_sim_summaries,
    not_loaded,
)
from assets.models import MODELS_BY_NAME, connect_model, model_ready
from assets.resources import LakeResource
from assets.tables import SOURCES
from pipelines.lake.views import table_view_sql


def _billing_checks() -> list[dg.AssetChecksDefinition]:
    items = next(t for t in SOURCES if t.spec.name == "billing_items")
    summaries = next(t for t in SOURCES if t.spec.name == "billing_summaries")

    @dg.asset_check(
        asset=items.asset,
        name="agrees_with_billing_summaries",
        blocking=False,
        description="Closed months: the billing CSV's total per bill item equals Soracom's "
        "/bills/summaries/bill_items amount (within 1 currency unit).",
    )
    def _items(lake: LakeResource) -> dg.AssetCheckResult:
        the_lake = lake.lake()
        if not the_lake.partitions(items.spec) or not the_lake.partitions(summaries.spec):
            return not_loaded("billing_items or billing_summaries")
        with connect_table(the_lake, items.spec) as con:
            con.execute(
                f"CREATE TEMP VIEW billing_summaries AS {table_view_sql(the_lake, summaries.spec, con)}"
            )
            return check_result(evaluate_item_summaries(con))

    checks = [_items]
    if "sim_monthly_cost" in MODELS_BY_NAME and "stg_billing_summaries" in MODELS_BY_NAME:

        @dg.asset_check(
            asset=dg.AssetKey("sim_monthly_cost"),
            name="agrees_with_billing_summaries",
            additional_deps=[dg.AssetKey("stg_billing_summaries")],
            blocking=False,
            description="Closed months: each SIM's total equals Soracom's /bills/summaries/sims amount "
            "(within 1 currency unit), for the SIMs Soracom lists.",
        )
        def _sims(lake: LakeResource) -> dg.AssetCheckResult:
            the_lake = lake.lake()
            if not model_ready(the_lake, MODELS_BY_NAME["sim_monthly_cost"]):
                return not_loaded("sim_monthly_cost")
            with connect_model(the_lake, "sim_monthly_cost", "stg_billing_summaries") as con:
                return check_result(evaluate_sim_summaries(con))

        checks.append(_sims)
    return checks


MODEL_CHECKS: list[dg.AssetChecksDefinition] = _billing_checks()
