"""Counters of what a client did: calls, retries, faults seen, bytes, auths.

They hold operation names and numbers only, never URLs with queries or secrets.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ClientStats:
    calls_by_operation: Counter[str] = field(default_factory=Counter)
    pages_by_operation: Counter[str] = field(default_factory=Counter)
    retries: int = 0
    retries_by_reason: Counter[str] = field(default_factory=Counter)
    http_429: int = 0
    http_5xx: int = 0
    transport_errors: int = 0
    invalid_json: int = 0
    bytes_received: int = 0
    auths: int = 0
    token_refreshes: int = 0
    unauthorized_replays: int = 0
    rate_limit_wait_s: float = 0.0
    exports: int = 0
    exports_sync: int = 0  # exports answered with the file's URL at once (export_mode=sync)
    export_sync_fallbacks: int = 0  # sync exports that failed or timed out and ran async instead
    export_bytes: int = 0

    @property
    def calls(self) -> int:
        """HTTP requests sent to the API (every attempt counts)."""
        return sum(self.calls_by_operation.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "calls_by_operation": dict(self.calls_by_operation),
            "pages_by_operation": dict(self.pages_by_operation),
            "retries": self.retries,
            "retries_by_reason": dict(self.retries_by_reason),
            "http_429": self.http_429,
            "http_5xx": self.http_5xx,
            "transport_errors": self.transport_errors,
            "invalid_json": self.invalid_json,
            "bytes_received": self.bytes_received,
            "auths": self.auths,
            "token_refreshes": self.token_refreshes,
            "unauthorized_replays": self.unauthorized_replays,
            "rate_limit_wait_s": round(self.rate_limit_wait_s, 3),
            "exports": self.exports,
            "exports_sync": self.exports_sync,
            "export_sync_fallbacks": self.export_sync_fallbacks,
            "export_bytes": self.export_bytes,
        }
