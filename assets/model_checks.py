"""Asset checks on the ingested tables and the SQL models.

- `unique_key` / `required_not_null`: on every source table (key = partition columns + primary
  key; required = key, `coverage`, `_loaded_at`) and every model that declares a
  `-- grain: a, b` / `-- not null: a, b` comment line in its SQL file. Marts are checked in their
  Parquet file; staging models, which are views, are checked by running their SQL over the lake.
- `reconciled`: on `billing_reconciliation`, the billing CSV total, the monthly bill and the sum
  of daily bills agree within `report_params.reconciliation_tolerance` (1 currency unit).
- `rows_match_load`: on every source table, each recently loaded partition holds as many rows
  as the load reported receiving from the API (catches partitions lost or overwritten since).
- `agrees_with_billing_summaries`: on `billing_items` (per bill item) and `sim_monthly_cost`
  (per SIM), closed months agree with the totals Soracom reports in /bills/summaries.
The retention-risk checks live in assets/checks.py.

Each check is a plain function over a DuckDB connection (`evaluate_*`, tested alone) plus a thin
Dagster wrapper. Names in SQL come from code (specs, model files), never from API values.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import dagster as dg
import duckdb

from assets.models import MODELS, MODELS_BY_NAME
from assets.resources import LakeResource
from assets.source import Source
from assets.tables import SOURCES, TABLE_SPECS
from pipelines.lake import Lake, ModelError, SqlModel, TableSpec, create_views
from pipelines.lake.views import quote_identifier, table_view_sql

MAX_EXAMPLES = 10
RECENT_LOADS = 50  # rows_match_load looks at this many latest materializations


@dataclass
class Outcome:
    """What a check found: pass/fail, one line for the UI, and details."""

    passed: bool
    description: str
    metadata: dict[str, Any] = field(default_factory=dict)


def annotations(model: SqlModel) -> dict[str, tuple[str, ...]]:
    """`{"grain": (...), "not null": (...)}` from the model's `-- grain:` / `-- not null:` lines."""
    return model.annotations


def table_key(spec: TableSpec) -> tuple[str, ...]:
    return (*spec.partition_by, *(c for c in spec.primary_key if c not in spec.partition_by))


def table_required(spec: TableSpec) -> tuple[str, ...]:
    names = set(spec.schema.names)
    extra = tuple(c for c in ("coverage", "_loaded_at") if c in names)
    return tuple(dict.fromkeys((*table_key(spec), *extra)))


def connect_table(lake: Lake, spec: TableSpec) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"CREATE TEMP VIEW {quote_identifier(spec.name)} AS {table_view_sql(lake, spec, con)}")
    return con


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


def _columns(con: duckdb.DuckDBPyConnection, relation: str) -> set[str]:
    return {row[0] for row in con.execute(f"DESCRIBE {quote_identifier(relation)}").fetchall()}


def evaluate_unique(con: duckdb.DuckDBPyConnection, relation: str, key: Sequence[str]) -> Outcome:
    """No two rows share `key` (NULLs compare equal, as a grain should)."""
    missing = [c for c in key if c not in _columns(con, relation)]
    if missing:
        return Outcome(False, f"{relation} lacks key column(s) {missing}; fix the grain or the SQL")
    cols = ", ".join(quote_identifier(c) for c in key)
    rows = con.execute(
        f"SELECT {cols}, count(*) AS n FROM {quote_identifier(relation)} GROUP BY ALL HAVING count(*) > 1 "
        f"ORDER BY n DESC, {cols} LIMIT {MAX_EXAMPLES + 1}"
    ).fetchall()
    total = con.execute(f"SELECT count(*) FROM {quote_identifier(relation)}").fetchall()[0][0]
    examples = [dict(zip([*key, "rows"], map(str, r), strict=True)) for r in rows[:MAX_EXAMPLES]]
    if rows:
        return Outcome(
            False,
            f"{relation}: key ({', '.join(key)}) is not unique, e.g. {examples[0]}",
            {"duplicates": examples, "rows": total},
        )
    return Outcome(True, f"{relation}: ({', '.join(key)}) unique over {total} rows", {"rows": total})


