"""The model files as Dagster assets: deps parsed from SQL, descriptions, bad files, re-runs."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq
import pytest

from assets.models import MODEL_ASSETS, MODELS, SQL_DIR, after_models
from assets.tables import TABLE_SPECS
from pipelines.lake import ModelError, discover_models
from tests.models.conftest import BuiltLake, materialise_all

TABLES = [s.name for s in TABLE_SPECS]


def test_every_model_is_an_asset_with_deps_from_its_sql() -> None:
    by_key = {a.key.to_user_string(): a for a in MODEL_ASSETS}
    assert set(by_key) == {m.name for m in MODELS}
    usage = by_key["sim_daily_usage"]
    deps = {d.asset_key.to_user_string() for d in next(iter(usage.specs)).deps}
    assert deps == {
        "stg_air_traffic_daily",
        "stg_harvest_entries",
        "stg_session_events",
        "stg_session_segments",
        "stg_sims",
    }
    sims = next(iter(by_key["stg_sims"].specs))
    assert {d.asset_key.to_user_string() for d in sims.deps} == {"sims", "stg_groups"}


def test_every_model_has_a_one_line_description_in_the_ui_and_the_readme() -> None:
    readme = (SQL_DIR / "README.md").read_text(encoding="utf-8")
    for asset, model in zip(MODEL_ASSETS, MODELS, strict=True):
        description = next(iter(asset.specs)).description
        first_line = model.path.read_text(encoding="utf-8").splitlines()[0]
        assert description == first_line.removeprefix("--").strip()
        assert len(description) > 20
        row = re.search(rf"^\| `{model.name}` \| (.+?) \|$", readme, re.MULTILINE)
        assert row, f"sql/README.md lacks a row for {model.name}"
        assert row.group(1) == description, model.name


def test_required_models_exist() -> None:
    names = {m.name for m in MODELS}
    assert {
        "sim_daily_usage",
        "sim_monthly_cost",
        "cost_by_group_monthly",
        "cost_by_tag_monthly",
        "billing_reconciliation",
        "idle_sims",
        "traffic_anomalies",
        "api_activity_daily",
        "napter_access_daily",
        "harvest_daily",
        "monthly_summary",
    } <= names
    staged = {d for m in MODELS if m.layer == "staging" for d in m.depends_on}
    assert set(TABLES) <= staged, "every ingested table has a staging model"


def test_unknown_table_fails_with_the_file_and_table(tmp_path: Path) -> None:
    copy = tmp_path / "sql"
    shutil.copytree(SQL_DIR, copy)
    bad = copy / "marts" / "broken_mart.sql"
    bad.write_text(
        "-- Reads a table that does not exist\nSELECT * FROM sim_daily_usage JOIN no_such_table USING (x)\n"
    )
    with pytest.raises(ModelError) as caught:
        discover_models(copy, TABLES)
    assert str(bad) in str(caught.value)
    assert "no_such_table" in str(caught.value)


def test_catalog_runs_after_every_model() -> None:
    from assets.catalog import catalog

    ordered = after_models(catalog)
    spec = next(iter(ordered.specs))
    deps = {d.asset_key for d in spec.deps}
    assert {dg.AssetKey(m.name) for m in MODELS} <= deps
    assert {dg.AssetKey(t) for t in TABLES} <= deps
    assert len(ordered.op.input_defs) == len(deps)  # real inputs: Dagster orders the steps


def test_rerunning_the_models_gives_the_same_rows(built: BuiltLake) -> None:
    before = {m.name: pq.read_table(built.lake.storage.uri(built.lake.model_key(m.name))) for m in MODELS}
    materialise_all(built.lake)
    for model in MODELS:
        after = pq.read_table(built.lake.storage.uri(built.lake.model_key(model.name)))
        assert after.equals(before[model.name]), model.name
    assert before["sim_daily_usage"].num_rows > 1000
