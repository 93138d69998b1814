"""Paging a 10,000-SIM operator gives every SIM exactly once."""

from __future__ import annotations

from collections import Counter

import pytest

from pipelines.soracom import Credentials

from .conftest import NOW, make_client, run

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_ten_thousand_sims_paged_exactly_once():
    from sandbox.testing import start_sandbox

    creds = Credentials.auth_key_pair("keyId-sandbox", "secret-sandbox")
    with start_sandbox(sims=10_000, seed=3, now=NOW, error_rate=0.02, drop_rate=0.01) as sandbox:

        async def scenario():
            async with make_client(sandbox, creds) as c:
                ids = [sim["simId"] async for sim in c.list_sims(limit=100)]
                return ids, c.stats

        ids, stats = run(scenario())
        expected = list(sandbox.world.sim_ids("jp"))
    counts = Counter(ids)
    assert counts == Counter(expected)
    assert max(counts.values()) == 1
    assert stats.pages_by_operation["listSims"] >= 100
