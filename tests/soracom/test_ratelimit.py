"""The per-operation limiter's bookkeeping (pure logic, no server)."""

from __future__ import annotations

import asyncio
import time

import httpx

from pipelines.soracom.ratelimit import OperationLimiter, RateLimiter


def rate_headers(limit: int, remaining: int, refresh: int) -> httpx.Headers:
    return httpx.Headers(
        {
            "X-Soracom-Ratelimit-Limit": str(limit),
            "X-Soracom-Ratelimit-Remaining": str(remaining),
            "X-Soracom-Ratelimit-Seconds-Before-Refresh": str(refresh),
        }
    )


def test_first_request_probes_alone_then_others_follow():
    async def scenario():
        limiter = OperationLimiter()
        await limiter.acquire()
        second = asyncio.create_task(limiter.acquire())
        await asyncio.sleep(0.05)
        assert not second.done()  # waits for the probe's answer
        await limiter.release(rate_headers(100, 99, 60), 200)
        await asyncio.wait_for(second, 1)
        assert limiter.limit == 100
        assert limiter.remaining == 98  # 99 left at the server, one more just spent

    asyncio.run(scenario())


def test_exhausted_window_blocks_until_refresh():
    async def scenario():
        limiter = OperationLimiter()
        await limiter.acquire()
        await limiter.release(rate_headers(3, 2, 60), 200)
        await limiter.acquire()
        await limiter.acquire()
        blocked = asyncio.create_task(limiter.acquire())
        await asyncio.sleep(0.05)
        assert not blocked.done()
        assert not limiter._may_send(time.monotonic())
        limiter.reset_at = time.monotonic()  # pretend the minute passed
        async with limiter._cond:
            limiter._cond.notify_all()
        await asyncio.wait_for(blocked, 1)
        assert limiter.remaining == 3 - 2 - 1  # two still in flight, one just sent

    asyncio.run(scenario())


def test_in_flight_requests_count_as_spent():
    async def scenario():
        limiter = OperationLimiter()
        await limiter.acquire()
        await limiter.release(rate_headers(10, 9, 60), 200)
        for _ in range(5):
            await limiter.acquire()
        # One answer arrives saying 8 left: the 4 others in flight may not have been counted.
        await limiter.release(rate_headers(10, 8, 60), 200)
        assert limiter.remaining == 8 - 4
        # A stale answer (higher remaining) does not raise the count in the same window.
        await limiter.release(rate_headers(10, 9, 60), 200)
        assert limiter.remaining == 4

    asyncio.run(scenario())


def test_429_empties_the_window_and_no_headers_means_unlimited():
    async def scenario():
        limiter = OperationLimiter()
        await limiter.acquire()
        await limiter.release(rate_headers(5, 0, 30), 429)
        assert limiter.remaining == 0 and limiter.reset_at is not None
        open_limiter = OperationLimiter()
        await open_limiter.acquire()
        await open_limiter.release(httpx.Headers({}), 200)
        assert open_limiter.unlimited
        await asyncio.gather(*(open_limiter.acquire() for _ in range(50)))

    asyncio.run(scenario())


def test_limiters_are_per_operation_and_can_be_disabled():
    limiter = RateLimiter()
    assert limiter.for_operation("listSims") is limiter.for_operation("listSims")
    assert limiter.for_operation("listSims") is not limiter.for_operation("listGroups")
    assert RateLimiter(enabled=False).for_operation("listSims") is None
