"""A client-side limiter per API operation that learns the server's limits.

Soracom limits calls per operator, per API, per minute and reports the state on every
answer (`X-Soracom-Ratelimit-Limit`, `-Remaining`, `-Seconds-Before-Refresh`). The
limiter keeps a local count of what is left in the current window, spends one unit per
request, and when nothing is left waits until the window refreshes instead of drawing
429s. Until an operation's first answer arrives it sends one request alone (a probe),
so even a tiny limit is not overrun by the first burst of a fan-out; the first request
after a spent window's edge probes the next window the same way. How the edge is learned,
and the fallback for a server rounding its refresh seconds down: `OperationLimiter`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from .retry import parse_seconds

LIMIT_HEADER = "x-soracom-ratelimit-limit"
REMAINING_HEADER = "x-soracom-ratelimit-remaining"
REFRESH_HEADER = "x-soracom-ratelimit-seconds-before-refresh"

log = logging.getLogger("pipelines.soracom")

PROBE_PATIENCE_S = 5.0


@dataclass
class RateState:
    """What the server told us last, read from one answer's headers."""

    limit: int | None
    remaining: int | None
    refresh_s: float | None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> RateState | None:
        limit = _int(headers.get(LIMIT_HEADER))
        remaining = _int(headers.get(REMAINING_HEADER))
        refresh = parse_seconds(headers.get(REFRESH_HEADER))
        if limit is None and remaining is None and refresh is None:
            return None
        return cls(limit, remaining, refresh)


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(float(value.strip()))
    except ValueError:
        return None


@dataclass
class OperationLimiter:
    """Local view of one operation's rate window.

    The window's end is learned from every answer of it: an answer received at `r` saying
    `s` seconds before refresh, for a server that rounds up (the sandbox) or is exact, bounds
    the end from above by `r + s`, so the EARLIEST such bound seen is the tightest safe edge
    (keeping the latest, as before, made each wait for a new window up to a second late). A
    server that rounds DOWN would make that edge early: its first 429 (one request probes
    each new window alone, so it is one 429, not a burst) switches the operation to the safe
    edge, one second later, for the client's life.
    """

    margin_s: float = 0.05
    clock: Callable[[], float] = time.monotonic
    limit: int | None = None
    remaining: float = 0.0
    reset_at: float | None = None  # when the next window may be probed: the edge plus margin
    unlimited: bool = False
    inflight: int = 0
    learned: bool = False
    rounds_down: bool = False  # a 429 was drawn: the refresh seconds may be rounded down
    # The current window ends after `_end_lo` and by `_end_hi` (+1 s if the server rounds down).
    _end_lo: float | None = None
    _end_hi: float | None = None
    _probe_sent_at: float | None = None  # the probe of the next window, while unanswered
    _cond: asyncio.Condition = field(default_factory=asyncio.Condition)

    def _may_send(self, now: float) -> bool:
        if self.unlimited:
            return True
        if not self.learned:
            return self.inflight == 0  # probe alone
        if self.remaining >= 1:
            return True
        # The window is spent: past its edge, one request probes the next window alone, and
        # the others follow its answer (the new window's count, or a 429 that moves the edge).
        # A probe unanswered for PROBE_PATIENCE_S (lost without a release) is sent again.
        probing = self._probe_sent_at is not None and now - self._probe_sent_at < PROBE_PATIENCE_S
        return self.reset_at is not None and now >= self.reset_at and not probing

    def _wait_hint(self, now: float) -> float | None:
        if self.learned and self.reset_at is not None and now < self.reset_at:
            return self.reset_at - now
        return None  # wait for an answer to arrive

    async def acquire(self) -> float:
        """Wait for permission to send one request; returns the seconds waited."""
        started = time.monotonic()
        async with self._cond:
            while True:
                now = self.clock()
                if self._may_send(now):
                    break
                hint = self._wait_hint(now)
                # On a timeout the edge passed, or a probe is taking long: look again.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._cond.wait(), timeout=hint if hint is not None else 5.0)
            self.inflight += 1
            if self.learned and not self.unlimited:
                if self.remaining >= 1:
                    self.remaining -= 1
                else:
                    self._probe_sent_at = now
        return time.monotonic() - started

    async def release(
        self, headers: Mapping[str, str] | None, status: int | None, *, sent_at: float | None = None
    ) -> None:
        """Record the answer (or failure) of a request sent under `acquire` at `sent_at` (this
        limiter's clock; unknown means now, which only makes the learned edge later)."""
        async with self._cond:
            self.inflight -= 1
            self._probe_sent_at = None  # an answer came: look again (a lost probe is sent again)
            if headers is not None:
                self._learn(headers, status, sent_at)
            self._cond.notify_all()

    def _learn(self, headers: Mapping[str, str], status: int | None, sent_at: float | None) -> None:
        state = RateState.from_headers(headers)
        now = self.clock()
        if state is None:
            if status == 429:
                # Told off without details: hold back a second, then probe again.
                self.learned = True
                self.remaining = 0
                self.reset_at = now + 1.0
                self._end_lo = self._end_hi = None
            elif not self.learned:
                self.unlimited = True
                self.learned = True
            return
        self.unlimited = False
        self.learned = True
        if state.limit is not None:
            self.limit = state.limit
        if status == 429 and not self.rounds_down:
            self.rounds_down = True
            log.warning(
                "a 429 although the rate window looked open: from now on waiting a further second "
                "at each window's edge (the server may round its seconds before refresh down)"
            )
        refresh = state.refresh_s if state.refresh_s is not None else 60.0
        sent = min(sent_at, now) if sent_at is not None else now
        # The server answered between `sent` and `now`, with the refresh rounded by under 1 s:
        # its window ends after `lo`, and by `hi` if it rounds up (by `hi + 1` if down).
        lo, hi = sent + refresh - 1.0, now + refresh
        if status == 429:
            server_left = 0.0
        else:
            server_left = float(state.remaining if state.remaining is not None else (self.limit or 1))
        # Other requests in flight may not have reached the server yet: count them as spent.
        estimate = server_left - self.inflight
        if self._end_hi is None or self._end_lo is None or lo >= self._end_hi + 1.0:
            self.remaining = estimate  # a new window (it surely ends after the current one)
            self._end_lo, self._end_hi = lo, hi
        elif hi + 1.0 <= self._end_lo:
            return  # a late answer from a window already over
        else:
            # Same window: the lowest count, and the tightest bounds of its end.
            self.remaining = min(self.remaining, estimate)
            self._end_lo, self._end_hi = max(self._end_lo, lo), min(self._end_hi, hi)
        self.reset_at = self._end_hi + (1.0 if self.rounds_down else 0.0) + self.margin_s


class RateLimiter:
    """One `OperationLimiter` per operation name."""

    def __init__(self, *, enabled: bool = True, margin_s: float = 0.05) -> None:
        self.enabled = enabled
        self.margin_s = margin_s
        self._ops: dict[str, OperationLimiter] = {}

    def for_operation(self, operation: str) -> OperationLimiter | None:
        if not self.enabled:
            return None
        limiter = self._ops.get(operation)
        if limiter is None:
            limiter = self._ops[operation] = OperationLimiter(margin_s=self.margin_s)
        return limiter
