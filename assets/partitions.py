"""Partition definitions shared by the source assets, and the time window of a run's partition.

Partitions start where a new deployment can still load them (`partition_definitions`), or at
`SORACOM_PARTITIONS_START`. How far back Soracom holds data moves with the clock, so the
oldest listed partitions may already be gone: the retention guard refuses them with a clear
message (see `assets/retention.py`). The default start is a month's first day, so the
definitions change once a month, not every hour.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import dagster as dg

from pipelines import settings

Partitioning = Literal["daily", "hourly", "monthly"]
# How far back each partitioning's longest-kept source reaches (assets/retention.py; a test keeps
# them in step): daily Air usage 18 months, audit logs 24 hours, bills the current month + 17.
DAILY_REACH_MONTHS = 18
HOURLY_REACH = timedelta(hours=24)
MONTHLY_REACH_MONTHS = 17


def partitions_start(
    partitioning: Partitioning, env: Mapping[str, str] | None = None, now: datetime | None = None
) -> datetime:
    """The first partition's start: `SORACOM_PARTITIONS_START`, else the first of the month
    holding the oldest partition a new deployment can still load (at `now`, default the
    pipeline's clock: `SORACOM_NOW` or the wall clock)."""
    configured = settings.value(settings.PARTITIONS_START, env)
    if isinstance(configured, datetime):
        return configured
    now = (now or settings.now_setting(env) or datetime.now(UTC)).astimezone(UTC)
    if partitioning == "daily":
        return month_start(now, DAILY_REACH_MONTHS)
    if partitioning == "hourly":
        return month_start(now - HOURLY_REACH)
    return month_start(now, MONTHLY_REACH_MONTHS)


def partition_definitions(
    env: Mapping[str, str] | None = None, now: datetime | None = None
) -> dict[Partitioning, dg.TimeWindowPartitionsDefinition]:
    """The three partitionings of the sources, starting at `partitions_start`."""
    day = f"{partitions_start('daily', env, now):%Y-%m-%d}"
    hour = f"{partitions_start('hourly', env, now):%Y-%m-%d-%H:%M}"
    month = f"{partitions_start('monthly', env, now):%Y-%m-%d}"
    return {
        # Closed UTC days: the last partition is yesterday.
        "daily": dg.DailyPartitionsDefinition(start_date=day, timezone="UTC"),
        # Closed UTC hours: the last partition is the previous hour.
        "hourly": dg.HourlyPartitionsDefinition(start_date=hour, timezone="UTC"),
        # Billing months up to and including the current (preliminary) month.
        "monthly": dg.MonthlyPartitionsDefinition(start_date=month, timezone="UTC", end_offset=1),
    }


@dataclass(frozen=True)
class Window:
    """A partition's half-open UTC time window [start, end) and its Dagster key."""

    key: str
    start: datetime
    end: datetime

    @property
    def start_ms(self) -> int:
        return int(self.start.timestamp() * 1000)

    @property
    def end_ms(self) -> int:
        return int(self.end.timestamp() * 1000)

    @property
    def yyyymm(self) -> str:
        return self.start.strftime("%Y%m")

    def __str__(self) -> str:
        return f"{self.start:%Y-%m-%d %H:%M} – {self.end:%Y-%m-%d %H:%M} UTC"


def window_for(partitions_def: dg.TimeWindowPartitionsDefinition, key: str) -> Window:
    """The UTC window of one partition key of `partitions_def`."""
    tw = partitions_def.time_window_for_partition_key(key)
    return Window(key=key, start=tw.start.astimezone(UTC), end=tw.end.astimezone(UTC))


def day_value(window: Window) -> str:
    """Lake partition value of a daily window: `2026-11-29`."""
    return window.start.strftime("%Y-%m-%d")


def month_value(window: Window) -> str:
    """Lake partition value of a monthly window: `2026-11`."""
    return window.start.strftime("%Y-%m")


def by_day(window: Window) -> dict[str, object]:
    """Lake partition of a daily table: `date=2026-11-29`."""
    return {"date": day_value(window)}


def by_month(window: Window) -> dict[str, object]:
    """Lake partition of a monthly table: `month=2026-11`."""
    return {"month": month_value(window)}


def month_start(moment: datetime, months_back: int = 0) -> datetime:
    """First instant (UTC) of the month `months_back` months before the one holding `moment`."""
    index = moment.year * 12 + (moment.month - 1) - months_back
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def day_start(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def latest_key(partitions_def: dg.TimeWindowPartitionsDefinition, now: datetime) -> str | None:
    """The newest partition key that exists at `now` (the latest closed window, or the current
    month for billing)."""
    keys = partitions_def.get_partition_keys(current_time=now)
    return keys[-1] if keys else None


def last_days(now: datetime, days: int) -> list[str]:
    """Keys of the `days` closed UTC days before `now`, oldest first."""
    today = day_start(now)
    return [(today - timedelta(days=n)).strftime("%Y-%m-%d") for n in range(days, 0, -1)]


_DEFINITIONS = partition_definitions()
daily_partitions = _DEFINITIONS["daily"]
hourly_partitions = _DEFINITIONS["hourly"]
monthly_partitions = _DEFINITIONS["monthly"]
