"""The token is read when a request is sent, after its slot and rate waits (issue 17 item 5):
a request that queued longer than the token lives must not send an expired one."""

from __future__ import annotations

import pytest

from .conftest import make_client, run

pytestmark = pytest.mark.integration


def test_requests_queued_past_the_token_lifetime_send_a_fresh_token(sandbox, creds):
    # The server expires tokens after 1 s; the client renews at 1 % of the 60 s it asks for
    # (0.6 s). One slot and 100 ms per answer: the 30th request waits ~3 s for its slot.
    sandbox.settings.update({"token_ttl": 1, "latency_ms": 100})

    async def scenario() -> tuple[list[object], object]:
        async with make_client(
            sandbox, creds, max_concurrency=1, token_timeout_s=60, token_refresh_fraction=0.01
        ) as c:

            async def groups(_: int) -> object:
                return await c.request_json("GET", "/groups", operation="listGroups")

            return await c.map_concurrent(groups, range(30), concurrency=30), c.stats

    results, stats = run(scenario())
    assert len(results) == 30
    assert stats.token_refreshes >= 2  # renewed while requests were queued
    assert stats.unauthorized_replays == 0  # no request went out with an expired token
