"""The per-operation limiter's bookkeeping (pure logic, no server)."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from pipelines.soracom.ratelimit import PROBE_PATIENCE_S, OperationLimiter, RateLimiter


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


class FakeClock:
    """The limiter's clock, moved by the test (no real waiting)."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@dataclass
class WindowServer:
    """One operation's one-minute windows, starting at the first call counted after the last
    one ended (as the sandbox's) or, `aligned`, on the clock's whole minutes; the
    `Seconds-Before-Refresh` rounded by `rounding` to whole seconds."""

    limit: int
    rounding: Callable[[float], int]
    aligned: bool = False
    end: float | None = None
    used: int = 0
    late: list[float] = field(default_factory=list)  # each window's first call after the last's end

    def answer(self, t: float) -> tuple[int, httpx.Headers]:
        if self.end is None or t >= self.end:
            if self.end is not None:
                self.late.append(t - self.end)
            self.end = (math.floor(t / 60.0) + 1) * 60.0 if self.aligned else t + 60.0
            self.used = 0
        refresh = max(0, self.rounding(self.end - t))
        if self.used >= self.limit:
            headers = rate_headers(self.limit, 0, refresh)
            headers["Retry-After"] = str(refresh)
            return 429, headers
        self.used += 1
        return 200, rate_headers(self.limit, self.limit - self.used, refresh)


async def drive(
    limiter: OperationLimiter, server: WindowServer, clock: FakeClock, calls: int, latencies: list[float]
) -> int:
    """Send `calls` requests one at a time, each answered half-way through its latency, a 429
    retried after its `Retry-After`, jumping the clock to the limiter's edge when it holds
    back; returns the number of 429s."""
    refused = done = sent_count = 0
    while done < calls:
        while not limiter._may_send(clock()):
            clock.t = max(clock.t + 0.001, limiter.reset_at or clock.t)
        await limiter.acquire()
        sent = clock.t
        latency = latencies[sent_count % len(latencies)]
        sent_count += 1
        status, headers = server.answer(sent + latency / 2)
        clock.t = sent + latency
        await limiter.release(headers, status, sent_at=sent)
        if status == 429:
            refused += 1
            clock.t += float(headers["Retry-After"])
        else:
            done += 1
    return refused


def test_window_edge_learned_from_the_earliest_bound_of_its_answers():
    """A server rounding its refresh seconds up (the sandbox): the earliest `received + refresh`
    of a window's answers is still after its end, and within a fraction of a second of it.
    Fails on the limiter that kept the latest bound (each new window up to a second late)."""

    async def scenario() -> None:
        clock = FakeClock()
        limiter = OperationLimiter(clock=clock)
        server = WindowServer(limit=8, rounding=math.ceil)
        # Answers spread over a second of the window: their rounding errors differ.
        spread = [0.137, 0.093, 0.211, 0.05, 0.17, 0.121]
        assert await drive(limiter, server, clock, calls=8 * 4, latencies=spread) == 0
        assert len(server.late) == 3
        assert all(0 <= s < 0.4 for s in server.late), server.late  # 1.07-1.11 s before

    asyncio.run(scenario())


def test_a_server_rounding_down_costs_one_429_then_the_safe_edge():
    """A server rounding its refresh seconds down (windows on whole minutes, so no answer says a
    full 60 s) makes the learned edge early: the one request
    that probes the new window draws one 429, and from then on the limiter waits a further
    second at each edge: one 429 in five windows. Fails on the limiter before: a quick burst
    (every answer rounded alike) set its edge early, and each 429 (0 s before refresh) moved
    it by the margin only, a stream of 429s at every edge."""

    async def scenario() -> None:
        clock = FakeClock()
        limiter = OperationLimiter(clock=clock)
        server = WindowServer(limit=8, rounding=math.floor, aligned=True)
        burst = [0.01, 0.012, 0.008]
        assert await drive(limiter, server, clock, calls=8 * 5, latencies=burst) == 1
        assert limiter.rounds_down
        assert len(server.late) == 4
        assert all(0 <= s < 1.3 for s in server.late), server.late

    asyncio.run(scenario())


def test_a_late_answer_of_a_finished_window_does_not_move_the_edge_back():
    """An answer of the window before, arriving after the new window's first, is not taken for
    the new one (it would zero the count and pull the edge back a minute). Fails on the
    limiter before (its count fell to 0)."""

    async def scenario() -> None:
        clock = FakeClock()
        limiter = OperationLimiter(clock=clock)
        await limiter.acquire()
        await limiter.release(rate_headers(10, 9, 1), 200, sent_at=clock.t)  # old window ends ~1 s on
        await limiter.acquire()
        old_sent = clock.t
        clock.t += 1.5
        await limiter.acquire()
        await limiter.release(rate_headers(10, 9, 60), 200, sent_at=clock.t)  # a new window
        edge = limiter.reset_at
        assert edge is not None and edge > clock.t + 58
        clock.t += 0.1
        await limiter.release(rate_headers(10, 0, 1), 200, sent_at=old_sent)  # the old one, late
        assert limiter.reset_at == edge
        assert limiter.remaining == 8

    asyncio.run(scenario())


def test_a_lost_probe_of_the_next_window_is_sent_again():
    """The probe past a spent window's edge holds the others back until its answer; one that is
    never released (lost) does so only for PROBE_PATIENCE_S, not for ever."""

    async def scenario() -> None:
        clock = FakeClock()
        limiter = OperationLimiter(clock=clock)
        await limiter.acquire()
        await limiter.release(rate_headers(1, 0, 2), 200, sent_at=clock.t)  # spent, ends in 2 s
        assert not limiter._may_send(clock.t)
        clock.t += 2.1
        await limiter.acquire()  # the probe, never released
        assert not limiter._may_send(clock.t + 1.0)
        assert limiter._may_send(clock.t + PROBE_PATIENCE_S)

    asyncio.run(scenario())
