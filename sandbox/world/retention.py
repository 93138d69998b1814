"""How long Soracom keeps each source; the server enforces these.

From the spec's wording: Air stats "from 18 months (operator/group: 3 months) before the
current time" is `now` minus calendar months, the day clamped to the month's length. Bills and
billing summaries are whole months: 18 = this month and the 17 before. Durations follow
`soracom-api-notes.md`. `tests/soracom_retention.py` states the same rule for both sides.
"""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta

from sandbox.world.timeutil import month_index, month_start

SESSION_EVENTS = timedelta(days=32)
AIR_STATS_MINUTES = timedelta(days=32)
AIR_STATS_SIM_MONTHS = 18  # per SIM, period day and month
AIR_STATS_AGGREGATE_DAY = timedelta(days=7)  # operator / group, period day
AIR_STATS_AGGREGATE_MONTHS = 3  # operator / group, period month
HARVEST = timedelta(days=40)
API_AUDIT_LOG = timedelta(hours=24)
NAPTER_AUDIT_LOG = timedelta(hours=24)
BILL_MONTHS = 18  # bills, daily bills, billing CSV
SUMMARY_MONTHS = 4  # this month and the 3 before

_DURATIONS: dict[str, timedelta] = {
    "session_events": SESSION_EVENTS,
    "air_stats_minutes": AIR_STATS_MINUTES,
    "air_stats_aggregate_day": AIR_STATS_AGGREGATE_DAY,
    "harvest": HARVEST,
    "api_audit_log": API_AUDIT_LOG,
    "napter_audit_log": NAPTER_AUDIT_LOG,
}
# "N months before the current time"
_MONTHS_BEFORE: dict[str, int] = {
    "air_stats_day": AIR_STATS_SIM_MONTHS,
    "air_stats_month": AIR_STATS_SIM_MONTHS,
    "air_stats_aggregate_month": AIR_STATS_AGGREGATE_MONTHS,
}
# whole months: the current one and N-1 before it
_MONTHS: dict[str, int] = {
    "bills": BILL_MONTHS,
    "billing_summaries": SUMMARY_MONTHS,
}
SOURCES: tuple[str, ...] = tuple(_DURATIONS) + tuple(_MONTHS_BEFORE) + tuple(_MONTHS)


def months_before(moment: datetime, months: int) -> datetime:
    """`moment` minus calendar months, the day clamped to the target month's length."""
    index = moment.year * 12 + (moment.month - 1) - months
    year, month = index // 12, index % 12 + 1
    return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))


def window(source: str, now: datetime) -> tuple[datetime, datetime]:
    """[start, end) of what Soracom still holds for `source` at `now` (end = now)."""
    if source in _DURATIONS:
        return now - _DURATIONS[source], now
    if source in _MONTHS_BEFORE:
        return months_before(now, _MONTHS_BEFORE[source]), now
    if source in _MONTHS:
        return month_start(month_index(now) - _MONTHS[source] + 1), now
    raise ValueError(f"unknown retention source {source!r}; expected one of {', '.join(SOURCES)}")


def holds(source: str, now: datetime, start: datetime) -> bool:
    """True if data starting at `start` is still within the retention window."""
    return start >= window(source, now)[0]
