"""Asset checks: they pass on a consistent lake and fail, saying where, on a broken one."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pyarrow.parquet as pq
import pytest

from assets import check_rules as rules
from assets import model_checks as mc
from assets.billing import ITEMS_SPEC
from assets.models import MODEL_ASSETS, MODELS, MODELS_BY_NAME, connect_model
from assets.resources import ClockResource, LakeResource, SoracomResource
from assets.tables import SOURCES, TABLE_ASSETS, TABLE_SPECS, source
from pipelines.lake import Lake, build_model
from pipelines.lake.views import table_view_sql
from tests.models.conftest import BuiltLake


def test_keys_and_required_columns_hold_on_every_table_and_model(built: BuiltLake) -> None:
    checked = 0
    for table in SOURCES:
        if not built.lake.partitions(table.spec):
            continue
        with rules.connect_table(built.lake, table.spec) as con:
            if table.spec.primary_key:
                outcome = rules.evaluate_unique(con, table.spec.name, rules.table_key(table.spec))
                assert outcome.passed, outcome.description
            outcome = rules.evaluate_not_null(con, table.spec.name, rules.table_required(table.spec))
            assert outcome.passed, outcome.description
            checked += 1
    for model in MODELS:
        notes = rules.annotations(model)
        assert "not null" in notes, f"{model.path} declares no required columns"
        with connect_model(built.lake, model.name) as con:
            if "grain" in notes:
                outcome = rules.evaluate_unique(con, model.name, notes["grain"])
                assert outcome.passed, outcome.description
            outcome = rules.evaluate_not_null(con, model.name, notes["not null"])
            assert outcome.passed, outcome.description
            checked += 1
    assert checked == len(SOURCES) + len(MODELS)


def test_duplicates_and_nulls_are_reported_with_an_example(built: BuiltLake) -> None:
    with connect_model(built.lake, "sim_monthly_cost") as con:
        con.execute(
            "CREATE TABLE doubled AS SELECT * FROM sim_monthly_cost UNION ALL "
            "(SELECT * FROM sim_monthly_cost ORDER BY sim_id LIMIT 1)"
        )
        key = rules.annotations(MODELS_BY_NAME["sim_monthly_cost"])["grain"]
        outcome = rules.evaluate_unique(con, "doubled", key)
        assert not outcome.passed
        assert "not unique" in outcome.description and outcome.metadata["duplicates"][0]["rows"] == "2"
        con.execute("UPDATE doubled SET month = NULL WHERE sim_id = (SELECT min(sim_id) FROM doubled)")
        (nulls,) = con.execute("SELECT count(*) FROM doubled WHERE month IS NULL").fetchall()[0]
        outcome = rules.evaluate_not_null(con, "doubled", ("coverage", "month"))
        assert nulls >= 2
        assert not outcome.passed and outcome.metadata["nulls"] == {"month": nulls}


@pytest.fixture
def tampered(built: BuiltLake, tmp_path: Path) -> Lake:
    """A copy of the lake where a closed month's billing CSV has one extra 5-unit line."""
    shutil.copytree(built.lake.storage.uri(""), tmp_path / "lake")
    lake = Lake(tmp_path / "lake")
    partition = {"month": "2026-10"}
    items = lake.read(ITEMS_SPEC, partition)
    extra = (
        items.filter(pl.col("coverage") == "jp")
        .head(1)
        .with_columns(
            pl.lit(Decimal(5)).cast(items.schema["amount"]).alias("amount"),
            pl.lit("Mystery fee").alias("bill_item_name"),
        )
    )
    lake.write_partition(ITEMS_SPEC, partition, pl.concat([items, extra]))
    for model in MODELS:  # staging then marts, as in production
        build_model(lake, model, TABLE_SPECS, MODELS)
    return lake


def test_reconciliation_passes_then_names_the_month_that_does_not(built: BuiltLake, tampered: Lake) -> None:
    with connect_model(built.lake, "billing_reconciliation") as con:
        outcome = rules.evaluate_reconciliation(con)
    assert outcome.passed, outcome.description
    assert outcome.metadata["months"] == 4
    with connect_model(tampered, "billing_reconciliation") as con:
        outcome = rules.evaluate_reconciliation(con)
    assert not outcome.passed
    assert outcome.metadata["mismatched"] == [
        {
            "coverage": "jp",
            "year_month": "202610",
            "csv_minus_bill": "5.000000000000",
            "daily_minus_csv_daily": outcome.metadata["mismatched"][0]["daily_minus_csv_daily"],
        }
    ]


