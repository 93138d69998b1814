"""A past month's billing CSV before the month is closed (issue 16 item 2).

Soracom exports the previous month's detailed CSV only once its bill is closed (1-3 business
days into the next month). The sandbox refuses it the same way, and the pipeline keeps the
preliminary lines it has, says so, and loads the closed month on a later run.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import httpx
import polars as pl
import pytest

from assets import billing
from pipelines.lake import Lake
from sandbox.testing import SandboxHandle, start_sandbox
from tests.assets import truth
from tests.conftest import authenticated_client
from tests.reliability import harness

pytestmark = pytest.mark.integration

LAST_DAY = datetime(2026, 11, 30, 12, tzinfo=UTC)  # November is the current month
FIRST_DAY = datetime(2026, 12, 1, 6, tzinfo=UTC)  # November is past, not closed yet
CLOSED = datetime(2026, 12, 3, 6, tzinfo=UTC)  # November is closed
MONTH = "2026-11-01"


class SteppedClock:
    """The sandbox's `now`, stepped by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def stepped() -> Iterator[tuple[SandboxHandle, SteppedClock]]:
    clock = SteppedClock(LAST_DAY)
    with start_sandbox(sims=12, seed=11, coverage="jp", clock=clock) as handle:
        yield handle, clock


def _export(handle: SandboxHandle, yyyymm: str) -> httpx.Response:
    with authenticated_client(handle.url, handle.credentials) as api:
        return api.post(f"/v1/bills/{yyyymm}/export", params={"export_mode": "sync"})


def test_the_sandbox_refuses_the_export_of_a_month_not_closed(stepped) -> None:
    handle, clock = stepped
    clock.now = FIRST_DAY
    refused = _export(handle, "202611")
    assert refused.status_code == 404
    body = refused.json()
    assert set(body) == {"code", "message"} and "not closed" in body["message"]
    assert _export(handle, "202610").status_code == 200  # closed months still export
    clock.now = CLOSED
    assert _export(handle, "202611").status_code == 200


def _items(lake: Lake) -> pl.DataFrame:
    return lake.read(billing.ITEMS_SPEC, {"month": "2026-11"})


def test_an_unclosed_month_keeps_its_preliminary_lines_and_loads_once_closed(stepped, tmp_path: Path) -> None:
    handle, clock = stepped
    lake = Lake(tmp_path / "lake")
    instance = dg.DagsterInstance.ephemeral()

    def run(now: datetime) -> dg.ExecuteInProcessResult:
        clock.now = now
        res = harness.resources({"jp": handle.url}, handle.credentials, tmp_path, now=now)
        return harness.materialize([billing.billing_items], MONTH, res, instance)

    first = run(LAST_DAY)  # the current month: the latest (preliminary) CSV
    assert first.success, harness.failure_messages(first)
    loaded = _items(lake)
    assert loaded.height > 0 and loaded["preliminary"].all()

    refused = run(FIRST_DAY)
    assert refused.success, harness.failure_messages(refused)
    kept = _items(lake)
    assert kept.sort(pl.all()).equals(loaded.sort(pl.all()))  # same lines, same _loaded_at
    metadata = refused.asset_materializations_for_node("billing_items")[0].metadata
    assert metadata["preliminary"].value is True
    assert "not closed" in metadata["export_refused"].value
    warnings = [e.user_message for e in instance.all_logs(refused.run_id) if e.level == logging.WARNING]
    assert any("not closed yet" in w and "keeping the preliminary lines" in w for w in warnings)

    closed = run(CLOSED)
    assert closed.success, harness.failure_messages(closed)
    final = _items(lake)
    assert not final["preliminary"].any()
    got = truth.lake_rows(lake, "billing_items", truth.ITEM_COLUMNS, "jp", month="2026-11")
    assert got and got == truth.expected_billing_items(handle.state.world, "jp", "202611")
