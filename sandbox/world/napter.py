"""Napter audit log: remote-access connections to a few SIMs, only while they are online."""

from __future__ import annotations

from typing import Any

import numpy as np

from sandbox.world.hashing import hash64, uniform, uuid_from
from sandbox.world.inventory import Inventory
from sandbox.world.sessions import Sessions

_S = 700
PORTS = (22, 80, 443, 3389, 8080)
# scenario -> (event type, offset ms from the connection start)
SCENARIOS: tuple[tuple[tuple[str, int], ...], ...] = (
    (
        ("CREATED", 0),
        ("ACCESS", 4_000),
        ("CONNECTED", 4_600),
        ("CLOSED", 4_600 + 600_000),
        ("DELETED", 620_000),
    ),
    (("CREATED", 0), ("DENIED", 9_000), ("EXPIRED", 3_600_000)),
    (("CREATED", 0), ("ACCESS", 3_000), ("REFUSED", 3_400), ("EXPIRED", 3_600_000)),
)


def audit_logs(
    inv: Inventory, s: Sessions, operator_id: str, from_ms: int, to_ms: int, now_ms: int
) -> list[dict[str, Any]]:
    """NapterAuditLogEntry dicts of these sessions' connections, from_ms <= createdAt < min(to, now)."""
    hi = min(to_ms, now_ms)
    s = s.take(inv.napter[s.sim] & ((s.end_ms - s.start_ms) > 120_000))
    out: list[dict[str, Any]] = []
    for k in range(len(s)):
        sim, window, j = int(s.sim[k]), int(s.window[k]), int(s.j[k])
        for c in range(2):
            u = uniform(inv.seed, _S, sim, window, j, c, np.arange(6))
            if u[0] >= (0.6 if c == 0 else 0.25):
                continue
            start = int(s.start_ms[k]) + int(
                (int(s.end_ms[k]) - int(s.start_ms[k])) * (0.1 + 0.8 * float(u[1]))
            )
            scenario = SCENARIOS[0 if u[2] < 0.7 else (1 if u[2] < 0.85 else 2)]
            port = PORTS[int(u[3] * len(PORTS))]
            h = int(hash64(inv.seed, _S + 1, sim, window, j, c))
            direction = {
                "sourceIPAddress": f"203.0.113.{1 + h % 254}",
                "sourcePort": 49152 + (h >> 8) % 16384,
                "destinationIPAddress": f"54.250.{(h >> 24) % 256}.{1 + (h >> 32) % 254}",
                "destinationPort": port,
            }
            conn = uuid_from(h)
            for kind, offset in scenario:
                t = start + offset
                if from_ms <= t < hi:
                    out.append(
                        {
                            "createdAt": t,
                            "type": kind,
                            "connectionId": conn,
                            "operatorId": operator_id,
                            "imsi": inv.imsi[int(s.slot[k])][sim],
                            "tls": port == 443 or float(u[4]) < 0.2,
                            "direction": dict(direction),
                        }
                    )
    out.sort(key=lambda e: (e["createdAt"], e["connectionId"], e["type"]), reverse=True)
    return out
