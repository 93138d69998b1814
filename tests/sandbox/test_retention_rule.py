"""The sandbox keeps exactly what the spec's retention wording says (`tests/soracom_retention.py`)."""

from __future__ import annotations

import pytest

from sandbox.world import retention
from tests.soracom_retention import NOWS, RULES, oldest

DAY_S = 86_400


@pytest.mark.parametrize("source", sorted(RULES))
def test_the_sandbox_window_is_the_rule(source):
    assert set(RULES) == set(retention.SOURCES)
    for now in NOWS:
        assert retention.window(source, now)[0] == oldest(source, now), (source, now)


@pytest.mark.parametrize(
    ("scope", "source", "period"),
    [("sims", "air_stats_day", "day"), ("operators", "air_stats_aggregate_month", "month")],
)
def test_stats_from_the_rules_oldest_day_are_answered_and_the_day_before_refused(
    sandbox, api, scope, source, period
):
    world = sandbox.world
    target = world.sim_ids("jp")[0] if scope == "sims" else world.operator_id
    first = int(oldest(source, world.now).timestamp())
    if period == "day":
        first -= first % DAY_S
    to = world.now_ms // 1000
    ok = api.get(f"/v1/stats/air/{scope}/{target}", params={"from": first, "to": to, "period": period})
    assert ok.status_code == 200, ok.text
    before = first - (DAY_S if period == "day" else 32 * DAY_S)
    refused = api.get(f"/v1/stats/air/{scope}/{target}", params={"from": before, "to": to, "period": period})
    assert refused.status_code == 400, refused.text
