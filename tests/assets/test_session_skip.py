"""The session-event call skip is safe: a SIM judged unable to have events in a window has
none in the ground truth, over many SIMs and days, and the rule does save calls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from assets.sessions import may_have_events
from sandbox.world import World


def test_skipped_sims_never_have_events_in_the_window() -> None:
    now = datetime(2026, 11, 30, 3, 17, tzinfo=UTC)
    world = World(seed=11, sims=400, now=now, coverages=("jp", "g"))
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    skipped = fetched = 0
    for coverage in world.coverages:
        sims = world.sims(list(world.sim_ids(coverage)))
        for days_back in (1, 2, 5, 13, 31):
            start = today - timedelta(days=days_back)
            start_ms = int(start.timestamp() * 1000)
            end_ms = start_ms + 86_400_000
            for sim in sims:
                if may_have_events(sim, start_ms):
                    fetched += 1
                    continue
                skipped += 1
                events = world.session_events(sim["simId"], start_ms, end_ms)
                assert events == [], (
                    sim["simId"],
                    start,
                    sim.get("sessionStatus"),
                    sim.get("previousSession"),
                )
    assert skipped > 0 and fetched > 0, (skipped, fetched)


def test_online_sims_and_sims_with_recent_activity_are_fetched() -> None:
    start_ms = 1_000_000
    assert may_have_events({"sessionStatus": {"online": True, "lastUpdatedAt": 1}}, start_ms)
    assert may_have_events({"sessionStatus": {"online": False, "lastUpdatedAt": start_ms}}, start_ms)
    assert may_have_events(
        {
            "sessionStatus": {"online": False, "lastUpdatedAt": 5},
            "previousSession": {"deletedTime": start_ms + 9},
        },
        start_ms,
    )
    assert not may_have_events(
        {"sessionStatus": {"online": False, "lastUpdatedAt": 5}, "previousSession": {"deletedTime": 7}},
        start_ms,
    )
    assert not may_have_events({"simId": "never-connected"}, start_ms)
    # A session we cannot date is fetched rather than guessed.
    assert may_have_events({"sessionStatus": {"online": False, "sessionId": "x"}}, start_ms)
