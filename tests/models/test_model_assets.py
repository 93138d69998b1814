"""The model files as Dagster assets: deps parsed from SQL, descriptions, bad files, re-runs."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pyarrow.parquet as pq
import pytest

from assets.models import CATALOG_AFTER_MODELS, MODEL_ASSETS, MODELS, SQL_DIR
from assets.resources import LakeResource
from assets.tables import TABLE_SPECS
from pipelines.lake import ModelError, discover_models
from pipelines.lake.spec import MODELS_FOLDER
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
        if model.path.suffix == ".sql":  # a seed (.csv) is described by the file it reads
            first_line = model.path.read_text(encoding="utf-8").splitlines()[0]
            assert description == first_line.removeprefix("--").strip()
        else:
            assert model.path.name in description
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
    ordered = CATALOG_AFTER_MODELS
    spec = next(iter(ordered.specs))
    deps = {d.asset_key for d in spec.deps}
    assert {dg.AssetKey(m.name) for m in MODELS} <= deps
    assert {dg.AssetKey(t) for t in TABLES} <= deps
    assert len(ordered.op.input_defs) == len(deps)  # real inputs: Dagster orders the steps


def test_rerunning_the_models_gives_byte_identical_marts(built: BuiltLake) -> None:
    marts = [m for m in MODELS if m.materialised]
    folder = Path(built.lake.root) / MODELS_FOLDER
    files = {m.name: sorted((folder / m.name).glob("*.parquet")) for m in marts}
    before = {p: p.read_bytes() for paths in files.values() for p in paths}
    materialise_all(built.lake)
    for model in marts:
        assert sorted((folder / model.name).glob("*.parquet")) == files[model.name], model.name
        for path in files[model.name]:
            assert path.read_bytes() == before[path], path
    usage_rows = sum(pq.ParquetFile(p).metadata.num_rows for p in files["sim_daily_usage"])
    assert usage_rows > 1000
    assert len(files["sim_daily_usage"]) > 1  # one file per day, plus the schema file


def test_staging_models_are_views_and_marts_are_files(
    built: BuiltLake, con: duckdb.DuckDBPyConnection
) -> None:
    layers = {m.name: m.layer for m in MODELS}
    assert {m.name for m in MODELS if m.materialised} == {
        n for n, layer in layers.items() if layer == "marts"
    }
    assert not [m.name for m in MODELS if not m.materialised and built.lake.has_model(m.name)]
    views = dict(con.execute("SELECT view_name, sql FROM duckdb_views() WHERE NOT internal").fetchall())
    for model in MODELS:
        reads_file = built.lake.model_glob(model.name) in views[model.name]
        assert reads_file == model.materialised, model.name
    kinds = dict(con.execute("SELECT name, kind FROM _catalog").fetchall())
    assert kinds["stg_sims"] == "model:staging" and kinds["sim_daily_usage"] == "model:marts"
    assert con.execute("SELECT count(*) FROM stg_sims").fetchone()[0] == sum(
        len(built.world.sim_ids(c)) for c in ("jp", "g")
    )


def test_every_mart_declares_a_grain_and_its_file_is_sorted_by_it(built: BuiltLake) -> None:
    for model in (m for m in MODELS if m.materialised):
        assert model.grain, f"{model.path} declares no grain"
        cols = ", ".join(f'"{c}"' for c in model.grain)
        source = f"read_parquet('{built.lake.storage.uri(built.lake.model_key(model.name))}')"
        with duckdb.connect() as db:
            in_file = db.execute(f"SELECT {cols} FROM {source}").fetchall()
            ordered = db.execute(f"SELECT {cols} FROM {source} ORDER BY {cols}").fetchall()
        assert in_file == ordered, model.name


def test_staging_assets_check_the_view_and_write_no_file(built: BuiltLake, tmp_path: Path) -> None:
    staging = [a for a, m in zip(MODEL_ASSETS, MODELS, strict=True) if not m.materialised]
    for asset in staging:
        assert next(iter(asset.specs)).kinds == {"duckdb"}, asset.key  # no parquet: a view
    resources = {
        "lake": LakeResource(root=built.lake.storage.uri(""), catalog_path=str(tmp_path / "c.duckdb"))
    }
    result = dg.materialize(staging, resources=resources, instance=dg.DagsterInstance.ephemeral())
    assert result.success
    events = result.get_asset_materialization_events()
    assert len(events) == len(staging)
    metadata = {
        e.asset_key.to_user_string(): e.materialization.metadata
        for e in events  # type: ignore[union-attr]
    }
    assert "sim_id" in metadata["stg_sims"]["view_columns"].value
    assert not [m.name for m in MODELS if not m.materialised and built.lake.has_model(m.name)]


def test_a_recomputed_mart_reports_its_query_seconds(built: BuiltLake, tmp_path: Path) -> None:
    """A partitioned mart's materialisation carries how long its query took (Dagster plots it per
    run); one that found nothing changed, and an unpartitioned mart, carry none."""
    shutil.copytree(built.lake.storage.uri(""), tmp_path / "lake")  # the shared lake stays as built
    chosen = {"harvest_daily", "idle_sims"}
    assets = [a for a, m in zip(MODEL_ASSETS, MODELS, strict=True) if m.name in chosen]
    resources = {"lake": LakeResource(root=str(tmp_path / "lake"), catalog_path=str(tmp_path / "c.duckdb"))}

    def materialised(full_refresh: bool) -> dict[str, dict[str, object]]:
        config = {"ops": {name: {"config": {"full_refresh": full_refresh}} for name in chosen}}
        result = dg.materialize(
            assets, resources=resources, run_config=config, instance=dg.DagsterInstance.ephemeral()
        )
        assert result.success
        return {
            e.asset_key.to_user_string(): e.materialization.metadata  # type: ignore[union-attr]
            for e in result.get_asset_materialization_events()
        }

    rebuilt = materialised(full_refresh=True)
    assert rebuilt["harvest_daily"]["query_seconds"].value > 0  # type: ignore[union-attr]
    assert "query_seconds" not in rebuilt["idle_sims"]
    unchanged = materialised(full_refresh=False)
    assert unchanged["harvest_daily"]["build"].value.startswith("unchanged")  # type: ignore[union-attr]
    assert "query_seconds" not in unchanged["harvest_daily"]
