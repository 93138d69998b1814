"""What Soracom still keeps, relative to `now`, per the world's retention constants.

The world may generate older data; the server does not return it (lists) or refuses
the window (stats, 400).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sandbox.world import retention

# server source name -> retention source name
_LIST_SOURCES = {
    "session_events": "session_events",
    "harvest": "harvest",
    "api_audit": "api_audit_log",
    "napter_audit": "napter_audit_log",
}


def _at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def kept_since_ms(source: str, now_ms: int) -> int:
    """Epoch ms of the oldest item of `source` Soracom still returns at `now_ms`."""
    start, _ = retention.window(_LIST_SOURCES[source], _at(now_ms))
    return int(start.timestamp() * 1000)


def period_start_s(period: str, t_s: int) -> int:
    """Start of the period (UTC month, UTC day or 5-minute bucket) holding `t_s`."""
    if period == "minutes":
        return t_s - t_s % 300
    if period == "day":
        return t_s - t_s % 86_400
    moment = datetime.fromtimestamp(t_s, UTC)
    return int(datetime(moment.year, moment.month, 1, tzinfo=UTC).timestamp())


def stats_kept_since_s(scope: str, period: str, now_s: int) -> int:
    """Earliest period start a stats call may ask for (scope: sim, operator or group)."""
    # air_stats_minutes / _day / _month per SIM; air_stats_aggregate_day / _month otherwise
    source = f"air_stats_{period}" if scope == "sim" else f"air_stats_aggregate_{period}"
    start, _ = retention.window(source, datetime.fromtimestamp(now_s, UTC))
    return period_start_s(period, int(start.timestamp()))
