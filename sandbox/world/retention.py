"""How long Soracom keeps each source (see soracom-api-notes.md); the server enforces these.

Month-based windows count the current month: 18 months = this month and the 17 before.
"""

from __future__ import annotations

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
_MONTHS: dict[str, int] = {
    "air_stats_day": AIR_STATS_SIM_MONTHS,
    "air_stats_month": AIR_STATS_SIM_MONTHS,
    "air_stats_aggregate_month": AIR_STATS_AGGREGATE_MONTHS,
    "bills": BILL_MONTHS,
    "billing_summaries": SUMMARY_MONTHS,
}
SOURCES: tuple[str, ...] = tuple(_DURATIONS) + tuple(_MONTHS)


def window(source: str, now: datetime) -> tuple[datetime, datetime]:
    """[start, end) of what Soracom still holds for `source` at `now` (end = now)."""
    if source in _DURATIONS:
        return now - _DURATIONS[source], now
    if source in _MONTHS:
        return month_start(month_index(now) - _MONTHS[source] + 1), now
    raise ValueError(f"unknown retention source {source!r}; expected one of {', '.join(SOURCES)}")


def holds(source: str, now: datetime, start: datetime) -> bool:
    """True if data starting at `start` is still within the retention window."""
    return start >= window(source, now)[0]
