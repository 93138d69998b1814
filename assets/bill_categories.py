"""The check that every bill item has a cost category (`stg_billing_items`).

Real bill item names are not documented, differ by coverage and are Japanese on `jp`, so lines
are classified by the editable seed `sql/seeds/bill_item_categories.csv`. A name no rule
matches becomes `other`; this check warns (it does not fail the run) with those names and their
share of their month, so an analyst adds a rule to the seed before the costs look wrong.
"""

from __future__ import annotations

from decimal import Decimal

import dagster as dg
import duckdb

from assets.check_rules import MAX_EXAMPLES, Outcome, check_result, not_loaded
from assets.models import MODELS_BY_NAME, connect_model, model_ready
from assets.resources import LakeResource

MODEL = "stg_billing_items"
SEED = "sql/seeds/bill_item_categories.csv"


def evaluate_uncategorised(con: duckdb.DuckDBPyConnection) -> Outcome:
    """Names no seed rule matched, per coverage and month, with their share of the month's
    charges (sums of absolute amounts, so discounts count as charges too)."""
    rows = con.execute(
        """
        WITH lines AS (
            SELECT coverage, year_month, bill_item_name, category_pattern, amount FROM stg_billing_items
        ),
        months AS (
            SELECT coverage, year_month, sum(abs(amount)) AS month_total FROM lines GROUP BY ALL
        )
        SELECT l.coverage, l.year_month, l.bill_item_name, sum(l.amount) AS amount,
            sum(abs(l.amount)) / nullif(any_value(m.month_total), 0) AS share
        FROM lines AS l JOIN months AS m USING (coverage, year_month)
        WHERE l.category_pattern IS NULL
        GROUP BY ALL
        ORDER BY share DESC NULLS LAST, l.coverage, l.year_month, l.bill_item_name
        """
    ).fetchall()
    unmatched = [
        {
            "coverage": coverage,
            "year_month": month,
            "bill_item_name": name,
            "amount": str(amount),
            "share_of_month_pct": round(float(Decimal(share) * 100), 3) if share is not None else 0.0,
        }
        for coverage, month, name, amount, share in rows
    ]
    names = sorted({u["bill_item_name"] for u in unmatched})
    metadata = {"unmatched": unmatched[:MAX_EXAMPLES], "unmatched_names": names}
    if unmatched:
        top = unmatched[0]
        return Outcome(
            False,
            f"{len(names)} bill item name(s) match no rule of {SEED} and count as 'other', e.g. "
            f"{top['bill_item_name']!r} ({top['share_of_month_pct']}% of {top['coverage']} "
            f"{top['year_month']}); add a pattern -> category line to the seed",
            metadata,
        )
    return Outcome(True, f"every bill item name matches a rule of {SEED}", metadata)


def _categorised_check() -> dg.AssetChecksDefinition:
    model = MODELS_BY_NAME[MODEL]

    @dg.asset_check(
        asset=dg.AssetKey(MODEL),
        name="bill_items_categorised",
        blocking=False,
        description=f"Every bill item name matches a rule of {SEED}; warns with the unmatched names "
        "(classified 'other') and their share of the month.",
    )
    def _check(lake: LakeResource) -> dg.AssetCheckResult:
        the_lake = lake.lake()
        if not model_ready(the_lake, model):
            return not_loaded(MODEL)
        with connect_model(the_lake, MODEL) as con:
            return check_result(evaluate_uncategorised(con), dg.AssetCheckSeverity.WARN)

    return _check


CATEGORY_CHECKS: list[dg.AssetChecksDefinition] = [_categorised_check()] if MODEL in MODELS_BY_NAME else []
