"""The Dagster code location (`workspace.yaml`, `[tool.dagster]`): assets, checks, jobs,
schedules and resources configured from the environment."""

from __future__ import annotations

import importlib
import importlib.util

import dagster as dg

from assets.catalog import catalog
from assets.checks import RETENTION_CHECKS
from assets.tables import TABLE_ASSETS
from pipelines.jobs import JOBS
from pipelines.resources import resources_from_env
from pipelines.schedules import SCHEDULES


def _model_assets() -> list[dg.AssetsDefinition]:
    """The SQL model assets, once `assets/models.py` exists (it exposes `MODEL_ASSETS`)."""
    if importlib.util.find_spec("assets.models") is None:
        return []
    return list(getattr(importlib.import_module("assets.models"), "MODEL_ASSETS", []))


defs = dg.Definitions(
    assets=[*TABLE_ASSETS, catalog, *_model_assets()],
    asset_checks=RETENTION_CHECKS,
    jobs=JOBS,
    schedules=SCHEDULES,
    resources=resources_from_env(),
)
