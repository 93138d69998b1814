"""One lake filled from a sandbox World (both coverages, a month of traffic), every model built
in discovery order (marts materialised, staging models views), and a catalog over it, shared by
the model tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from assets.models import MODELS
from assets.tables import TABLE_SPECS
from pipelines.lake import Lake, build_catalog, build_model
from sandbox.world import World
from testkit.world_lake import LoadPlan, fill_lake

NOW = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)


@dataclass
class BuiltLake:
    world: World
    lake: Lake
    catalog: Path
    plan: LoadPlan


def materialise_all(lake: Lake) -> None:
    """What the models_job does: staging views checked, marts materialised, in discovery order."""
    for model in MODELS:
        build_model(lake, model, TABLE_SPECS, MODELS)


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> BuiltLake:
    root = tmp_path_factory.mktemp("models")
    world = World(seed=42, sims=300, now=NOW, coverages=("jp", "g"))
    lake = Lake(root / "lake")
    plan = LoadPlan()
    fill_lake(lake, world, plan)
    materialise_all(lake)
    catalog = build_catalog(lake, root / "soracom.duckdb", TABLE_SPECS, MODELS)
    return BuiltLake(world, lake, Path(catalog), plan)


@pytest.fixture
def con(built: BuiltLake) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect(str(built.catalog), read_only=True)
    connection.execute("SET TimeZone = 'UTC'")
    yield connection
    connection.close()
