"""How long Soracom keeps each source, and the guard that refuses partitions it no longer holds.

Loading a partition whose window has (partly) aged out would silently store incomplete data,
so the guard fails the run instead, saying why. The retention-risk check uses the same
windows to warn before an unloaded partition is lost.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import dagster as dg

from assets.partitions import Window, month_start


def months_before(moment: datetime, months: int) -> datetime:
    """`moment` minus calendar months (the day clamped to the target month's length)."""
    index = moment.year * 12 + (moment.month - 1) - months
    year, month = index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


@dataclass(frozen=True)
class Retention:
    """What Soracom keeps of one source, relative to now.

    Exactly one of `hours`, `days`, `months`, `months_of_bills` or `snapshot` is set.
    `months_of_bills=N` keeps the current month and the N-1 before it (whole months).
    A `snapshot` source only shows the current state: partition D can be taken until one
    day after D ends (the nightly run right after midnight), never later.
    """

    label: str
    hours: int | None = None
    days: int | None = None
    months: int | None = None
    months_of_bills: int | None = None
    snapshot: bool = False

    def describe(self) -> str:
        if self.snapshot:
            return "only the current state (a snapshot cannot be taken of a past day)"
        if self.hours is not None:
            return f"{self.hours} hours"
        if self.days is not None:
            return f"{self.days} days"
        if self.months is not None:
            return f"{self.months} months"
        return f"the current month and the {self.months_of_bills - 1} before it"

    def oldest_start(self, now: datetime) -> datetime:
        """The earliest partition start whose whole window Soracom still holds at `now`."""
        now = now.astimezone(UTC)
        if self.snapshot:
            return now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
        if self.hours is not None:
            return now - timedelta(hours=self.hours)
        if self.days is not None:
            return now - timedelta(days=self.days)
        if self.months is not None:
            return months_before(now, self.months)
        assert self.months_of_bills is not None
        return month_start(now, self.months_of_bills - 1)

    def guard(self, asset: str, window: Window, now: datetime) -> None:
        """Raise a non-retryable `dagster.Failure` if Soracom no longer holds `window`."""
        if window.start > now:
            raise dg.Failure(
                description=f"{asset} partition {window.key} ({window}) is in the future: "
                "nothing to load yet.",
                allow_retries=False,
            )
        oldest = self.oldest_start(now)
        if window.start >= oldest:
            return
        if self.snapshot:
            raise dg.Failure(
                description=(
                    f"{asset} partition {window.key} cannot be loaded: {self.label} is a snapshot of "
                    f"the current state, and Soracom does not keep past states. Load the latest "
                    f"partition instead (a day's snapshot can be taken until the end of the next day)."
                ),
                allow_retries=False,
            )
        raise dg.Failure(
            description=(
                f"{asset} partition {window.key} ({window}) is no longer held by Soracom: "
                f"{self.label} is kept for {self.describe()}, so data before "
                f"{oldest:%Y-%m-%d %H:%M} UTC is gone and this partition cannot be (re)loaded. "
                f"Load a later partition; to keep older data, load within the retention window."
            ),
            allow_retries=False,
        )


SIM_INVENTORY = Retention("the SIM and group inventory", snapshot=True)
BILLING_SUMMARIES = Retention("billing summaries", snapshot=True)
SESSION_EVENTS = Retention("SIM session events", days=32)
AIR_MINUTES = Retention("5-minute Air stats", days=32)
AIR_DAILY = Retention("daily Air usage (export)", months=18)
HARVEST = Retention("Harvest Data", days=40)
API_AUDIT = Retention("the API audit log", hours=24)
NAPTER_AUDIT = Retention("the Napter audit log", hours=24)
BILLS = Retention("bills", months_of_bills=18)
