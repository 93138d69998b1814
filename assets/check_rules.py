"""The rules asset checks apply, as plain functions over DuckDB and the lake (each tested alone),
and the one conversion of their outcome to a Dagster check result.

Used by the source assets and the model assets, which run their own checks in their step
(`assets/loading.py`, `assets/models.py`), and by the cross-table checks (`assets/model_checks.py`).
Names in SQL come from code (specs, model files), never from API values.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import dagster as dg
import duckdb

from pipelines.lake import Lake, SqlModel, TableSpec
from pipelines.lake.views import quote_identifier, table_view_sql

MAX_EXAMPLES = 10
_ROWS = '"__rows_in_group"'  # a name no key column has
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


def connect_table(
    lake: Lake, spec: TableSpec, keys: Sequence[str] | None = None
) -> duckdb.DuckDBPyConnection:
    """A connection with `spec`'s table as a view: every partition, or only the files `keys` name."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"CREATE TEMP VIEW {quote_identifier(spec.name)} AS {table_view_sql(lake, spec, con, keys)}")
    return con


def _columns(con: duckdb.DuckDBPyConnection, relation: str) -> set[str]:
    return {row[0] for row in con.execute(f"DESCRIBE {quote_identifier(relation)}").fetchall()}


def evaluate_unique(con: duckdb.DuckDBPyConnection, relation: str, key: Sequence[str]) -> Outcome:
    """No two rows share `key` (NULLs compare equal, as a grain should)."""
    missing = [c for c in key if c not in _columns(con, relation)]
    if missing:
        return Outcome(False, f"{relation} lacks key column(s) {missing}; fix the grain or the SQL")
    cols = ", ".join(quote_identifier(c) for c in key)
    # The examples as a struct per group: each value comes back as Python has it (not cast to text).
    fields = ", ".join(f"'c{i}': {quote_identifier(c)}" for i, c in enumerate(key))
    # One scan gives the groups, their total and the duplicated ones: a staging view is computed
    # anew by each query over it (stg_session_segments: ~3 s a query over 32 days of 10,000 SIMs).
    ((total, found),) = con.execute(
        f"WITH groups AS MATERIALIZED (SELECT {cols}, count(*) AS {_ROWS} "
        f"FROM {quote_identifier(relation)} GROUP BY ALL), "
        f"duplicated AS (SELECT * FROM groups WHERE {_ROWS} > 1 "
        f"ORDER BY {_ROWS} DESC, {cols} LIMIT {MAX_EXAMPLES + 1}) "
        f"SELECT (SELECT CAST(coalesce(sum({_ROWS}), 0) AS BIGINT) FROM groups), "
        f"(SELECT list({{{fields}, 'rows': {_ROWS}}} ORDER BY {_ROWS} DESC, {cols}) FROM duplicated)"
    ).fetchall()
    rows = [(*(r[f"c{i}"] for i in range(len(key))), r["rows"]) for r in found or []]
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


def evaluate_load_counts(
    lake: Lake, spec: TableSpec, partition_of: Callable[[str], Mapping[str, object]], reported: dict[str, int]
) -> Outcome:
    """`reported`: Dagster partition key -> rows the load reported; `partition_of`: a key's lake
    partition. Compare with the lake files."""
    mismatched, missing = [], []
    for key, rows in sorted(reported.items()):
        in_lake = lake.partition_rows(spec, partition_of(key))  # local or object store
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
            f"{spec.name}: {len(mismatched)} partition(s) differ from the load's count, "
            f"{len(missing)} missing, e.g. {what}; reload them",
            metadata,
        )
    return Outcome(True, f"{spec.name}: {len(reported)} recent partition(s) match their loads", metadata)


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


def check_result(
    outcome: Outcome,
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR,
    check_name: str | None = None,
) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name=check_name,
        passed=outcome.passed,
        severity=severity,
        description=outcome.description,
        metadata={
            k: dg.MetadataValue.json(v) if isinstance(v, list | dict) else v
            for k, v in outcome.metadata.items()
        },
    )


