"""The client's fast paths read exactly what the plain ones read (against the sandbox).

- `raw_pages` / `raw_sim_session_event_pages`: unparsed page bodies, decoded in bulk later;
- `export_air_usage_to_file`: the export streamed to disk instead of held in memory;
- connection pools split into small shards: many concurrent calls still all succeed.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest

from pipelines.soracom import ClientSettings, SoracomClient, resolve_credentials


def _client(sandbox, **settings) -> SoracomClient:
    creds = resolve_credentials(
        auth_key_id=sandbox.credentials["authKeyId"], auth_key=sandbox.credentials["authKey"], env={}
    )
    return SoracomClient(creds, endpoint=sandbox.url, settings=ClientSettings(**settings))


def _day(sandbox_now):
    start = sandbox_now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    return start, start + timedelta(days=1)


def test_raw_session_pages_hold_the_same_events_as_items(sandbox, sandbox_now):
    start, end = _day(sandbox_now)

    async def run():
        async with _client(sandbox) as c:
            sims = [s["simId"] async for s in c.list_sims()][:40]
            for sim_id in sims:
                parsed = [e async for e in c.list_sim_session_events(sim_id, start, end, limit=2)]
                raw = [p async for p in c.raw_sim_session_event_pages(sim_id, start, end, limit=2)]
                decoded = [e for page in raw for e in (json.loads(page) if page else [])]
                assert decoded == parsed
                yield len(parsed), len(raw)

    async def collect():
        return [x async for x in run()]

    counts = asyncio.run(collect())
    assert sum(n for n, _ in counts) > 0
    assert any(pages > 1 for _, pages in counts), "no SIM needed a second page: paging untested"


def test_export_to_file_equals_export_in_memory(sandbox, sandbox_now, tmp_path):
    start, end = _day(sandbox_now)
    end -= timedelta(seconds=1)

    async def run():
        async with _client(sandbox, export_poll_initial_s=0.05) as c:
            in_memory = await c.export_air_usage(start, end, "minutes")
            size = await c.export_air_usage_to_file(start, end, tmp_path / "usage.csv", "minutes")
            return in_memory, size

    with sandbox.configured(export_delay_s=0.0):
        in_memory, size = asyncio.run(run())
    on_disk = (tmp_path / "usage.csv").read_bytes()
    assert size == len(on_disk) == len(in_memory) > 1000
    assert on_disk == in_memory


@pytest.mark.parametrize("concurrency", [1, 5, 32])
def test_sharded_pools_serve_many_concurrent_calls(sandbox, sandbox_now, concurrency):
    start, end = _day(sandbox_now)

    async def run():
        async with _client(sandbox, max_concurrency=concurrency) as c:
            sims = [s["simId"] async for s in c.list_sims()]

            async def one(sim_id: str) -> int:
                return len([e async for e in c.list_sim_session_events(sim_id, start, end)])

            counts = await c.map_concurrent(one, sims)
            return counts, c.stats.calls_by_operation["listSimSessionEvents"]

    counts, calls = asyncio.run(run())
    truth = [
        len(sandbox.world.session_events(s, int(start.timestamp() * 1000), int(end.timestamp() * 1000)))
        for s in sandbox.world.sim_ids("jp")
    ]
    assert counts == truth
    assert calls >= len(truth)


@pytest.mark.parametrize("mode", ["html_200", "truncated", "not_json"])
def test_raw_pages_retry_bodies_that_are_not_json_like_parsed_pages(sandbox, sandbox_now, mode):
    """A raw page is not parsed, so its framing is checked instead: an HTML page or a cut body
    must fail the call (after the retries), never reach the decoder as data."""
    from pipelines.soracom import SoracomRetryError

    start, end = _day(sandbox_now)
    sim_id = sandbox.world.sim_ids("jp")[0]

    async def run():
        async with _client(sandbox, max_attempts=2, backoff_base_s=0.01) as c:
            return [p async for p in c.raw_sim_session_event_pages(sim_id, start, end)]

    with (
        sandbox.configured(bad_input=mode, bad_input_operations="listSimSessionEvents"),
        pytest.raises(SoracomRetryError, match="not JSON"),
    ):
        asyncio.run(run())
