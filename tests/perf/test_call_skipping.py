"""The call-skipping rules, proven against the sandbox's ground truth.

The nightly load skips per-SIM session calls and per-resource Harvest calls when data
already in hand (the SIM list, the resource list) proves the call would return nothing.
These tests check, for many SIMs, several `now`s (including just after midnight, when
sessions that ended before midnight may still be stamped after it) and several windows,
that every SIM or resource with data in the window is kept, and that the rules do skip
some calls (so the test would notice a rule that keeps nothing or everything).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from assets.harvest import may_have_entries
from assets.sessions import may_have_events
from sandbox.world import World

SIMS = 1500
NOWS = [
    datetime(2026, 11, 30, 0, 5, tzinfo=UTC),  # just after midnight: the closest call
    datetime(2026, 11, 30, 2, 0, tzinfo=UTC),  # the nightly schedule
    datetime(2026, 12, 3, 13, 37, tzinfo=UTC),
]
DAYS_BACK = [1, 2, 7]


def _windows(now: datetime) -> list[tuple[int, int]]:
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    out = []
    for back in DAYS_BACK:
        start = today - timedelta(days=back)
        out.append((int(start.timestamp() * 1000), int((start + timedelta(days=1)).timestamp() * 1000)))
    return out


@pytest.fixture(scope="module", params=NOWS, ids=lambda now: now.strftime("%m%d-%H%M"))
def world(request: pytest.FixtureRequest) -> World:
    return World(seed=7, sims=SIMS, now=request.param)


def test_session_skipping_misses_no_sim_with_events(world: World):
    sims = world.sims(list(world.sim_ids("jp")))  # what listSims serves
    skipped_total = 0
    for start_ms, end_ms in _windows(world.now):
        kept = {sim["simId"] for sim in sims if may_have_events(sim, start_ms)}
        truth = {event["simId"] for event in world.all_session_events("jp", start_ms, end_ms)}
        missed = truth - kept
        assert not missed, f"{len(missed)} SIMs with events in the window were skipped: {sorted(missed)[:5]}"
        skipped_total += len(sims) - len(kept)
    assert skipped_total > 0, "the rule skipped nothing: it saves no calls"


def test_session_skipping_keeps_every_event_time(world: World):
    """Per SIM, not just per set: each kept SIM's own events equal the truth (nothing lost by
    filtering), and each skipped SIM has no event at all in the window."""
    sims = world.sims(list(world.sim_ids("jp")))
    start_ms, end_ms = _windows(world.now)[0]
    for sim in sims:
        if not may_have_events(sim, start_ms):
            assert world.session_events(sim["simId"], start_ms, end_ms) == [], sim["simId"]


def test_harvest_skipping_misses_no_resource_with_entries(world: World):
    resources = world.harvest_resources("jp")  # what listDataSourceResources serves
    skipped_total = 0
    for start_ms, end_ms in _windows(world.now):
        kept = {(r["resourceType"], r["resourceId"]) for r in resources if may_have_entries(r, start_ms)}
        truth = {
            (e["resourceType"], e["resourceId"]) for e in world.all_harvest_entries("jp", start_ms, end_ms)
        }
        missed = truth - kept
        assert not missed, f"{len(missed)} resources with entries were skipped: {sorted(missed)[:5]}"
        skipped_total += len(resources) - len(kept)
    assert skipped_total > 0, "the rule skipped nothing: it saves no calls"


def test_the_slim_sim_list_decides_like_the_full_one(world: World):
    """The session load keeps only the fields the rule reads (memory at 100k SIMs)."""
    from assets.sessions import _slim

    sims = world.sims(list(world.sim_ids("jp")))
    for start_ms, _ in _windows(world.now):
        assert [may_have_events(_slim(s), start_ms) for s in sims] == [
            may_have_events(s, start_ms) for s in sims
        ]
