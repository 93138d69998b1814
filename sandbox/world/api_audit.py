"""API audit log: generated background entries plus the calls the server records.

Spelling quirk: about one generated entry in four uses the official example's shape
(`requestedTimeEpocMs` plus `statusCode`); the rest use the schema's `requestedTimeEpochMs`
without `statusCode`. Recorded entries are kept exactly as the server hands them over.
Use `entry_time_ms` to read either spelling.
"""

from __future__ import annotations

from threading import Lock
from typing import Any

import numpy as np

from sandbox.world.hashing import uniform

HOUR_MS = 3_600_000
USERS = ("SORACOMAPI", "root", "ops-bot", "billing-reader", "lake-loader")
IPS = ("203.0.113.10", "203.0.113.77", "198.51.100.23", "192.0.2.5")
# (apiKind, requestPath, weight)
CALLS = (
    ("/v1/auth", "/v1/auth", 0.55),
    ("/v1/sims", "/v1/sims", 0.15),
    ("/v1/bills", "/v1/bills/latest", 0.08),
    ("/v1/stats/air", "/v1/stats/air/operators/{op}", 0.07),
    ("/v1/data", "/v1/data/resources", 0.05),
    ("/v1/groups", "/v1/groups", 0.05),
    ("/v1/query", "/v1/query/sims", 0.05),
)
QUIRK_SHARE = 0.25
_S = 800


def entry_time_ms(entry: dict[str, Any]) -> int:
    """Request time of an entry under either spelling."""
    value = entry.get("requestedTimeEpochMs", entry.get("requestedTimeEpocMs"))
    if value is None:
        raise ValueError("an API audit entry needs requestedTimeEpochMs (or requestedTimeEpocMs)")
    return int(value)


def generated_hour(seed: int, cov_index: int, hour: int, operator_id: str) -> list[dict[str, Any]]:
    """Background entries of one coverage for one hour (hour = epoch ms // 3600000)."""
    count = 3 + int(uniform(seed, _S, cov_index, hour) * 18)
    u = uniform(seed, _S + 1, cov_index, hour, np.arange(count)[:, None], np.arange(5)[None, :])
    weights = np.cumsum([w for _, _, w in CALLS])
    out = []
    for k in range(count):
        kind, path, _ = CALLS[min(int(np.searchsorted(weights, u[k, 0] * weights[-1])), len(CALLS) - 1)]
        failed = kind == "/v1/auth" and u[k, 1] < 0.12
        status = 401 if failed else (429 if u[k, 1] > 0.985 else 200)
        t = hour * HOUR_MS + int(u[k, 2] * HOUR_MS)
        entry: dict[str, Any] = {
            "apiKind": kind,
            "operatorId": operator_id,
            "remoteIpAddress": IPS[int(u[k, 3] * len(IPS))],
            "requestPath": path.replace("{op}", operator_id),
            "userName": USERS[int(u[k, 4] * len(USERS))],
        }
        if (u[k, 4] * len(USERS)) % 1 < QUIRK_SHARE:
            entry["requestedTimeEpocMs"] = t
            entry["statusCode"] = status
        else:
            entry["requestedTimeEpochMs"] = t
        out.append(entry)
    return out


class ApiAuditLog:
    """Generated entries (before now) merged with entries recorded by the server (any time)."""

    def __init__(self, seed: int, operator_id: str, coverages: tuple[str, ...], now_ms: int) -> None:
        self.seed = seed
        self.operator_id = operator_id
        self.coverages = coverages
        self.now_ms = now_ms
        self._recorded: dict[str, list[dict[str, Any]]] = {c: [] for c in coverages}
        self._lock = Lock()

    def record(self, coverage: str, entry: dict[str, Any]) -> None:
        entry_time_ms(entry)  # validates
        with self._lock:
            self._recorded[coverage].append(dict(entry))

    def carry_over(self, earlier: ApiAuditLog) -> None:
        """Keep the calls an earlier log (the same world at an earlier `now`) recorded."""
        with earlier._lock, self._lock:
            for coverage, entries in earlier._recorded.items():
                self._recorded[coverage].extend(entries)

    def entries(self, coverage: str, from_ms: int, to_ms: int) -> list[dict[str, Any]]:
        cov_index = self.coverages.index(coverage)
        hi = min(to_ms, self.now_ms)
        out: list[dict[str, Any]] = []
        for hour in range(from_ms // HOUR_MS, (hi - 1) // HOUR_MS + 1) if hi > from_ms else ():
            out.extend(
                e
                for e in generated_hour(self.seed, cov_index, hour, self.operator_id)
                if from_ms <= entry_time_ms(e) < hi
            )
        with self._lock:
            out.extend(dict(e) for e in self._recorded[coverage] if from_ms <= entry_time_ms(e) < to_ms)
        out.sort(key=entry_time_ms, reverse=True)
        return out