def not_loaded(name: str, check_name: str | None = None) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name=check_name, passed=True, description=f"{name} has no data yet: nothing to check"
    )


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


# --- checks a source asset runs in its own step (assets/loading.py) -------------------------------
# Blocking: a duplicate or NULL key is wrong data for every model reading the table, so the
# models of the run are not built on it (the step fails after writing, naming the check).


def source_check_specs(spec: TableSpec) -> list[dg.AssetCheckSpec]:
    """The checks declared with a source table's asset."""
    asset = dg.AssetKey(spec.name)
    specs = []
    if spec.primary_key:
        key = ", ".join(table_key(spec))
        specs.append(
            dg.AssetCheckSpec(
                "unique_key",
                asset=asset,
                blocking=True,
                description=f"No two rows of the partitions a load of {spec.name} wrote share ({key}).",
            )
        )
    required = ", ".join(table_required(spec))
    specs.append(
        dg.AssetCheckSpec(
            "required_not_null",
            asset=asset,
            blocking=True,
            description=f"{spec.name}: no NULLs in {required} in the partitions a load wrote.",
        )
    )
    specs.append(
        dg.AssetCheckSpec(
            "rows_match_load",
            asset=asset,
            blocking=False,
            description=f"The latest {RECENT_LOADS} loaded partitions of {spec.name} hold as many rows as "
            "each load reported receiving from the API.",
        )
    )
    return specs


def _unique_in_written(
    lake: Lake, spec: TableSpec, files: Mapping[str, str], verified: Mapping[str, int]
) -> Outcome:
    """`evaluate_unique` over the written partitions, scanning only those whose write did not
    verify the key: the key includes the partition columns, so partitions unique each are
    unique together, and the outcome (rows counted over all) reads as one scan's would."""
    key = table_key(spec)
    rest = [file for partition, file in files.items() if partition not in verified]
    if not rest:
        total = sum(verified.values())
        return Outcome(True, f"{spec.name}: ({', '.join(key)}) unique over {total} rows", {"rows": total})
    with connect_table(lake, spec, rest) as con:
        outcome = evaluate_unique(con, spec.name, key)
    if "rows" in outcome.metadata:
        outcome.metadata["rows"] += sum(verified.values())
        if outcome.passed:
            outcome.description = (
                f"{spec.name}: ({', '.join(key)}) unique over {outcome.metadata['rows']} rows"
            )
    return outcome


def source_check_results(
    context: dg.AssetExecutionContext,
    lake: Lake,
    spec: TableSpec,
    partition_of: Callable[[str], Mapping[str, object]],
    loaded: Mapping[str, int],
    key_verified: Collection[str] = (),
) -> list[dg.AssetCheckResult]:
    """The selected checks of a source table, after its step wrote the partitions `loaded`
    (partition key -> rows, not yet in the instance's event log). Keys and NULLs are checked in
    the partitions this step wrote: a load costs what it wrote, not a scan of the whole table,
    and an old partition the step did not touch cannot fail it. `key_verified`: partitions whose
    write already proved the key unique (`WriteResult.key_verified`), not scanned again."""
    selected = {key.name for key in context.selected_asset_check_keys}
    results = []
    files = {key: lake.partition_key(spec, partition_of(key)) for key in loaded}
    files = {key: file for key, file in files.items() if lake.storage.exists(file)}
    if not files:
        return [not_loaded(spec.name, name) for name in sorted(selected)]
    with connect_table(lake, spec, list(files.values())) as con:
        if "unique_key" in selected:
            outcome = _unique_in_written(
                lake, spec, files, {k: loaded[k] for k in files if k in key_verified}
            )
            results.append(check_result(outcome, check_name="unique_key"))
        if "required_not_null" in selected:
            outcome = evaluate_not_null(con, spec.name, table_required(spec))
            results.append(check_result(outcome, check_name="required_not_null"))
    if "rows_match_load" in selected:
        reported = {**reported_rows(context.instance, dg.AssetKey(spec.name)), **loaded}
        outcome = evaluate_load_counts(lake, spec, partition_of, reported)
        results.append(check_result(outcome, check_name="rows_match_load"))
    return results
