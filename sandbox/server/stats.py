"""Counters of what the server did, for tests and benchmarks (`handle.stats`, `/_sandbox/stats`)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ServerStats:
    calls: Counter[str] = field(default_factory=Counter)  # answered /v1 calls by operationId
    statuses: Counter[int] = field(default_factory=Counter)  # answered /v1 calls by HTTP status
    rate_limited: int = 0  # 429s sent
    errors_injected: int = 0  # injected 500/502/503s
    drops_injected: int = 0  # connections dropped mid-body
    unauthorized: int = 0  # 401s sent
    tokens_issued: int = 0  # by /auth and generateAuthToken
    exports_created: int = 0
    export_sync_timeouts: int = 0  # sync exports answered 504 (file over export_sync_max_bytes)
    downloads: int = 0  # export files served
    bad_inputs: int = 0  # answers corrupted by the bad_input setting (sandbox/server/badinput.py)

    def snapshot(self) -> dict[str, Any]:
        return {
            "calls": dict(self.calls),
            "total_calls": sum(self.calls.values()),
            "statuses": {str(k): v for k, v in self.statuses.items()},
            "rate_limited": self.rate_limited,
            "errors_injected": self.errors_injected,
            "drops_injected": self.drops_injected,
            "unauthorized": self.unauthorized,
            "tokens_issued": self.tokens_issued,
            "exports_created": self.exports_created,
            "export_sync_timeouts": self.export_sync_timeouts,
            "downloads": self.downloads,
            "bad_inputs": self.bad_inputs,
        }

    def reset(self) -> None:
        fresh = ServerStats()
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(fresh, name))
