"""The Dagster code location (`workspace.yaml`, `[tool.dagster]`): assets, checks, jobs,
schedules, sensors and resources configured from the environment."""

from __future__ import annotations

import gc

from pipelines.startup import collector_paused

with collector_paused():  # see `startup`; where the instance was not imported first, most are here
    import dagster as dg

    from assets.bill_categories import CATEGORY_CHECKS
    from assets.checks import RETENTION_CHECKS
    from assets.model_checks import MODEL_CHECKS
    from assets.models import CATALOG_AFTER_MODELS, MODEL_ASSETS
    from assets.resources import resources_from_env
    from assets.tables import TABLE_ASSETS
    from pipelines.jobs import JOBS, MODELS_EXECUTOR
    from pipelines.runs import dead_run_reaper
    from pipelines.schedules import AUTOMATION, SCHEDULES
    from pipelines.sensors import SENSORS

# SQL models (assets/models.py): the catalog runs after them; their checks cover tables and models.
defs = dg.Definitions(
    assets=[*TABLE_ASSETS, CATALOG_AFTER_MODELS, *MODEL_ASSETS],
    asset_checks=[*RETENTION_CHECKS, *MODEL_CHECKS, *CATEGORY_CHECKS],
    jobs=JOBS,
    schedules=SCHEDULES,
    sensors=[*SENSORS, *AUTOMATION, dead_run_reaper],  # frees what runs of dead processes held
    resources=resources_from_env(),
    # Runs of an asset selection without a job (the models_automation sensor's, the UI's
    # "Materialize"): in one process, one step at a time, as the models_job (pipelines/jobs.py).
    executor=MODELS_EXECUTOR,
)

# Everything imported so far (Dagster, the assets, the parsed SQL models) lives as long as the
# process: moved out of the garbage collector's reach, so no full collection walks it again
# (0.13-0.2 s each) and neither does the interpreter's exit, which took 0.7-1.2 s after a
# run's last event (0.05-0.15 s frozen; bench/README.md, "Ours against dlt").
gc.freeze()