def test_totals_agree_with_soracoms_billing_summaries(built: BuiltLake, tampered: Lake) -> None:
    summaries = source("billing_summaries").spec
    for lake, ok in ((built.lake, True), (tampered, False)):
        with rules.connect_table(lake, ITEMS_SPEC) as con:
            con.execute("CREATE TEMP VIEW billing_summaries AS " + table_view_sql(lake, summaries, con))
            outcome = rules.evaluate_item_summaries(con)
        assert outcome.passed is ok, outcome.description
        assert outcome.metadata["compared"] > 10
    with connect_model(built.lake, "sim_monthly_cost", "stg_billing_summaries") as con:
        outcome = rules.evaluate_sim_summaries(con)
    assert outcome.passed, outcome.description
    assert outcome.metadata["compared"] > 100


def test_load_counts_compare_each_partition_with_what_the_load_reported(built: BuiltLake) -> None:
    table = source("air_traffic_daily")
    keys = [p["date"].strftime("%Y-%m-%d") for p in built.lake.partitions(table.spec)][-3:]
    counts = {
        k: pq.ParquetFile(
            built.lake.storage.uri(built.lake.partition_key(table.spec, table.lake_partition_of(k)))
        ).metadata.num_rows
        for k in keys
    }
    assert rules.evaluate_load_counts(built.lake, table.spec, table.lake_partition_of, counts).passed
    off = {**counts, keys[0]: counts[keys[0]] + 1}
    outcome = rules.evaluate_load_counts(built.lake, table.spec, table.lake_partition_of, off)
    assert not outcome.passed and outcome.metadata["mismatched"][0]["partition"] == keys[0]
    outcome = rules.evaluate_load_counts(
        built.lake, table.spec, table.lake_partition_of, {**counts, "2020-01-01": 7}
    )
    assert not outcome.passed and outcome.metadata["missing"] == ["2020-01-01"]


def test_every_model_check_runs_in_dagster_and_passes_on_the_built_lake(built: BuiltLake) -> None:
    # the models' own checks run in their build step; the cross-table ones as separate checks
    selection = dg.AssetSelection.assets(*MODEL_ASSETS) | dg.AssetSelection.checks(*mc.MODEL_CHECKS)
    job = dg.define_asset_job("models_and_checks", selection=selection)
    defs = dg.Definitions(
        assets=[*TABLE_ASSETS, *MODEL_ASSETS],
        asset_checks=mc.MODEL_CHECKS,
        jobs=[job],
        resources={
            "lake": LakeResource(root=built.lake.storage.uri(""), catalog_path=str(built.catalog)),
            "clock": ClockResource(),
            "soracom": SoracomResource(),
        },
    )
    result = defs.resolve_job_def("models_and_checks").execute_in_process(
        instance=dg.DagsterInstance.ephemeral()
    )
    evaluations = result.get_asset_check_evaluations()
    declared = {key for asset in MODEL_ASSETS for key in asset.check_keys}
    assert len(evaluations) == len(declared) + len(mc.MODEL_CHECKS)
    failed = [
        (e.asset_key.to_user_string(), e.check_name, e.description) for e in evaluations if not e.passed
    ]
    assert not failed
    names = {(e.asset_key.to_user_string(), e.check_name) for e in evaluations}
    assert ("billing_reconciliation", "reconciled") in names
    assert ("sim_monthly_cost", "unique_key") in names
    assert ("billing_items", "agrees_with_billing_summaries") in names


def test_retention_risk_checks_are_wired_in_the_code_location() -> None:
    from pipelines.definitions import defs

    keys = {(k.asset_key.to_user_string(), k.name) for k in defs.resolve_asset_graph().asset_check_keys}
    assert ("session_events", "retention_risk") in keys
    assert ("sim_daily_usage", "unique_key") in keys
    assert ("air_traffic_daily", "rows_match_load") in keys


def test_sql_names_come_from_code_not_data() -> None:
    # evaluate_* build SQL only from spec/model names and annotation columns, all quoted
    assert rules.quote_identifier('we"ird') == '"we""ird"'
    with duckdb.connect() as con:
        con.execute('CREATE TABLE "we""ird" (a INT)')
        assert rules.evaluate_unique(con, 'we"ird', ("a",)).passed
