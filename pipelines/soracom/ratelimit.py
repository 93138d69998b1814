"""A client-side limiter per API operation that learns the server's limits.

Soracom limits calls per operator, per API, per minute and reports the state on every
answer (`X-Soracom-Ratelimit-Limit`, `-Remaining`, `-Seconds-Before-Refresh`). The
limiter keeps a local count of what is left in the current window, spends one unit per
request, and when nothing is left waits until the window refreshes instead of drawing
429s. Until an operation's first answer arrives it sends one request alone (a probe),
so even a tiny limit is not overrun by the first burst of a fan-out.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from .retry import parse_seconds

LIMIT_HEADER = "x-soracom-ratelimit-limit"
REMAINING_HEADER = "x-soracom-ratelimit-remaining"
REFRESH_HEADER = "x-soracom-ratelimit-seconds-before-refresh"

# A window is "new" when its refresh time moved later by more than this.
_NEW_WINDOW_SLACK_S = 0.5


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
    """Local view of one operation's rate window."""

    margin_s: float = 0.05
    limit: int | None = None
    remaining: float = 0.0
    reset_at: float | None = None
    unlimited: bool = False
    inflight: int = 0
    learned: bool = False
    _cond: asyncio.Condition = field(default_factory=asyncio.Condition)

    def _may_send(self, now: float) -> bool:
        if self.unlimited:
            return True
        if not self.learned:
            return self.inflight == 0  # probe alone
        if self.reset_at is not None and now >= self.reset_at:
            # The window refreshed: everything is available again except what is in flight.
            self.reset_at = None
            if self.limit is None:  # the limit was never told: probe again
                self.learned = False
                return self.inflight == 0
            self.remaining = float(self.limit) - self.inflight
        return self.remaining >= 1

    def _wait_hint(self, now: float) -> float | None:
        if self.learned and self.reset_at is not None:
            return max(0.0, self.reset_at - now)
        return None  # wait for an answer to arrive

    async def acquire(self) -> float:
        """Wait for permission to send one request; returns the seconds waited."""
        started = time.monotonic()
        async with self._cond:
            while True:
                now = time.monotonic()
                if self._may_send(now):
                    break
                hint = self._wait_hint(now)
                try:
                    await asyncio.wait_for(self._cond.wait(), timeout=hint if hint is not None else 5.0)
                except TimeoutError:
                    if hint is None and self.learned is False:
                        # The probe is taking long; keep waiting for it.
                        continue
            self.inflight += 1
            if self.learned and not self.unlimited:
                self.remaining -= 1
        return time.monotonic() - started

    async def release(self, headers: Mapping[str, str] | None, status: int | None) -> None:
        """Record the answer (or failure) of a request sent under `acquire`."""
        async with self._cond:
            self.inflight -= 1
            if headers is not None:
                self._learn(headers, status)
            self._cond.notify_all()

    def _learn(self, headers: Mapping[str, str], status: int | None) -> None:
        state = RateState.from_headers(headers)
        now = time.monotonic()
        if state is None:
            if status == 429:
                # Told off without details: hold back a second, then probe again.
                self.learned = True
                self.remaining = 0
                self.reset_at = now + 1.0
            elif not self.learned:
                self.unlimited = True
                self.learned = True
            return
        self.unlimited = False
        self.learned = True
        if state.limit is not None:
            self.limit = state.limit
        reset_at = now + (state.refresh_s if state.refresh_s is not None else 60.0) + self.margin_s
        if status == 429:
            self.remaining = 0
            self.reset_at = max(reset_at, self.reset_at or 0.0)
            return
        server_left = float(state.remaining if state.remaining is not None else (self.limit or 1))
        # Other requests in flight may not have reached the server yet: count them as spent.
        estimate = server_left - self.inflight
        if self.reset_at is None or reset_at > self.reset_at + _NEW_WINDOW_SLACK_S:
            self.remaining = estimate  # a new window started
            self.reset_at = reset_at
        else:
            # Same window: keep the lowest count and the latest refresh time (both safe sides).
            self.remaining = min(self.remaining, estimate)
            self.reset_at = max(self.reset_at, reset_at)


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
