"""Tunable knobs of the client: concurrency, retry budget, timeouts, export polling."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ClientSettings:
    """Defaults suit a real account; tests shrink the waits.

    Transient faults (connection refused or dropped, DNS, timeouts, 5xx) are retried for
    max_retry_seconds, however many tries that takes, so an outage of a few minutes is
    ridden through. 429s that come with a server-advised wait are bounded by
    max_rate_limited_attempts (waiting for a rate window is expected, not a fault); answers
    that arrive but are unusable (a 2xx that is not JSON) by max_attempts.

    The first contact of a client (its `/auth`) with an endpoint this process has not
    reached yet gets first_contact_retry_seconds instead: a wrong endpoint, DNS name or
    key is a setup error that should end a run in seconds, not after an outage's budget.
    """

    max_concurrency: int = 16
    max_attempts: int = 8
    max_rate_limited_attempts: int = 30
    max_retry_seconds: float = 300.0
    first_contact_retry_seconds: float = 10.0
    timeout_s: float = 60.0
    connect_timeout_s: float = 10.0
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    token_timeout_s: int = 86400
    token_refresh_fraction: float = 0.8
    rate_limit: bool = True
    rate_limit_margin_s: float = 0.05
    export_poll_initial_s: float = 0.2  # growing 1.25x per poll (see `polling`)
    export_poll_max_s: float = 10.0
    export_timeout_s: float = 1800.0
    # Exports expected to hold at most this many rows ask for the file at once (export_mode=sync:
    # no polling); bigger or unknown ones run async, as the API advises for big files. 0: never sync.
    export_sync_max_rows: int = 200_000
    user_agent: str = "soracom-lake/0.1 (+httpx)"

    def __post_init__(self) -> None:
        if self.max_concurrency < 1:
            raise ValueError(f"max_concurrency must be >= 1, got {self.max_concurrency}")
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {self.max_attempts}")
        if not 60 <= self.token_timeout_s <= 172800:
            raise ValueError(
                f"token_timeout_s must be within 60..172800 (API limit), got {self.token_timeout_s}"
            )
        if not 0 < self.token_refresh_fraction < 1:
            raise ValueError(
                f"token_refresh_fraction must be within (0, 1), got {self.token_refresh_fraction}"
            )
        for name in (
            "max_retry_seconds",
            "first_contact_retry_seconds",
            "timeout_s",
            "connect_timeout_s",
            "export_timeout_s",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.export_sync_max_rows < 0:
            raise ValueError(f"export_sync_max_rows must be >= 0, got {self.export_sync_max_rows}")
