"""The root cause of "two API steps ran at once despite the pool": Dagster's slot claim is
check-then-take, and processes claiming the one `soracom_api` slot together could all take
it. Here 8 processes claim at a barrier, on the shipped SQLite and Postgres instance files:
exactly one gets the slot, every round."""

from __future__ import annotations

import contextlib
import multiprocessing as mp
from pathlib import Path

import dagster as dg
import pytest

from assets.loading import API_POOL
from tests.reliability.instances import install_home, pg_env

pytestmark = pytest.mark.reliability

CLAIMERS = 8
ROUNDS = 5


def _claimer(home: str, index: int, start: object, done: object, out: object) -> None:
    """Each round: wait for the others, claim, report, wait for the parent to free the slot."""
    instance = dg.DagsterInstance.from_config(home)
    try:
        for round_ in range(ROUNDS):
            start.wait()  # type: ignore[attr-defined]
            status = instance.event_log_storage.claim_concurrency_slot(API_POOL, f"r{round_}-{index}", "step")
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
            assert instance.event_log_storage.get_concurrency_info(API_POOL).claimed_slots == []
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
