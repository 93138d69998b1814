"""A full demo-window load (every source, both coverages) through a hostile sandbox ends
with every table equal to the ground truth: no row lost, none duplicated.

The sandbox answers 10% of calls with 500/502/503, drops 2% of connections mid-body,
rate-limits each API low enough that the two coverages' clients (sharing one operator)
draw 429s, and lets tokens live only 20 s. The resources are the production ones
(`resources_from_env`, default client settings). The sandbox runs in its own process, as a
real API would: in a thread it would share the GIL and Polars' thread pool with the
pipeline under test. The test prints the figures quoted in docs/reliability.md:

    .venv/bin/pytest tests/reliability/test_faults.py -m reliability -s
"""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest

from assets.catalog import catalog
from assets.resources import resources_from_env
from pipelines import settings
from pipelines.demo import plan_runs
from pipelines.lake import Lake
from sandbox.process import start_sandbox_process
from tests.reliability import harness

pytestmark = [pytest.mark.reliability, pytest.mark.integration, pytest.mark.slow]

SIMS = 30
DAYS = 7  # the demo's default window
FAULTS = {
    "error_rate": 0.10,
    "drop_rate": 0.02,
    # 40 calls per API in 5-s windows: Soracom's minute is 60 s, the limiter learns the window from
    # the answers' headers either way. 8 a second keep the run short and still spend the windows
    # of a week of session events (a few hundred calls of one API) on a loaded machine; they also
    # hold that run well past the tokens' 20 s, so tokens expire in it.
    "rate_limit_per_minute": 40,
    "rate_limit_window_s": 5.0,
    "token_ttl": 20,
    "jitter_ms": 2.0,
    "fault_seed": 2026,
}


def _client_totals(results: list[dg.ExecuteInProcessResult]) -> Counter:
    """Client-side counters summed over every asset of every run (a range run repeats its
    totals on each partition's event, so each (run, asset) is counted once)."""
    totals: Counter = Counter()
    seen = set()
    for result in results:
        for event in result.get_asset_materialization_events():
            key = (result.run_id, event.asset_key)
            metadata = event.materialization.metadata
            if key in seen or "api_stats" not in metadata:
                continue
            seen.add(key)
            for stats in metadata["api_stats"].value.values():
                for name in (
                    "calls",
                    "retries",
                    "http_429",
                    "http_5xx",
                    "transport_errors",
                    "invalid_json",
                    "auths",
                    "token_refreshes",
                    "unauthorized_replays",
                ):
                    totals[name] += int(stats.get(name, 0))
                for reason, n in (stats.get("retries_by_reason") or {}).items():
                    totals[f"retries_{reason}"] += int(n)
    return totals


def test_demo_window_under_faults_equals_ground_truth(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    with start_sandbox_process(sims=SIMS, seed=11, now=now, coverage="both", **FAULTS) as box:
        world = harness.world_for(box.info, SIMS, 11)
        env = {
            settings.AUTH_KEY_ID: box.credentials["authKeyId"],
            settings.AUTH_KEY: box.credentials["authKey"],
            settings.COVERAGES: "jp,g",
            settings.ENDPOINT_JP: box.url_for("jp"),
            settings.ENDPOINT_G: box.url_for("g"),
            settings.LAKE_ROOT: str(tmp_path / "lake"),
            settings.CATALOG_PATH: str(tmp_path / "soracom.duckdb"),
            settings.NOW: box.info["now"],  # the pipeline's clock: the World's
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        res = resources_from_env()
        runs = plan_runs(world.now, DAYS)  # the World's closed days, also to its clock across midnight
        instance = dg.DagsterInstance.ephemeral()
        started = time.monotonic()
        results = []
        for run in runs:
            result = harness.materialize(run.assets, run.first, res, instance, last=run.last)
            assert result.success, harness.failure_messages(result)
            results.append(result)
        catalog_result = dg.materialize([catalog], resources=res, instance=instance, run_config=harness.QUIET)
        assert catalog_result.success
        wall = time.monotonic() - started
        server = box.get_stats()
        lake = Lake(tmp_path / "lake")
        compared = harness.assert_lake_matches_world(world, lake, runs, ("jp", "g"), now=world.now)
        catalog_rows = harness.assert_catalog_opens(tmp_path / "soracom.duckdb", lake)
    client = _client_totals(results)
    figures = {
        "sims": SIMS,
        "coverages": "jp,g",
        "days": DAYS,
        "runs": [r.label for r in runs],
        "faults_configured": FAULTS,
        "wall_time_s": round(wall, 1),
        "server_calls": server["total_calls"],
        "server_injected_5xx": server["errors_injected"],
        "server_dropped_connections": server["drops_injected"],
        "server_429": server["rate_limited"],
        "server_401": server["unauthorized"],
        "server_tokens_issued": server["tokens_issued"],
        "server_statuses": server["statuses"],
        "client": dict(client),
        "rows_compared_with_world": compared.rows,
        "rows_in_catalog": catalog_rows,
    }
    print("\nFAULT RUN FIGURES " + json.dumps(figures, indent=2, sort_keys=True))
    # The faults really happened, and the client saw and survived each kind.
    assert server["errors_injected"] >= 20 and server["drops_injected"] >= 3, server
    assert server["rate_limited"] >= 1 and client["http_429"] >= 1, (server, client)
    assert server["unauthorized"] >= 1 and client["unauthorized_replays"] >= 1, "tokens must have expired"
    assert client["retries"] >= server["errors_injected"], client
    assert compared.total > 1000