def evaluate_not_null(con: duckdb.DuckDBPyConnection, relation: str, columns: Sequence[str]) -> Outcome:
    missing = [c for c in columns if c not in _columns(con, relation)]
    if missing:
        return Outcome(False, f"{relation} lacks required column(s) {missing}")
    counts = ", ".join(f"count(*) FILTER (WHERE {quote_identifier(c)} IS NULL)" for c in columns)
    nulls = dict(
        zip(
            columns,
            con.execute(f"SELECT {counts} FROM {quote_identifier(relation)}").fetchall()[0],
            strict=True,
        )
    )
    bad = {c: n for c, n in nulls.items() if n}
    if bad:
        return Outcome(False, f"{relation}: NULLs in required columns {bad}", {"nulls": bad})
    return Outcome(True, f"{relation}: no NULLs in {', '.join(columns)}", {"nulls": nulls})


def evaluate_reconciliation(con: duckdb.DuckDBPyConnection) -> Outcome:
    """Every month whose three sources are loaded reconciles; months missing a source are listed."""
    rows = con.execute(
        "SELECT coverage, year_month, csv_minus_bill, daily_bills_minus_csv_daily, reconciled, "
        "bill_amount IS NULL OR csv_total IS NULL AS incomplete FROM billing_reconciliation "
        "ORDER BY coverage, year_month"
    ).fetchall()
    failed = [
        {"coverage": c, "year_month": m, "csv_minus_bill": str(d1), "daily_minus_csv_daily": str(d2)}
        for c, m, d1, d2, ok, incomplete in rows
        if not incomplete and not ok
    ]
    incomplete = [f"{c} {m}" for c, m, *_, inc in rows if inc]
    metadata = {"months": len(rows), "mismatched": failed[:MAX_EXAMPLES], "incomplete": incomplete}
    if failed:
        return Outcome(False, f"{len(failed)} month(s) do not reconcile, e.g. {failed[0]}", metadata)
    return Outcome(
        True,
        f"{len(rows) - len(incomplete)} month(s) reconcile"
        + (f"; {len(incomplete)} lack a bill or CSV: {', '.join(incomplete)}" if incomplete else ""),
        metadata,
    )


def evaluate_load_counts(lake: Lake, table: Source, reported: dict[str, int]) -> Outcome:
    """`reported`: Dagster partition key -> rows the load reported. Compare with the lake files."""
    mismatched, missing = [], []
    for key, rows in sorted(reported.items()):
        in_lake = lake.partition_rows(table.spec, table.lake_partition_of(key))  # local or object store
        if in_lake is None:
            missing.append(key)
            continue
        if in_lake != rows:
            mismatched.append({"partition": key, "reported": rows, "in_lake": in_lake})
    metadata = {"partitions": len(reported), "mismatched": mismatched[:MAX_EXAMPLES], "missing": missing}
    if mismatched or missing:
        what = mismatched[0] if mismatched else f"partition {missing[0]} has no file"
        return Outcome(
            False,
            f"{table.spec.name}: {len(mismatched)} partition(s) differ from the load's count, "
            f"{len(missing)} missing, e.g. {what}; reload them",
            metadata,
        )
    return Outcome(
        True, f"{table.spec.name}: {len(reported)} recent partition(s) match their loads", metadata
    )


