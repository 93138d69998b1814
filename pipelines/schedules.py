"""Schedules: nightly daily sources and snapshots, hourly audit logs, daily billing, retention
checks; and the automation sensor that rebuilds the models after the loads.

All are created STOPPED: turn them on in the UI (Automation) or with
`dagster schedule start <name>`, with `dagster-daemon` running. Cron and timezone come from
the environment (`pipelines/settings.py`), read when the code location loads.
"""

from datetime import UTC, datetime
from typing import Any

import dagster as dg

from assets.billing import billing_months, month_needs_reload
from assets.models import MODEL_KEYS
from assets.partitions import daily_partitions, hourly_partitions, latest_key
from assets.resources import ClockResource, LakeResource
from pipelines import settings
from pipelines.jobs import (
    RUN_KIND_TAG,
    audit_log_job,
    billing_job,
    daily_load_job,
    retention_check_job,
    snapshot_job,
)

STOPPED = dg.DefaultScheduleStatus.STOPPED


def _timezone() -> str:
    return str(settings.value(settings.SCHEDULE_TIMEZONE))


def _cron(name: str) -> str:
    return str(settings.value(name))


def _tick(context: dg.ScheduleEvaluationContext, clock: ClockResource) -> datetime:
    """The tick's time; the clock when evaluated by hand (no scheduled time)."""
    moment = context.scheduled_execution_time or clock.now()
    return moment.astimezone(UTC)


def _latest_partition_schedule(
    name: str,
    job: Any,
    partitions_def: dg.TimeWindowPartitionsDefinition,
    cron: str,
    description: str,
) -> dg.ScheduleDefinition:
    """A schedule on an env-configured cron that runs the latest closed partition at each tick
    (Dagster's built-in partitioned schedules fix the cron to the partitioning)."""

    @dg.schedule(
        name=name,
        job=job,
        cron_schedule=cron,
        execution_timezone=_timezone(),
        default_status=STOPPED,
        description=description,
    )
    def _schedule(
        context: dg.ScheduleEvaluationContext, clock: ClockResource
    ) -> dg.RunRequest | dg.SkipReason:
        now = _tick(context, clock)
        key = latest_key(partitions_def, now)
        if key is None:
            return dg.SkipReason(f"no closed partition yet at {now.isoformat()}")
        return dg.RunRequest(run_key=f"{name}-{key}", partition_key=key)

    return _schedule


nightly_schedule = _latest_partition_schedule(
    "nightly_schedule",
    daily_load_job,
    daily_partitions,
    _cron(settings.NIGHTLY_CRON),
    "Loads the latest closed UTC day of every daily source.",
)

snapshot_schedule = _latest_partition_schedule(
    "snapshot_schedule",
    snapshot_job,
    daily_partitions,
    _cron(settings.NIGHTLY_CRON),
    "Takes the nightly snapshot of the SIM inventory, groups and billing summaries.",
)

hourly_audit_schedule = _latest_partition_schedule(
    "hourly_audit_schedule",
    audit_log_job,
    hourly_partitions,
    _cron(settings.HOURLY_CRON),
    "Loads the latest closed UTC hour of the audit logs (Soracom keeps them 24 h).",
)


@dg.schedule(
    name="daily_billing_schedule",
    job=billing_job,
    cron_schedule=_cron(settings.BILLING_CRON),
    execution_timezone=_timezone(),
    default_status=STOPPED,
    description="Reloads the current (preliminary) month every day, and the previous month until its "
    "bill is closed.",
)
def daily_billing_schedule(
    context: dg.ScheduleEvaluationContext, lake: LakeResource, clock: ClockResource
) -> list[dg.RunRequest]:
    now = _tick(context, clock)
    previous, current = billing_months(now)
    requests = [dg.RunRequest(run_key=f"billing-{current}-{now:%Y%m%d}", partition_key=current)]
    if month_needs_reload(lake.lake(), previous):
        requests.append(dg.RunRequest(run_key=f"billing-{previous}-{now:%Y%m%d}", partition_key=previous))
    else:
        context.log.info(f"billing month {previous} is closed and loaded; not reloading it")
    return requests


retention_check_schedule = dg.ScheduleDefinition(
    name="retention_check_schedule",
    job=retention_check_job,
    cron_schedule="0 */6 * * *",
    execution_timezone=_timezone(),
    default_status=STOPPED,
    description="Every 6 hours: warn about unloaded partitions that Soracom drops soon.",
)

# The models follow the loads instead of a cron: their automation condition
# (assets/models.py FOLLOW_THE_LOADS) requests them after what they read changed.
models_automation = dg.AutomationConditionSensorDefinition(
    "models_automation",
    target=dg.AssetSelection.assets(*MODEL_KEYS, "catalog"),
    default_status=dg.DefaultSensorStatus.STOPPED,
    run_tags={RUN_KIND_TAG: "models"},
    description="Rebuilds the SQL models and the catalog after the data they read changed (once the "
    "loads of it finished), and not when nothing changed.",
)

SCHEDULES = [
    nightly_schedule,
    snapshot_schedule,
    hourly_audit_schedule,
    daily_billing_schedule,
    retention_check_schedule,
]
AUTOMATION = [models_automation]
