"""Every job: a load job per partitioning (daily sources, daily snapshots, hourly audit logs,
billing months), derived from the sources registry (`Source.job`), plus the models, retention
check and catalog jobs.

Each job also rebuilds the catalog (unpartitioned, downstream of every table), so the
DuckDB file reflects every table after any run. Runs are tagged with their job kind so a
run queue can limit them (see docs/ingestion.md, "Concurrency").
"""

from __future__ import annotations

import dagster as dg

from assets.catalog import catalog
from assets.checks import RETENTION_CHECKS
from assets.models import MODEL_KEYS, models_job_config
from assets.tables import assets_of_job
from pipelines.executor import overlapping_in_process_executor

DAILY_ASSETS = assets_of_job("daily")
SNAPSHOT_ASSETS = assets_of_job("snapshot")
HOURLY_ASSETS = assets_of_job("hourly")
MONTHLY_ASSETS = assets_of_job("billing")
RUN_KIND_TAG = "soracom-lake/load"

# Load jobs run every step in the run's own process, with the steps of different API pools at
# once, each in a thread (pipelines/executor.py): the steps wait on the API, and Soracom limits
# each API apart. A process per step (Dagster's multiprocess executor) cost a Python start-up
# and the code location's imports per step: 93 s vs 9.7 s for the nightly at 1,000 SIMs on 2
# busy cores (bench/README.md). The executor honours the pools, step retries, blocking checks
# and SIGTERM (docs/ingestion.md, "Executor"). The retention checks and the catalog only read
# the lake: one process too.
IO_EXECUTOR = overlapping_in_process_executor
# The models run one step after another in the run's own process: DuckDB already spreads each
# query over every core, and a process per step (Dagster's default) added a Python start-up and
# the code location's imports to each of ~33 steps: the models_job after one new day of a year of
# 10,000 SIMs took 65.1 s that way and 23.9 s in one process (bench/README.md, "The models job").
# One build at a time also bounds memory to the largest mart's. Runs the automation sensor
# launches (asset selections, no job) get the same from the definitions' default executor.
MODELS_EXECUTOR = dg.in_process_executor

daily_load_job = dg.define_asset_job(
    "daily_load_job",
    selection=dg.AssetSelection.assets(*DAILY_ASSETS, catalog),
    description="UTC day(s) of the daily sources, then the catalog, in one process. A range of days "
    "runs as one run.",
    tags={RUN_KIND_TAG: "daily"},
    executor_def=IO_EXECUTOR,
)

snapshot_job = dg.define_asset_job(
    "snapshot_job",
    selection=dg.AssetSelection.assets(*SNAPSHOT_ASSETS, catalog),
    description="Today's snapshot of the snapshot sources (SIM inventory, groups, billing summaries...), "
    "filed under the latest closed UTC day, then the catalog. Only that partition can be loaded.",
    tags={RUN_KIND_TAG: "snapshot"},
    executor_def=IO_EXECUTOR,
)

audit_log_job = dg.define_asset_job(
    "audit_log_job",
    selection=dg.AssetSelection.assets(*HOURLY_ASSETS, catalog),
    description="One UTC hour of the hourly sources (audit logs, kept 24 h by Soracom), then the catalog.",
    tags={RUN_KIND_TAG: "hourly"},
    executor_def=IO_EXECUTOR,
)

billing_job = dg.define_asset_job(
    "billing_job",
    selection=dg.AssetSelection.assets(*MONTHLY_ASSETS, catalog),
    description="One billing month of the billing sources (bills, daily bills, detailed CSV), then the "
    "catalog.",
    tags={RUN_KIND_TAG: "billing"},
    executor_def=IO_EXECUTOR,
)

retention_check_job = dg.define_asset_job(
    "retention_check_job",
    selection=dg.AssetSelection.checks(*RETENTION_CHECKS),
    description="Only the retention-risk checks: which unloaded partitions Soracom drops soon.",
    executor_def=IO_EXECUTOR,
)

catalog_job = dg.define_asset_job(
    "catalog_job",
    selection=dg.AssetSelection.assets(catalog),
    description="Rebuild the DuckDB catalog (e.g. after a CLI backfill that did not select it).",
    executor_def=IO_EXECUTOR,
)


def _models_run_config(config: dict) -> dict:
    """`full_refresh: true` -> every model step's config; execution and loggers pass through."""
    passed = {k: config[k] for k in ("execution", "loggers") if k in config}
    return {**models_job_config(config["full_refresh"]), **passed}


models_job = dg.define_asset_job(
    "models_job",
    selection=dg.AssetSelection.assets(*MODEL_KEYS, catalog),
    description="Check the staging views bind, rebuild the marts' partitions whose inputs changed "
    "(run config `full_refresh: true`: all of them), then the catalog.",
    tags={RUN_KIND_TAG: "models"},
    executor_def=MODELS_EXECUTOR,
    config=dg.ConfigMapping(
        config_fn=_models_run_config,
        config_schema={
            "full_refresh": dg.Field(
                bool, default_value=False, description="Rebuild every partition of every mart."
            ),
            "execution": dg.Field(dg.Permissive(), is_required=False),
            "loggers": dg.Field(dg.Permissive(), is_required=False),
        },
    ),
)

# The job of each `Source.job` kind (assets/source.py): every kind has exactly one.
LOAD_JOBS = {
    "daily": daily_load_job,
    "snapshot": snapshot_job,
    "hourly": audit_log_job,
    "billing": billing_job,
}

JOBS = [
    daily_load_job,
    snapshot_job,
    audit_log_job,
    billing_job,
    retention_check_job,
    catalog_job,
    models_job,
]
