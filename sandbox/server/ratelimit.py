"""Per-operator, per-API, per-minute rate limiting.

Fixed windows of 60 s (Soracom's minute; a test may shorten them, `rate_limit_window_s`),
one per key `(operator or client address, operationId)`, each
starting at the first call counted in it (not at the wall-clock minute), so a test
that makes N+1 quick calls sees exactly one 429 whatever second it starts in. Every
answer carries `X-Soracom-Ratelimit-Limit`, `-Remaining` and `-Seconds-Before-Refresh`;
a 429 adds `Retry-After`. Calls refused with 429 do not count.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

WINDOW_S = 60.0


@dataclass
class Window:
    started: float
    used: int


@dataclass
class Decision:
    allowed: bool
    limit: int
    remaining: int
    seconds_before_refresh: int

    def headers(self) -> dict[str, str]:
        headers = {
            "X-Soracom-Ratelimit-Limit": str(self.limit),
            "X-Soracom-Ratelimit-Remaining": str(self.remaining),
            "X-Soracom-Ratelimit-Seconds-Before-Refresh": str(self.seconds_before_refresh),
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.seconds_before_refresh)
        return headers


class RateLimiter:
    """Fixed-window counters; `check(key, limit)` counts the call if it is allowed."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._windows: dict[tuple[str, str], Window] = {}
        self._clock = clock

    def _window(self, key: tuple[str, str], now: float, length: float) -> Window:
        window = self._windows.get(key)
        if window is None or now - window.started >= length:
            window = Window(started=now, used=0)
            self._windows[key] = window
        return window

    def check(
        self, key: tuple[str, str], limit: int, count: bool = True, window_s: float = WINDOW_S
    ) -> Decision:
        now = self._clock()
        window = self._window(key, now, window_s)
        # From the time elapsed (exact for close floats), not `started + window_s - now`: that sum
        # rounds, and a window's first call got 61 s of a 60-s window at some clock values.
        refresh = max(1, math.ceil(window_s - (now - window.started)))
        if window.used >= limit:
            return Decision(False, limit, 0, refresh)
        if count:
            window.used += 1
        return Decision(True, limit, max(0, limit - window.used), refresh)

    def reset(self) -> None:
        self._windows.clear()
