"""The shipped code location with its load jobs and `models_job` on Dagster's multiprocess
executor (a process per step, as they ran before): the "before" of `bench.daily_job
--executor multiprocess` and `bench.models_job --executor multiprocess`.
Schedules and sensors are left out (they name the shipped jobs); a run needs only the assets,
checks and resources."""

from __future__ import annotations

import dagster as dg

import pipelines.definitions as shipped_location
from pipelines.jobs import LOAD_JOBS, models_job


def on_multiprocess(job: dg.UnresolvedAssetJobDefinition) -> dg.UnresolvedAssetJobDefinition:
    """`job` as it is, but a process per step."""
    return dg.define_asset_job(
        job.name,
        selection=job.selection,
        description=job.description,
        tags=job.tags,
        executor_def=dg.multiprocess_executor,
    )


defs = dg.Definitions(
    assets=shipped_location.defs.assets,
    asset_checks=shipped_location.defs.asset_checks,
    jobs=[on_multiprocess(job) for job in [*LOAD_JOBS.values(), models_job]],
    resources=shipped_location.defs.resources,
)
