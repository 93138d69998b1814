"""The pipeline's retention guard is the spec's rule (`tests/soracom_retention.py`), the same one
the sandbox's tests hold it to: no partition passes the guard that Soracom no longer answers."""

from __future__ import annotations

import pytest

from assets.retention import AIR_DAILY, AIR_MINUTES, API_AUDIT, BILLS, HARVEST, NAPTER_AUDIT, SESSION_EVENTS
from tests.soracom_retention import NOWS, oldest

GUARDS = {
    "session_events": SESSION_EVENTS,
    "air_stats_day": AIR_DAILY,
    "air_stats_minutes": AIR_MINUTES,
    "harvest": HARVEST,
    "api_audit_log": API_AUDIT,
    "napter_audit_log": NAPTER_AUDIT,
    "bills": BILLS,
}


@pytest.mark.parametrize("source", sorted(GUARDS))
def test_the_guard_is_the_rule(source):
    for now in NOWS:
        assert GUARDS[source].oldest_start(now) == oldest(source, now), (source, now)
