"""The shipped code location with `daily_load_job` on Dagster's multiprocess executor (a
process per step, as before it ran in one process): the "before" of
`bench.daily_job --executor multiprocess`. Schedules and sensors are left out (they name
the shipped job); a run needs only the assets, checks and resources."""

from __future__ import annotations

import dagster as dg

import pipelines.definitions as shipped_location
from pipelines.jobs import daily_load_job

daily_load_job_multiprocess = dg.define_asset_job(
    daily_load_job.name,
    selection=daily_load_job.selection,
    description=daily_load_job.description,
    tags=daily_load_job.tags,
    executor_def=dg.multiprocess_executor,
)

defs = dg.Definitions(
    assets=shipped_location.defs.assets,
    asset_checks=shipped_location.defs.asset_checks,
    jobs=[daily_load_job_multiprocess],
    resources=shipped_location.defs.resources,
)
