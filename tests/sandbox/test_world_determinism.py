"""The world is a pure function of its arguments, and the past does not move when `now` does."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from sandbox.world import World

NOW = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)
DAY_MS = 86_400_000


def _snapshot(world: World, cutoff_ms: int) -> bytes:
    """Everything observable before cutoff_ms, serialised."""
    cut_s = cutoff_ms // 1000
    parts: dict[str, object] = {}
    for cov in world.coverages:
        ids = list(world.sim_ids(cov))
        parts[f"{cov}/ids"] = ids
        parts[f"{cov}/groups"] = world.groups(cov)
        parts[f"{cov}/events"] = world.all_session_events(cov, cutoff_ms - 2 * DAY_MS, cutoff_ms)
        parts[f"{cov}/usage"] = world.air_usage_csv(cov, "day", cut_s - 20 * 86400, cut_s - 86400).decode()
        parts[f"{cov}/minutes"] = [
            world.air_stats_sim(i, "minutes", cut_s - 7200, cut_s - 1) for i in ids[:10]
        ]
        parts[f"{cov}/harvest"] = [
            world.harvest_entries("Sim", i, cutoff_ms - DAY_MS, cutoff_ms, "asc") for i in ids[:40]
        ]
        parts[f"{cov}/napter"] = world.napter_audit_logs(cov, cutoff_ms - DAY_MS, cutoff_ms)
        parts[f"{cov}/audit"] = world.api_audit_logs(cov, cutoff_ms - DAY_MS, cutoff_ms)
        parts[f"{cov}/bill"] = world.billing_csv(cov, "202609").decode()
        parts[f"{cov}/daily"] = world.daily_bills(cov, "202609")
    return json.dumps(parts, sort_keys=True, ensure_ascii=False).encode()


@pytest.fixture(scope="module")
def world() -> World:
    return World(seed=7, sims=120, now=NOW, coverages=("jp", "g"))


def test_same_arguments_give_the_same_bytes(world):
    again = World(seed=7, sims=120, now=NOW, coverages=("jp", "g"))
    assert _snapshot(world, world.now_ms) == _snapshot(again, again.now_ms)
    assert world.sims(world.sim_ids("jp")[:20]) == again.sims(again.sim_ids("jp")[:20])


def test_a_different_seed_gives_a_different_world(world):
    other = World(seed=8, sims=120, now=NOW, coverages=("jp", "g"))
    assert set(world.sim_ids("jp")).isdisjoint(other.sim_ids("jp"))
    assert world.billing_csv("jp", "202609") != other.billing_csv("jp", "202609")
    assert world.all_session_events("jp", world.now_ms - DAY_MS, world.now_ms) != other.all_session_events(
        "jp", other.now_ms - DAY_MS, other.now_ms
    )


@pytest.mark.parametrize("later", [timedelta(hours=1), timedelta(days=1), timedelta(days=3, minutes=7)])
def test_the_past_is_stable_when_now_moves_forward(world, later):
    moved = World(seed=7, sims=120, now=NOW + later, coverages=("jp", "g"))
    assert _snapshot(world, world.now_ms) == _snapshot(moved, world.now_ms)


def test_now_cuts_off_the_future(world):
    later = World(seed=7, sims=120, now=NOW + timedelta(days=1), coverages=("jp", "g"))
    mine = world.all_session_events("jp", world.now_ms - DAY_MS, world.now_ms + DAY_MS)
    theirs = later.all_session_events("jp", world.now_ms - DAY_MS, world.now_ms + DAY_MS)
    assert all(e["time"] < world.now_ms for e in mine)
    assert len(theirs) > len(mine)
    assert [e for e in theirs if e["time"] < world.now_ms] == mine


def test_generated_sims_have_unique_well_formed_identifiers():
    w = World(seed=3, sims=2000, now=NOW, coverages=("jp", "g"))
    sims = w.sims([*w.sim_ids("jp"), *w.sim_ids("g")])
    sim_ids = [s["simId"] for s in sims]
    imsis = [imsi for s in sims for p in s["profiles"].values() for imsi in p["subscribers"]]
    iccids = [p["iccid"] for s in sims for p in s["profiles"].values()]
    assert len(set(sim_ids)) == len(sim_ids) == 2000
    assert len(set(imsis)) == len(imsis) > 2000, "some SIMs hold two IMSIs"
    assert len(set(iccids)) == len(iccids)
    assert all(len(x) == 19 and x.isdigit() for x in sim_ids + iccids)
    assert all(len(x) == 15 and x.isdigit() for x in imsis)
    assert all(x.startswith("898") for x in iccids)
    jp_share = len(w.sim_ids("jp")) / 2000
    assert 0.65 < jp_share < 0.85
    assert {i[:3] for i in imsis} == {"440", "295"}
