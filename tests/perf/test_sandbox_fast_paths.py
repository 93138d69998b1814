"""The sandbox's fast paths give exactly what the plain ones give.

Speed-ups in the world (column-wise usage CSV, SIM lists cut from one all-SIM pass, session
lists cut from a cached all-SIM window, scalar hashing without numpy) must not change a byte.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

import sandbox.world.activity as activity
from sandbox.world import World, air_stats, usage_csv
from sandbox.world.csv_export import to_csv
from sandbox.world.hashing import _mix, hash64

NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
DAY_S = 86400


@pytest.fixture(scope="module")
def world() -> World:
    return World(seed=11, sims=800, now=NOW, coverages=("jp", "g"))


def _start_s(day: int) -> int:
    return int(datetime(2026, 11, day, tzinfo=UTC).timestamp())


WINDOWS = [
    ("minutes", _start_s(29), _start_s(29) + DAY_S - 1),
    ("minutes", _start_s(29) + 3600, _start_s(29) + 7000),
    ("minutes", _start_s(30), _start_s(30) + DAY_S - 1),  # cut at now
    ("day", _start_s(20), _start_s(29) + DAY_S - 1),
    ("month", _start_s(1) - 60 * DAY_S, _start_s(29)),
]


@pytest.mark.parametrize("coverage", ["jp", "g"])
@pytest.mark.parametrize(("period", "from_s", "to_s"), WINDOWS)
def test_usage_csv_is_byte_identical_to_the_row_wise_one(world, coverage, period, from_s, to_s):
    sims = world.inv.index_in(coverage)
    rows = air_stats.iter_usage_rows(world.activity, period, from_s, to_s, sims)
    expected = to_csv(world.air_usage_columns(), rows)
    got = usage_csv.usage_csv(world.activity, period, from_s, to_s, sims)
    assert got.count(b"\r\n") > 1 or period == "month"
    assert got == expected


def test_usage_csv_of_an_empty_window_is_the_header(world):
    sims = world.inv.index_in("jp")
    future = _start_s(30) + DAY_S
    expected = to_csv(world.air_usage_columns(), [])
    assert usage_csv.usage_csv(world.activity, "day", future, future + 10, sims) == expected


def _fresh() -> World:
    return World(seed=11, sims=800, now=NOW, coverages=("jp", "g"))


def test_bulk_sim_pages_equal_sim_by_sim(world):
    ids = list(world.sim_ids("jp"))
    page = world.sims(ids[:120])  # bulk path: one pass over every SIM
    one_by_one = [_fresh().sims([sim_id])[0] for sim_id in ids[:40]]
    assert page[:40] == one_by_one


def test_session_lists_from_the_cached_window_equal_generated_ones(world, monkeypatch):
    ids = list(world.sim_ids("jp"))
    start = int(datetime(2026, 11, 29, tzinfo=UTC).timestamp() * 1000)
    cached = [world.session_events(sim_id, start, start + DAY_S * 1000) for sim_id in ids[:60]]
    monkeypatch.setattr(activity, "_HOT_AFTER", 10**9)  # never cut from a cached window
    plain = [_fresh().session_events(sim_id, start, start + DAY_S * 1000) for sim_id in ids[:60]]
    assert cached == plain
    assert sum(map(len, cached)) > 0


def _hash64_numpy(seed: int, stream: int, *keys: int) -> int:
    with np.errstate(over="ignore"):
        h = _mix(np.asarray(np.uint64((seed * 0x2545F4914F6CDD1D + stream) & 0xFFFFFFFFFFFFFFFF)))
        for key in keys:
            k = np.asarray(key).astype(np.int64).view(np.uint64)
            h = _mix(h ^ (k + np.uint64(0x9E3779B97F4A7C15) + (h << np.uint64(6)) + (h >> np.uint64(2))))
        return int(h)


@pytest.mark.parametrize(
    "keys", [(), (0,), (1, 2, 3), (-1,), (2**62, -(2**62)), (123456789, 0, 7, -5), (2**63 - 1,)]
)
def test_scalar_hash_equals_the_numpy_hash(keys):
    for seed, stream in ((0, 0), (42, 500), (10**9, 7)):
        got = hash64(seed, stream, *keys)
        assert got.dtype == np.uint64 and got.shape == ()
        assert int(got) == _hash64_numpy(seed, stream, *keys)
