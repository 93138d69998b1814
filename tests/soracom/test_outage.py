"""A real 20-second outage of the API is ridden through (issue 17 item 4): the sandbox process is
stopped while a load is under way and started again on the same port 20 s later; every call
of the load completes and none is lost or repeated.

The retry settings are the defaults but for `backoff_max_s=2`: then the old cap of
`max_attempts` (8) tries would give up within ~12 s, so only a time budget survives."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest

from pipelines.soracom import ClientSettings, Credentials, SoracomClient
from sandbox.process import start_sandbox_process

pytestmark = [pytest.mark.reliability, pytest.mark.integration, pytest.mark.slow]

OUTAGE_S = 20.0
WORKERS = 4


def test_a_twenty_second_outage_is_ridden_through() -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    with start_sandbox_process(sims=10, seed=5, now=now, coverage="jp", latency_ms=20) as box:
        creds = Credentials.auth_key_pair(box.credentials["authKeyId"], box.credentials["authKey"])
        settings = ClientSettings(max_concurrency=WORKERS, backoff_max_s=2.0)
        assert settings.max_attempts == 8 and settings.max_retry_seconds == 300

        async def load() -> tuple[list[int], float, dict]:
            restarted = asyncio.Event()
            done: list[int] = []
            async with SoracomClient(creds, endpoint=box.url_for("jp"), settings=settings) as c:
                sims = [sim["simId"] async for sim in c.list_sims()]

                async def worker(index: int) -> None:
                    first = None
                    calls = 0
                    # Keep calling through the outage and a few calls past its end; the
                    # restarted server (same seed, same clock) gives the same answer.
                    while not restarted.is_set() or calls < 3:
                        before = restarted.is_set()
                        got = await c.get_air_stats_sim(sims[index], "day", now - timedelta(days=7), now)
                        first = got if first is None else first
                        assert got == first
                        calls = calls + 1 if before else 0
                        done.append(index)

                async def outage() -> float:
                    while len(done) < 2 * WORKERS:
                        await asyncio.sleep(0.01)
                    await asyncio.to_thread(box.stop)
                    stopped = time.monotonic()
                    await asyncio.sleep(OUTAGE_S)
                    await asyncio.to_thread(box.restart)
                    down = time.monotonic() - stopped
                    restarted.set()
                    return down

                *_, down = await asyncio.gather(*(worker(i) for i in range(WORKERS)), outage())
                return done, down, c.stats.as_dict()

        done, down, stats = asyncio.run(load())
    assert down >= OUTAGE_S
    assert stats["transport_errors"] >= WORKERS  # every worker met the outage
    assert stats["retries"] > WORKERS * settings.max_attempts  # far more tries than the old cap
    for index in range(WORKERS):
        assert done.count(index) >= 4
