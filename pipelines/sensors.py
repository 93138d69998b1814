"""Sensors: `retention_sensor` and `run_failure_alert`.

`retention_sensor` flags unloaded partitions that age out of Soracom's retention soon.

Every `SORACOM_RETENTION_SENSOR_INTERVAL_S` (default an hour) it evaluates the retention report
of every windowed source against the lake, with the warn horizons of `pipelines/settings.py`.
When any partition is at risk it requests `retention_check_job`, so the `retention_risk`
checks fail (WARN) on those assets in the UI; its run key is the set of partitions at risk,
so a new run is requested only when that set changes. Otherwise it skips, saying so.

Created STOPPED like the schedules: turn it on in the UI (Automation) or with
`dagster sensor start retention_sensor`, with `dagster-daemon` running.

`run_failure_alert` POSTs each failed run of this code location (its id, job, partition and
error) to `SORACOM_ALERT_WEBHOOK_URL` (pipelines/alerts.py). It starts RUNNING when that
variable is set where the code location loads, STOPPED otherwise. A hook that is down or
answers 429/5xx is tried three times; one that still refuses shows its error on the sensor's
tick (Dagster does not evaluate that run again), so watch the sensor's ticks too.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

import dagster as dg
from dagster._utils.error import SerializableErrorInfo

from assets.checks import retention_report, warn_horizon
from assets.resources import ClockResource, LakeResource
from assets.tables import SOURCES
from pipelines import settings
from pipelines.alerts import RunFailureAlert, post_alert
from pipelines.jobs import retention_check_job

AT_RISK_TAG = "soracom-lake/at_risk"
MAX_TAG_CHARS = 200  # Dagster tag values are meant to be short; the full list is in the log


def partitions_at_risk(lake: LakeResource, now: datetime) -> dict[str, list[str]]:
    """{table: unloaded partition keys that age out within its warn horizon}, at-risk tables only."""
    the_lake = lake.lake()
    found = {}
    for table in SOURCES:
        if table.retention.snapshot:
            continue
        at_risk = retention_report(table, the_lake, now, warn_horizon(table))["at_risk"]
        if at_risk:
            found[table.spec.name] = at_risk
    return found


def describe(at_risk: dict[str, list[str]]) -> str:
    """`session_events: 2026-10-30, 2026-10-31; api_audit_logs: ...` (each list shortened)."""
    parts = []
    for table, keys in at_risk.items():
        shown = ", ".join(keys[:5]) + (f" (+{len(keys) - 5} more)" if len(keys) > 5 else "")
        parts.append(f"{table}: {shown}")
    return "; ".join(parts)


@dg.sensor(
    name="retention_sensor",
    job=retention_check_job,
    minimum_interval_seconds=settings.retention_sensor_interval_s(),
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Flags unloaded partitions that age out of Soracom's retention within the warn horizon "
    "(SORACOM_RETENTION_WARN_DAYS / _HOURS) and runs the retention checks so they show failing.",
)
def retention_sensor(
    context: dg.SensorEvaluationContext, lake: LakeResource, clock: ClockResource
) -> dg.RunRequest | dg.SkipReason:
    now = clock.now()
    at_risk = partitions_at_risk(lake, now)
    if not at_risk:
        return dg.SkipReason(
            f"no unloaded partition ages out of Soracom within the warn horizon ({now:%F %H:%M} UTC)"
        )
    summary = describe(at_risk)
    context.log.warning(f"unloaded partitions about to age out of Soracom: {summary}. Load them now.")
    fingerprint = hashlib.sha256(repr(sorted(at_risk.items())).encode()).hexdigest()[:16]
    counts = ",".join(f"{table}:{len(keys)}" for table, keys in at_risk.items())
    return dg.RunRequest(
        run_key=f"retention-{fingerprint}",
        tags={AT_RISK_TAG: counts[:MAX_TAG_CHARS]},
    )


def root_cause(error: SerializableErrorInfo) -> str:
    """The innermost error of a chain: the pipeline's own message, not Dagster's wrapper."""
    while error.cause is not None:
        error = error.cause
    return error.message.strip()


def failure_alert(context: dg.RunFailureSensorContext) -> RunFailureAlert:
    """The alert of a failed run: the first failed step's error, else the run's failure message."""
    run = context.dagster_run
    errors = [
        f"{event.step_key}: {root_cause(event.step_failure_data.error)}"
        for event in context.get_step_failure_events()
        if event.step_failure_data and event.step_failure_data.error
    ]
    origin = run.remote_job_origin
    return RunFailureAlert(
        run_id=run.run_id,
        job_name=run.job_name,
        partition=run.tags.get("dagster/partition"),
        error="; ".join(errors) or (context.failure_event.message or "the run failed"),
        location=origin.location_name if origin else None,
    )


@dg.run_failure_sensor(
    name="run_failure_alert",
    default_status=dg.DefaultSensorStatus.RUNNING
    if settings.BY_NAME[settings.ALERT_WEBHOOK_URL].raw()
    else dg.DefaultSensorStatus.STOPPED,
    description="POSTs every failed run (id, job, partition, error) to SORACOM_ALERT_WEBHOOK_URL.",
)
def run_failure_alert(context: dg.RunFailureSensorContext) -> dg.SkipReason | None:
    url = settings.value(settings.ALERT_WEBHOOK_URL)
    if not url:
        return dg.SkipReason(f"{settings.ALERT_WEBHOOK_URL} is not set: no alert sent")
    alert = failure_alert(context)
    post_alert(str(url), alert)
    context.log.info(f"failure alert for run {alert.run_id} sent")
    return None


SENSORS = [retention_sensor, run_failure_alert]
