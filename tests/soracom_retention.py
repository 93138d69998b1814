"""Soracom's retention, written once from the wording of the official spec, for the tests of
both sides: the sandbox must refuse exactly what falls outside it, and the pipeline's guard
must never let through a partition outside it.

Each entry quotes the spec (`sandbox/openapi/soracom-api.en.yaml`) or, where the spec says
nothing precise, `soracom-api-notes.md`. "N months before the current time" is `now` minus N
calendar months (the day clamped to the month's length), not whole calendar months.
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta

# source -> (unit, amount); units: "hours"/"days" (a duration before now), "months" (calendar
# months before now), "whole_months" (the current month and amount-1 before it)
RULES: dict[str, tuple[str, int]] = {
    # listSimSessionEvents: "event history ... for the past 32 days"
    "session_events": ("days", 32),
    # getAirStatsOfSim, period=minutes: "between 32 days before the current time and ... now"
    "air_stats_minutes": ("days", 32),
    # period=day / month per SIM: "from 18 months before the current time to the current time"
    "air_stats_day": ("months", 18),
    "air_stats_month": ("months", 18),
    # getAirStatsOfOperator / OfGroup, period=day: "from 7 days before the current time"
    "air_stats_aggregate_day": ("days", 7),
    # period=month: "from 3 months before the current time to the current time"
    "air_stats_aggregate_month": ("months", 3),
    # notes: Harvest Data 40 days; API and Napter audit logs 24 hours
    "harvest": ("days", 40),
    "api_audit_log": ("hours", 24),
    "napter_audit_log": ("hours", 24),
    # bills: "the last 18 months" of monthly bills, i.e. this month and the 17 before
    "bills": ("whole_months", 18),
    # summaries: "the last 4 months (this month to 3 months ago)"
    "billing_summaries": ("whole_months", 4),
}


def months_before(moment: datetime, months: int) -> datetime:
    index = moment.year * 12 + (moment.month - 1) - months
    year, month = index // 12, index % 12 + 1
    return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))


def oldest(source: str, now: datetime) -> datetime:
    """The earliest instant Soracom still answers for `source` at `now`."""
    unit, amount = RULES[source]
    now = now.astimezone(UTC)
    if unit == "hours":
        return now - timedelta(hours=amount)
    if unit == "days":
        return now - timedelta(days=amount)
    if unit == "months":
        return months_before(now, amount)
    first = months_before(now.replace(day=1, hour=0, minute=0, second=0, microsecond=0), amount - 1)
    return first


# moments that catch off-by-one-month rules: month ends, a leap day, month starts, mid-month
NOWS = [
    datetime(2026, 11, 30, 3, 30, tzinfo=UTC),
    datetime(2026, 12, 1, 0, 5, tzinfo=UTC),
    datetime(2027, 3, 31, 12, 0, tzinfo=UTC),
    datetime(2028, 2, 29, 23, 59, tzinfo=UTC),
    datetime(2026, 7, 15, 9, 0, tzinfo=UTC),
]