def evaluate_item_summaries(con: duckdb.DuckDBPyConnection, tolerance: Decimal = Decimal(1)) -> Outcome:
    """Closed months in both: billing CSV total per bill item == /bills/summaries/bill_items amount
    (an item only one side lists counts as 0 on the other)."""
    rows = con.execute(
        """
        WITH items AS (
            SELECT coverage, year_month, bill_item_name, sum(amount) AS csv_amount
            FROM billing_items WHERE NOT preliminary GROUP BY ALL
        ),
        summaries AS (
            SELECT coverage, year_month, bill_item_name, CAST(amount AS DECIMAL(38, 12)) AS summary_amount
            FROM billing_summaries WHERE summary = 'bill_items'
            QUALIFY date = max(date) OVER (PARTITION BY coverage, year_month)
        )
        SELECT coverage, year_month, bill_item_name, coalesce(csv_amount, 0), coalesce(summary_amount, 0)
        FROM items FULL JOIN summaries USING (coverage, year_month, bill_item_name)
        WHERE (coverage, year_month) IN (SELECT DISTINCT coverage, year_month FROM items)
            AND (coverage, year_month) IN (SELECT DISTINCT coverage, year_month FROM summaries)
        ORDER BY ALL
        """
    ).fetchall()
    return _compare_amounts(rows, "bill item", tolerance)


def evaluate_sim_summaries(con: duckdb.DuckDBPyConnection, tolerance: Decimal = Decimal(1)) -> Outcome:
    """Closed months: sim_monthly_cost total per SIM == /bills/summaries/sims amount (SIMs listed)."""
    rows = con.execute(
        """
        WITH summaries AS (
            SELECT coverage, year_month, sim_id, CAST(amount AS DECIMAL(38, 12)) AS summary_amount
            FROM stg_billing_summaries WHERE summary = 'sims'
        )
        SELECT c.coverage, c.year_month, c.sim_id, c.total_amount, s.summary_amount
        FROM sim_monthly_cost AS c JOIN summaries AS s USING (coverage, year_month, sim_id)
        WHERE NOT c.preliminary
        ORDER BY ALL
        """
    ).fetchall()
    return _compare_amounts(rows, "SIM", tolerance)


def _compare_amounts(rows: list[tuple[Any, ...]], what: str, tolerance: Decimal) -> Outcome:
    off = [
        {"coverage": c, "year_month": m, what: name, "ours": str(a), "soracom": str(b)}
        for c, m, name, a, b in rows
        if abs(Decimal(a) - Decimal(b)) > tolerance
    ]
    metadata = {"compared": len(rows), "differences": off[:MAX_EXAMPLES]}
    if off:
        return Outcome(
            False,
            f"{len(off)} of {len(rows)} {what} totals differ from Soracom's summary, e.g. {off[0]}",
            metadata,
        )
    return Outcome(True, f"{len(rows)} {what} totals of closed months agree with Soracom's summary", metadata)


# --- Dagster wrappers ---------------------------------------------------------------------------


def _result(
    outcome: Outcome, severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR
) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=outcome.passed,
        severity=severity,
        description=outcome.description,
        metadata={
            k: dg.MetadataValue.json(v) if isinstance(v, list | dict) else v
            for k, v in outcome.metadata.items()
        },
    )


def _not_loaded(name: str) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True, description=f"{name} has no data yet: nothing to check")


def _model_check(
    model: SqlModel, name: str, description: str, evaluate: Callable[[duckdb.DuckDBPyConnection], Outcome]
) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=dg.AssetKey(model.name), name=name, description=description, blocking=False)
    def _check(lake: LakeResource) -> dg.AssetCheckResult:
        the_lake = lake.lake()
        if not model_ready(the_lake, model):
            return _not_loaded(model.name)
        with connect_model(the_lake, model.name) as con:
            return _result(evaluate(con))

    return _check


def _table_check(
    table: Source, name: str, description: str, evaluate: Callable[[duckdb.DuckDBPyConnection], Outcome]
) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=table.asset, name=name, description=description, blocking=False)
    def _check(lake: LakeResource) -> dg.AssetCheckResult:
        the_lake = lake.lake()
        if not the_lake.partitions(table.spec):
            return _not_loaded(table.spec.name)
        with connect_table(the_lake, table.spec) as con:
            return _result(evaluate(con))

    return _check


