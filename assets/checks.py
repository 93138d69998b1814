"""`retention_risk` checks: warn about unloaded partitions Soracom will drop soon.

For each source with a retention window, the check lists partitions that Soracom still
holds but the lake lacks, and fails (severity WARN) when any of them ages out within the
warn horizon: `SORACOM_RETENTION_WARN_DAYS` (default 3), `SORACOM_RETENTION_WARN_HOURS`
(default 6) for the audit logs Soracom keeps in hours, or a per-source override
(`pipelines/settings.py`). `pipelines/sensors.py` evaluates the same report on an interval.
"""

from datetime import datetime, timedelta

import dagster as dg

from assets.partitions import Window, window_for
from assets.resources import ClockResource, LakeResource
from assets.source import Source
from assets.tables import SOURCES
from pipelines import settings
from pipelines.lake import Lake

MAX_LISTED = 50


def _loadable_windows(table: Source, now: datetime) -> list[Window]:
    """Closed partitions whose whole window Soracom still holds at `now`, oldest first."""
    partitions_def = table.partitions_def
    oldest = table.retention.oldest_start(now)
    keys = partitions_def.get_partition_keys(current_time=now)
    windows = []
    for key in reversed(keys):  # newest first, stop once past retention
        window = window_for(partitions_def, key)
        if window.start < oldest:
            break
        windows.append(window)
    return list(reversed(windows))


def warn_horizon(table: Source) -> timedelta:
    """How far ahead the warnings look for `table` (configured in the environment)."""
    return settings.retention_warn_horizon(table.spec.name, table.retention.hours is not None)


def describe_horizon(horizon: timedelta) -> str:
    """`3 days`, `6 hours`, `1.5 hours`."""
    hours = horizon.total_seconds() / 3600
    return f"{hours / 24:g} days" if hours % 24 == 0 else f"{hours:g} hours"


def retention_report(
    table: Source, lake: Lake, now: datetime, horizon: timedelta | None = None
) -> dict[str, list[str]]:
    """{"missing": unloaded keys Soracom still holds, "at_risk": those that age out within
    `horizon` (default: `warn_horizon(table)`)}."""
    loaded = {tuple(sorted(p.items())) for p in lake.partitions(table.spec)}
    horizon = table.retention.oldest_start(now) + (warn_horizon(table) if horizon is None else horizon)
    missing, at_risk = [], []
    for window in _loadable_windows(table, now):
        values = table.spec.partition_values(table.lake_partition(window))
        if tuple(sorted(values.items())) in loaded:
            continue
        missing.append(window.key)
        if window.start < horizon:
            at_risk.append(window.key)
    return {"missing": missing, "at_risk": at_risk}


def _retention_check(table: Source) -> dg.AssetChecksDefinition:
    retention = table.retention

    @dg.asset_check(
        asset=table.asset,
        name="retention_risk",
        blocking=False,
        description=(
            f"Warns when an unloaded partition of {table.spec.name} will age out of Soracom's retention "
            f"({retention.describe()}) within the warn horizon (SORACOM_RETENTION_WARN_DAYS, "
            "_HOURS for audit logs, or SORACOM_RETENTION_WARN_<TABLE>)."
        ),
    )
    def _check(lake: LakeResource, clock: ClockResource) -> dg.AssetCheckResult:
        now = clock.now()
        horizon = warn_horizon(table)
        within = describe_horizon(horizon)
        report = retention_report(table, lake.lake(), now, horizon)
        at_risk, missing = report["at_risk"], report["missing"]
        description = (
            f"{len(at_risk)} unloaded partition(s) of {table.spec.name} age out of Soracom within "
            f"{within}: load them now ({', '.join(at_risk[:5])}"
            f"{'...' if len(at_risk) > 5 else ''})"
            if at_risk
            else f"no unloaded partition of {table.spec.name} ages out within {within}"
        )
        return dg.AssetCheckResult(
            passed=not at_risk,
            severity=dg.AssetCheckSeverity.WARN,
            description=description,
            metadata={
                "at_risk": dg.MetadataValue.json(at_risk[:MAX_LISTED]),
                "at_risk_count": dg.MetadataValue.int(len(at_risk)),
                "missing_within_retention": dg.MetadataValue.json(missing[:MAX_LISTED]),
                "missing_count": dg.MetadataValue.int(len(missing)),
                "oldest_loadable": dg.MetadataValue.text(retention.oldest_start(now).isoformat()),
                "warn_horizon_hours": dg.MetadataValue.float(horizon.total_seconds() / 3600),
            },
        )

    return _check


RETENTION_CHECKS = [_retention_check(t) for t in SOURCES if not t.retention.snapshot]
