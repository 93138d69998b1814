"""Partition definitions shared by the source assets, and the time window of a run's partition.

Partitions start at a fixed date; how far back Soracom still holds data moves with the
clock, so old partitions exist in Dagster but the retention guard refuses them with a
clear message (see `assets/retention.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import dagster as dg

PARTITIONS_START = "2025-01-01"

# Closed UTC days: the last partition is yesterday.
daily_partitions = dg.DailyPartitionsDefinition(start_date=PARTITIONS_START, timezone="UTC")
# Closed UTC hours: the last partition is the previous hour.
hourly_partitions = dg.HourlyPartitionsDefinition(start_date=f"{PARTITIONS_START}-00:00", timezone="UTC")
# Billing months up to and including the current (preliminary) month.
monthly_partitions = dg.MonthlyPartitionsDefinition(start_date=PARTITIONS_START, timezone="UTC", end_offset=1)


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
