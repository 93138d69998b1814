"""A small catalog for the report tests: a World's lake (jp and g, 40 SIMs, 10 loaded traffic days
of November, billing for October and November), every model built, no sandbox or Dagster."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from assets.models import MODELS
from assets.tables import TABLE_SPECS
from pipelines.lake import Lake, build_catalog, build_model
from sandbox.world import World
from testkit.world_lake import LoadPlan, fill_lake

NOW = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)
PLAN = LoadPlan(traffic_days=10, session_days=2, minute_days=1, audit_days=1, billing_months=2)


@pytest.fixture(scope="session")
def report_catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("report")
    lake = Lake(root / "lake")
    fill_lake(lake, World(seed=11, sims=40, now=NOW, coverages=("jp", "g")), PLAN)
    for model in MODELS:
        build_model(lake, model, TABLE_SPECS, MODELS)
    return Path(build_catalog(lake, root / "soracom.duckdb", TABLE_SPECS, MODELS))
