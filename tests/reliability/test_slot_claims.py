"""The root cause of "two API steps ran at once despite the pool": Dagster's slot claim is
check-then-take, and processes claiming the one slot of a pool (`soracom_api.sims` here)
together could all take it. Here 8 processes claim at a barrier, on the shipped SQLite and
Postgres instance files: exactly one gets the slot, every round. And the pools are apart:
a run holding one pool's slot does not hold up steps of another pool."""

from __future__ import annotations

import contextlib
import multiprocessing as mp
from pathlib import Path

import dagster as dg
import pytest

from assets.tables import source
from tests.reliability.instances import install_home, pg_env

pytestmark = pytest.mark.reliability

POOL = source("sims").pool_key  # sims and session_events: both list the SIMs
OTHER_POOL = source("air_traffic_daily").pool_key
CLAIMERS = 8
ROUNDS = 5


def _claimer(home: str, index: int, start: object, done: object, out: object) -> None:
    """Each round: wait for the others, claim, report, wait for the parent to free the slot."""
    instance = dg.DagsterInstance.from_config(home)
    try:
        for round_ in range(ROUNDS):
            start.wait()  # type: ignore[attr-defined]
            status = instance.event_log_storage.claim_concurrency_slot(POOL, f"r{round_}-{index}", "step")
            out.put(status.is_claimed)  # type: ignore[attr-defined]
            done.wait()  # type: ignore[attr-defined]
    finally:
        instance.dispose()


def claims_per_round(home: Path) -> list[int]:
    """How many of CLAIMERS processes (forked: no re-import) got the slot, per round."""
    ctx = mp.get_context("fork")
    start, done, out = ctx.Barrier(CLAIMERS), ctx.Barrier(CLAIMERS + 1), ctx.Queue()
    workers = [ctx.Process(target=_claimer, args=(str(home), i, start, done, out)) for i in range(CLAIMERS)]
    for worker in workers:
        worker.start()
    counts = []
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        for round_ in range(ROUNDS):
            counts.append(sum(out.get(timeout=120) for _ in workers))
            for i in range(CLAIMERS):
                instance.event_log_storage.free_concurrency_slots_for_run(f"r{round_}-{i}")
            assert instance.event_log_storage.get_concurrency_info(POOL).claimed_slots == []
            done.wait(timeout=120)
    finally:
        instance.dispose()
        for worker in workers:
            worker.join(timeout=60)
    return counts


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_processes_claiming_the_one_slot_together_get_it_once(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    pg_url = request.getfixturevalue("postgres_url") if backend == "postgres" else None
    home = install_home(tmp_path / "home", pg_url)
    with pg_env(pg_url) if pg_url else contextlib.nullcontext():
        counts = claims_per_round(home)
    assert counts == [1] * ROUNDS, f"claimed per round (1 expected): {counts}"


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_held_pool_holds_up_its_own_steps_only(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Run A holds the sims pool's slot: run B's step of another pool (the Air usage export)
    gets its slot at once, run C's step of the sims pool waits until A lets go."""
    pg_url = request.getfixturevalue("postgres_url") if backend == "postgres" else None
    home = install_home(tmp_path / "home", pg_url)
    with pg_env(pg_url) if pg_url else contextlib.nullcontext():
        instance = dg.DagsterInstance.from_config(str(home))
    try:
        storage = instance.event_log_storage
        assert source("session_events").pool_key == POOL != OTHER_POOL
        assert storage.claim_concurrency_slot(POOL, "run-a", "sims").is_claimed
        assert storage.claim_concurrency_slot(OTHER_POOL, "run-b", "air_traffic_daily").is_claimed
        assert not storage.claim_concurrency_slot(POOL, "run-c", "session_events").is_claimed
        assert not storage.claim_concurrency_slot(POOL, "run-c", "session_events").is_claimed  # still
        storage.free_concurrency_slots_for_run("run-a")
        assert storage.claim_concurrency_slot(POOL, "run-c", "session_events").is_claimed
        assert {s.run_id for s in storage.get_concurrency_info(OTHER_POOL).claimed_slots} == {"run-b"}
    finally:
        instance.dispose()
