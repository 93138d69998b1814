"""Each source asset is in the Dagster pool of the Soracom API family it calls
(`soracom_api.<family>`, declared by its `Source`). Soracom rate-limits per operator and per
operation, so two sources calling a common operation must share a pool (never run at once),
and sources that share none are in different pools (they may overlap). The operations are not
declared here but read from what each fetch really calls on the sandbox."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from assets.loading import API_POOL, Progress
from assets.partitions import Window, window_for
from assets.source import Source
from assets.tables import SOURCES, api_pools, source
from pipelines.jobs import DAILY_ASSETS
from pipelines.soracom import ClientSettings, Credentials, SoracomClient
from sandbox.testing import SandboxHandle, start_sandbox
from testkit.logs import RecordingLog

NOW = datetime(2026, 12, 4, 6, tzinfo=UTC)  # December's bill is the latest, November's a past one
FAST = ClientSettings(
    backoff_base_s=0.01, backoff_max_s=0.05, export_poll_initial_s=0.05, export_poll_max_s=0.2
)
# Every step authenticates once per coverage, whatever it loads: that call cannot be kept apart
# by pools (and Soracom limits it per source address), so it links no sources.
EVERY_STEP = {"auth"}


def test_every_source_asset_is_in_its_family_pool() -> None:
    for s in SOURCES:
        assert s.asset.op.pool == f"{API_POOL}.{s.pool}" == s.pool_key, s.name
    assert api_pools() == sorted({s.pool_key for s in SOURCES})


def test_the_pool_is_a_required_decision_of_each_source() -> None:
    """No default: a new source module must say which API family it calls."""
    [pool] = [f for f in dataclasses.fields(Source) if f.name == "pool"]
    assert pool.default is dataclasses.MISSING and pool.default_factory is dataclasses.MISSING
    with pytest.raises(ValueError, match="not an API family"):
        dataclasses.replace(source("groups"), pool="two words")


def test_the_pool_table_of_the_docs_lists_each_pools_sources() -> None:
    """docs/ingestion.md, "Concurrency": one row per pool, its sources in backquotes."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "ingestion.md").read_text()
    rows = re.findall(r"^  \| `(soracom_api\.\w+)` \| ([^|]*) \|", text, flags=re.MULTILINE)
    documented = {pool: set(re.findall(r"`(\w+)`", names)) for pool, names in rows}
    pools: dict[str, set[str]] = {}
    for s in SOURCES:
        pools.setdefault(s.pool_key, set()).add(s.name)
    assert documented == pools


def test_sources_of_one_api_share_a_pool_and_the_daily_job_spans_several() -> None:
    assert source("air_traffic_daily").pool_key == source("air_traffic_5min").pool_key  # exportAirStats
    assert source("session_events").pool_key == source("sims").pool_key  # listSims
    assert source("api_audit_logs").pool_key != source("napter_audit_logs").pool_key
    daily = {source(asset.key.to_user_string()).pool_key for asset in DAILY_ASSETS}
    assert len(daily) == 4, daily  # sims (session events), exports, harvest, logs


@pytest.fixture(scope="module")
def box() -> Iterator[SandboxHandle]:
    with start_sandbox(sims=20, seed=3, now=NOW) as handle:
        yield handle


def operations_called(box: SandboxHandle, s: Source) -> set[str]:
    """The operations the source's fetch calls for its last two partitions (for billing: the
    current month, read with the `latest` operations, and the past one)."""
    credentials = Credentials.auth_key_pair(box.settings.auth_key_id, box.settings.auth_key)

    async def fetch(window: Window) -> set[str]:
        async with SoracomClient(credentials, endpoint=box.url_for("jp"), coverage="jp", settings=FAST) as c:
            fetched = await s.fetch(c, window, Progress(RecordingLog(), "jp", NOW))
            if fetched.cleanup is not None:
                fetched.cleanup()
            return set(c.stats.calls_by_operation)

    called: set[str] = set()
    for key in s.partitions_def.get_partition_keys(current_time=NOW)[-2:]:
        called |= asyncio.run(fetch(window_for(s.partitions_def, key)))
    return called - EVERY_STEP


def linked_groups(calls: dict[str, set[str]]) -> set[frozenset[str]]:
    """The sources grouped by shared operations, transitively: a step has one pool, so if A and
    B share an operation and B and C another, all three need one pool."""
    groups: list[tuple[set[str], set[str]]] = []  # (sources, their operations)
    for name, operations in calls.items():
        merged = ({name}, set(operations))
        for group in [g for g in groups if g[1] & operations]:
            groups.remove(group)
            merged[0].update(group[0])
            merged[1].update(group[1])
        groups.append(merged)
    return {frozenset(names) for names, _ in groups}


def test_the_linked_groups_of_a_known_mapping() -> None:
    calls = {"a": {"x"}, "b": {"x", "y"}, "c": {"y"}, "d": {"z"}}
    assert linked_groups(calls) == {frozenset("abc"), frozenset("d")}


@pytest.mark.integration
def test_the_pools_are_the_sources_linked_by_the_operations_they_call(box: SandboxHandle) -> None:
    calls = {s.name: operations_called(box, s) for s in SOURCES}
    assert all(calls.values()), calls
    assert "getExportedFile" in calls["air_traffic_daily"] & calls["billing_items"]
    pools: dict[str, set[str]] = {}
    for s in SOURCES:
        pools.setdefault(s.pool_key, set()).add(s.name)
    assert {frozenset(names) for names in pools.values()} == linked_groups(calls), calls
