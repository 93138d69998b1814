"""One injectable clock: a whole load runs as of a fixed past instant (`SORACOM_NOW` / the
`clock` resource) against a sandbox started with the same now, no time-faking tools.

Before the clock existed, every guard, fetch and `_loaded_at` read the wall clock: the audit
hours of a past day were refused as aged out, and the billing months were judged against today.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import httpx
import polars as pl
import pytest

from assets.resources import ClockResource, clock_resource_from_env
from assets.tables import source
from pipelines import demo, settings
from pipelines.demo import execute_runs, plan_runs
from pipelines.lake import Lake
from sandbox.testing import start_sandbox
from tests.reliability import harness

pytestmark = [pytest.mark.integration]

PAST_NOW = datetime(2025, 6, 15, 12, 0, tzinfo=UTC)  # far outside every retention window of today


def test_a_whole_load_runs_at_a_fixed_past_now(tmp_path: Path) -> None:
    with start_sandbox(sims=12, seed=11, now=PAST_NOW, coverage="jp") as box:
        res = harness.resources({"jp": box.url_for("jp")}, box.credentials, tmp_path, now=PAST_NOW)
        runs = plan_runs(PAST_NOW, 1)
        outcomes = execute_runs(runs, res, dg.DagsterInstance.ephemeral())
        assert [o.errors for o in outcomes if not o.success] == []
        lake = Lake(tmp_path / "lake")
        compared = harness.assert_lake_matches_world(box.world, lake, runs, ["jp"], now=PAST_NOW)
    assert {"session_events", "api_audit_logs", "bills"} <= set(compared.rows)
    bills = lake.read(source("bills").spec, {"month": "2025-06"})
    assert bills["preliminary"].to_list() == [True]  # June is the current month at PAST_NOW
    loaded_at = pl.concat(
        [lake.read(source(t).spec).select("_loaded_at") for t in ("sims", "session_events", "bills")]
    )
    assert set(loaded_at["_loaded_at"].to_list()) == {PAST_NOW}


def test_the_clock_setting_is_live_by_default_and_checked() -> None:
    assert clock_resource_from_env({}).fixed() is None
    fixed = ClockResource(now_setting="2025-06-15T12:00:00Z")
    assert fixed.now() == PAST_NOW and fixed.now() == fixed.now()
    with pytest.raises(ValueError, match="SORACOM_NOW='yesterday' is not valid"):
        settings.value(settings.NOW, {settings.NOW: "yesterday"})


def test_the_demo_runs_its_pipeline_at_its_sandboxs_moment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without `SORACOM_NOW` the demo's sandbox serves the minute it started, fixed; the pipeline's
    clock is that minute too. (On the wall clock, a demo crossing midnight UTC planned a day
    before it and had that day's SIM snapshot refused as too old after it.)"""
    monkeypatch.delenv(settings.NOW, raising=False)
    with demo._sandbox(argparse.Namespace(sims=5, seed=1, coverage="jp")) as env, demo._patched_env(env):
        served = httpx.get(env[settings.ENDPOINT_JP].removesuffix("/v1") + "/_sandbox/health").json()["now"]
        clock = clock_resource_from_env().process_config_and_initialize()  # as the demo's runs get it
        assert clock.fixed() is not None
        assert clock.now() == datetime.fromisoformat(served)
