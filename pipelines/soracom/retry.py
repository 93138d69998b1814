"""When and how long to wait before trying a call again.

Exponential backoff with full jitter for faults, and the server's own advice
(`Retry-After`, `X-Soracom-Ratelimit-Seconds-Before-Refresh`) when it gives one.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Literal

RATE_LIMIT_REFRESH_HEADER = "x-soracom-ratelimit-seconds-before-refresh"


def is_retryable_status(status: int) -> bool:
    return status == 429 or status >= 500


def backoff_delay(attempt: int, base_s: float, max_s: float, rng: random.Random | None = None) -> float:
    """Full-jitter delay before retry number `attempt` (1-based): U(0, min(max, base * 2^(n-1)))."""
    ceiling = min(max_s, base_s * 2.0 ** min(max(attempt - 1, 0), 64))  # no overflow however long
    return (rng or random).uniform(0, ceiling)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def parse_seconds(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def server_advised_wait(headers: Mapping[str, str], status: int) -> float | None:
    """The wait the server asked for, if it asked.

    `Retry-After` counts on any status. `X-Soracom-Ratelimit-Seconds-Before-Refresh` comes
    with every answer, so it is advice only on a 429 (on a 5xx it would stall a retry
    for up to a minute for nothing).
    """
    waits = [parse_retry_after(headers.get("retry-after"))]
    if status == 429:
        waits.append(parse_seconds(headers.get(RATE_LIMIT_REFRESH_HEADER)))
    known = [w for w in waits if w is not None]
    return max(known) if known else None


FaultKind = Literal["transient", "rate_limited", "invalid_answer", "final"]


class RetryBudget:
    """How long one call may keep trying.

    Transient faults (no answer, a dropped connection, 5xx, a 429 without advice) are bounded by
    time only, `max_seconds`: an outage of a few minutes is ridden through, however many tries
    that takes. A 429 with a server-advised wait is bounded by `max_rate_limited` tries (waiting
    for a rate window is expected); an answer that arrives but is unusable (a 2xx that is not
    JSON) by `max_invalid` tries, since a server that answers garbage is not recovering.
    """

    def __init__(
        self,
        max_invalid: int,
        max_rate_limited: int,
        max_seconds: float,
        base_s: float,
        max_backoff_s: float,
    ) -> None:
        self.max_invalid = max_invalid
        self.max_rate_limited = max_rate_limited
        self.max_seconds = max_seconds
        self.base_s = base_s
        self.max_backoff_s = max_backoff_s
        self.started = time.monotonic()
        self.attempts = 0
        self.faults = 0
        self.invalid = 0
        self.rate_limited = 0

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def start_attempt(self) -> None:
        self.attempts += 1

    def next_delay(self, kind: FaultKind, advised_s: float | None = None) -> float | None:
        """Delay before the next attempt, or None when the budget is spent."""
        remaining = self.max_seconds - self.elapsed
        if kind == "final":  # waiting will not help (a first contact's host name does not exist)
            return None
        if kind == "rate_limited" and advised_s is not None:
            self.rate_limited += 1
            delay = advised_s + random.uniform(0, min(1.0, self.base_s))
            # Waiting past the deadline for a window would only end in giving up there.
            return delay if self.rate_limited < self.max_rate_limited and delay <= remaining else None
        self.faults += 1
        if kind == "invalid_answer":
            self.invalid += 1
            if self.invalid >= self.max_invalid:
                return None
        if remaining <= 0:
            return None
        delay = backoff_delay(self.faults, self.base_s, self.max_backoff_s)
        if advised_s is not None:
            delay = max(delay, advised_s)
        return min(delay, remaining)  # a last try at the deadline rather than none
