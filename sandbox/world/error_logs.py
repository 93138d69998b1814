"""Error logs (`GET /logs`, `LogEntry`): what Beam, Funnel, Funk, Harvest and Unified Endpoint
report when a SIM's data cannot be delivered, a few per SIM and week.

A pure function of (seed, SIM, UTC day, slot): any window can be answered without state,
and the tests' ground truth is this same function.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sandbox.world.hashing import hash64, uniform

_S = 900
DAY_MS = 86_400_000
SLOTS = 2  # at most two entries per SIM and day
RATE = 0.06  # chance of each slot holding an entry
KEPT_DAYS = 30  # the console's error logs page shows the last 30 days

# service -> (log level, message, error code)
MESSAGES: tuple[tuple[str, str, str, str], ...] = (
    ("Beam", "error", "Failed to forward the request: the destination answered 503", "BEM0001"),
    ("Funnel", "error", "Failed to put the record to the destination: AccessDenied", "FNL0002"),
    ("Funk", "warning", "The function took longer than its timeout (10 s)", "FNK0003"),
    ("Harvest", "warning", "The payload is larger than the allowed 16 KiB and was dropped", "HRV0004"),
    ("Unified", "error", "No destination configured for this SIM's group", "UNE0005"),
    ("Air", "info", "The SIM attached on a network its group's configuration does not allow", "AIR0006"),
)


def error_logs(world: Any, coverage: str, from_ms: int, to_ms: int) -> list[dict[str, Any]]:
    """LogEntry dicts of the coverage's SIMs with from_ms <= time < min(to_ms, now), newest first."""
    inv = world.inv
    hi = min(to_ms, world.now_ms)
    if from_ms >= hi:
        return []
    sims = [int(i) for i in inv.index_in(coverage)]
    out: list[dict[str, Any]] = []
    for day in range(from_ms // DAY_MS, (hi - 1) // DAY_MS + 1):
        for sim in sims:
            for slot in range(SLOTS):
                u = uniform(inv.seed, _S, sim, day, slot, np.arange(3))
                if float(u[0]) >= RATE:
                    continue
                t = day * DAY_MS + int(float(u[1]) * DAY_MS)
                if not from_ms <= t < hi or t < int(inv.created_ms[sim]):
                    continue
                service, level, message, code = MESSAGES[int(float(u[2]) * len(MESSAGES))]
                h = int(hash64(inv.seed, _S + 1, sim, day, slot))
                out.append(
                    {
                        "time": t,
                        "operatorId": world.operator_id,
                        "resourceType": "Subscriber",
                        "resourceId": inv.imsi[0][sim],
                        "service": service,
                        "logLevel": level,
                        "body": {"message": message, "code": code, "requestId": f"{h:016x}"},
                    }
                )
    out.sort(key=lambda e: (-e["time"], e["resourceId"]))
    return out
