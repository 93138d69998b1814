"""The catalog in the Dagster UI (issue 14.5): owners, kinds, column schemas with descriptions and
row counts for every table and mart, a link from each model to its SQL file, and the same column
descriptions as DuckDB column comments in the catalog file."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb

from assets.catalog import build as build_catalog_asset
from assets.describe import COLUMN_DOCS, OWNERS
from assets.models import CATALOG_AFTER_MODELS, MODEL_ASSETS, MODELS_BY_NAME
from assets.resources import ClockResource, LakeResource, SoracomResource
from assets.tables import SOURCES, TABLE_ASSETS
from tests.models.conftest import BuiltLake


def _spec(asset: dg.AssetsDefinition) -> dg.AssetSpec:
    return next(iter(asset.specs))


def _columns(value: object) -> list[dg.TableColumn]:
    """Columns of a `dagster/column_schema` value (a TableSchema, or its metadata value in events)."""
    schema = value.schema if isinstance(value, dg.TableSchemaMetadataValue) else value
    assert isinstance(schema, dg.TableSchema)
    return list(schema.columns)


def test_every_table_declares_owners_kinds_and_described_columns() -> None:
    for table in SOURCES:
        spec = _spec(table.asset)
        assert list(spec.owners) == OWNERS and spec.kinds, table.name
        columns = _columns(spec.metadata["dagster/column_schema"])
        assert [c.name for c in columns] == table.spec.schema.names
        described = {c.name: c.description for c in columns}
        assert described["coverage"] == COLUMN_DOCS["coverage"] and described["_loaded_at"], table.name
    assert list(_spec(CATALOG_AFTER_MODELS).owners) == OWNERS


def test_every_model_links_to_its_sql_file() -> None:
    for asset in MODEL_ASSETS:
        spec = _spec(asset)
        model = MODELS_BY_NAME[spec.key.to_user_string()]
        references = spec.metadata["dagster/code_references"].code_references
        assert [Path(r.file_path) for r in references] == [model.path] and model.path.is_file()
        assert list(spec.owners) == OWNERS and spec.kinds


def test_models_report_column_schema_and_marts_row_counts(built: BuiltLake, tmp_path: Path) -> None:
    job = dg.define_asset_job("models", selection=dg.AssetSelection.assets(*MODEL_ASSETS))
    defs = dg.Definitions(
        assets=[*TABLE_ASSETS, *MODEL_ASSETS],
        jobs=[job],
        resources={
            "lake": LakeResource(root=built.lake.storage.uri(""), catalog_path=str(tmp_path / "c.duckdb")),
            "clock": ClockResource(),
            "soracom": SoracomResource(),
        },
    )
    result = defs.resolve_job_def("models").execute_in_process(instance=dg.DagsterInstance.ephemeral())
    assert result.success
    for event in result.get_asset_materialization_events():
        name = event.asset_key.to_user_string()
        metadata = event.materialization.metadata
        columns = _columns(metadata["dagster/column_schema"])
        assert columns and all(c.type for c in columns), name
        if MODELS_BY_NAME[name].materialised:
            assert metadata["dagster/row_count"].value == metadata["rows"].value, name


def test_the_catalog_carries_the_column_descriptions(built: BuiltLake, tmp_path: Path) -> None:
    path = tmp_path / "catalog.duckdb"
    lake = LakeResource(root=built.lake.storage.uri(""), catalog_path=str(path))
    build_catalog_asset(dg.build_asset_context(), lake)
    with duckdb.connect(str(path), read_only=True) as con:
        rows = con.execute(
            "SELECT table_name, column_name, comment FROM duckdb_columns() WHERE column_name = 'coverage'"
        ).fetchall()
    assert {r[0] for r in rows} >= {"session_events", "sims", "sim_daily_usage"}
    assert {r[2] for r in rows} == {COLUMN_DOCS["coverage"]}
