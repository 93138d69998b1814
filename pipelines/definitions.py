"""The Dagster code location (`workspace.yaml`, `[tool.dagster]`): assets, checks, jobs,
schedules, sensors and resources configured from the environment."""

from __future__ import annotations

import dagster as dg

from assets.catalog import catalog
from assets.checks import RETENTION_CHECKS
from assets.model_checks import MODEL_CHECKS
from assets.models import MODEL_ASSETS, after_models, models_job, models_schedule
from assets.tables import TABLE_ASSETS
from pipelines.jobs import JOBS
from pipelines.resources import resources_from_env
from pipelines.runs import dead_run_reaper
from pipelines.schedules import SCHEDULES
from pipelines.sensors import SENSORS

# SQL models (assets/models.py): the catalog runs after them; their checks cover tables and models.
defs = dg.Definitions(
    assets=[*TABLE_ASSETS, after_models(catalog), *MODEL_ASSETS],
    asset_checks=[*RETENTION_CHECKS, *MODEL_CHECKS],
    jobs=[*JOBS, models_job],
    schedules=[*SCHEDULES, models_schedule],
    sensors=[*SENSORS, dead_run_reaper],  # frees what runs of dead processes held
    resources=resources_from_env(),
)