def _key_checks() -> list[dg.AssetChecksDefinition]:
    checks = []
    for table in SOURCES:
        spec = table.spec
        if spec.primary_key:
            key = table_key(spec)
            checks.append(
                _table_check(
                    table,
                    "unique_key",
                    f"No two rows of {spec.name} share ({', '.join(key)}).",
                    lambda con, n=spec.name, k=key: evaluate_unique(con, n, k),
                )
            )
        required = table_required(spec)
        checks.append(
            _table_check(
                table,
                "required_not_null",
                f"{spec.name}: no NULLs in {', '.join(required)}.",
                lambda con, n=spec.name, r=required: evaluate_not_null(con, n, r),
            )
        )
    for model in MODELS:
        notes = annotations(model)
        if "grain" in notes:
            checks.append(
                _model_check(
                    model,
                    "unique_key",
                    f"No two rows of {model.name} share ({', '.join(notes['grain'])}).",
                    lambda con, n=model.name, k=notes["grain"]: evaluate_unique(con, n, k),
                )
            )
        if "not null" in notes:
            checks.append(
                _model_check(
                    model,
                    "required_not_null",
                    f"{model.name}: no NULLs in {', '.join(notes['not null'])}.",
                    lambda con, n=model.name, r=notes["not null"]: evaluate_not_null(con, n, r),
                )
            )
    return checks


def reported_rows(
    instance: dg.DagsterInstance, key: dg.AssetKey, limit: int = RECENT_LOADS
) -> dict[str, int]:
    """Partition key -> rows its latest materialization reported (each partition its own, also in
    range runs; `rows_by_partition` is read from events recorded before that)."""
    found: dict[str, int] = {}
    for record in instance.fetch_materializations(key, limit=limit).records:
        materialization = record.asset_materialization
        if materialization is None or materialization.partition is None:
            continue
        partition = materialization.partition
        if partition in found:  # newest first: keep the latest
            continue
        metadata = materialization.metadata
        by_partition = metadata.get("rows_by_partition")
        if by_partition is not None and partition in (by_partition.value or {}):
            found[partition] = int(by_partition.value[partition])
        elif "rows" in metadata and "rows_by_partition" not in metadata:
            found[partition] = int(metadata["rows"].value)
    return found


def _load_count_check(table: Source) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=table.asset,
        name="rows_match_load",
        blocking=False,
        description=f"The latest {RECENT_LOADS} loaded partitions of {table.spec.name} hold as many rows "
        "as each load reported receiving from the API.",
    )
    def _check(context: dg.AssetCheckExecutionContext, lake: LakeResource) -> dg.AssetCheckResult:
        reported = reported_rows(context.instance, table.asset.key)
        return _result(evaluate_load_counts(lake.lake(), table, reported))

    return _check


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
            return _not_loaded("billing_items or billing_summaries")
        with connect_table(the_lake, items.spec) as con:
            con.execute(
                f"CREATE TEMP VIEW billing_summaries AS {table_view_sql(the_lake, summaries.spec, con)}"
            )
            return _result(evaluate_item_summaries(con))

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
                return _not_loaded("sim_monthly_cost")
            with connect_model(the_lake, "sim_monthly_cost", "stg_billing_summaries") as con:
                return _result(evaluate_sim_summaries(con))

        checks.append(_sims)
    return checks


def _reconciliation_checks() -> list[dg.AssetChecksDefinition]:
    model = MODELS_BY_NAME.get("billing_reconciliation")
    if model is None:
        return []
    return [
        _model_check(
            model,
            "reconciled",
            "Billing CSV total = monthly bill and daily bills = the CSV's daily lines, within "
            "report_params.reconciliation_tolerance (1 currency unit), for every month with a bill and "
            "a CSV.",
            evaluate_reconciliation,
        )
    ]


MODEL_CHECKS: list[dg.AssetChecksDefinition] = [
    *_key_checks(),
    *[_load_count_check(t) for t in SOURCES],
    *_billing_checks(),
    *_reconciliation_checks(),
]
