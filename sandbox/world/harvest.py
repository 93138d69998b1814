"""Harvest Data: entries sent by some SIMs at a fixed period, only while a session is online.

Entry k of a session is at start + offset + k * period (offset < period) and before the session's
true end; its content is a function of (seed, SIM, time): JSON text, plain text, or
{"payload": "<base64>"} for binary senders, each well under 1 KB.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sandbox.world.hashing import hash64, uniform
from sandbox.world.inventory import HARVEST_KINDS, Inventory
from sandbox.world.sessions import Sessions
from sandbox.world.timeutil import DAY_MS

RESOURCE_TYPE = "Sim"
CONTENT_TYPES = {"json": "application/json", "text": "text/plain", "binary": "application/octet-stream"}
MAX_BYTES = 1024
_S = 600


def entry_times(inv: Inventory, s: Sessions, hi_ms: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(session row, time) of every entry of Harvest senders' sessions before hi_ms, sorted by time."""
    sender = inv.harvest_kind[s.sim] >= 0
    rows = np.flatnonzero(sender)
    period = inv.harvest_period_ms[s.sim[rows]]
    first = s.start_ms[rows] + (
        uniform(inv.seed, _S, s.sim[rows], s.window[rows], s.j[rows]) * period
    ).astype(np.int64)
    stop = np.minimum(s.end_ms[rows], hi_ms)
    count = np.maximum(0, -((first - stop) // period))  # ceil((stop - first) / period)
    rep = np.repeat(np.arange(len(rows)), count)
    k = np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count)
    times = first[rep] + k * period[rep]
    order = np.argsort(times, kind="stable")
    return rows[rep][order], times[order]


def last_entry_before(inv: Inventory, s: Sessions, hi_ms: int) -> dict[int, int]:
    """SIM index -> time of its last entry before hi_ms among these sessions."""
    rows, times = entry_times(inv, s, hi_ms)
    out: dict[int, int] = {}
    for sim, t in zip(s.sim[rows].tolist(), times.tolist(), strict=True):
        out[sim] = max(out.get(sim, 0), t)
    return out


def content(inv: Inventory, sim: int, t_ms: int) -> tuple[str, str]:
    """(contentType, content) of the entry a SIM sends at t_ms."""
    kind = HARVEST_KINDS[int(inv.harvest_kind[sim])]
    u = uniform(inv.seed, _S + 1, sim, t_ms, np.arange(4))
    if kind == "json":
        text = json.dumps(
            {
                "temperature": round(15 + 15 * float(u[0]), 2),
                "humidity": round(30 + 50 * float(u[1]), 1),
                "battery": round(3.0 + 1.2 * float(u[2]), 3),
                "seq": int(t_ms // 60_000 % 100_000),
            },
            separators=(",", ":"),
        )
    elif kind == "text":
        text = f"status=ok temp={15 + 15 * float(u[0]):.1f} rssi=-{60 + int(40 * float(u[1]))}"
    else:
        size = 8 + int(56 * float(u[3]))
        raw = b"".join(
            int(hash64(inv.seed, _S + 2, sim, t_ms, k)).to_bytes(8, "little") for k in range(size // 8)
        )
        text = json.dumps({"payload": base64.b64encode(raw).decode("ascii")}, separators=(",", ":"))
    assert len(text.encode("utf-8")) <= MAX_BYTES
    return CONTENT_TYPES[kind], text


def entries(
    inv: Inventory,
    s: Sessions,
    resource_type: str,
    resource_id: str,
    from_ms: int,
    to_ms: int,
    now_ms: int,
    sort: str,
) -> list[dict[str, Any]]:
    rows, times = entry_times(inv, s, min(to_ms, now_ms))
    keep = times >= from_ms
    out = []
    for row, t in zip(rows[keep].tolist(), times[keep].tolist(), strict=True):
        ctype, text = content(inv, int(s.sim[row]), t)
        out.append(
            {
                "resourceType": resource_type,
                "resourceId": resource_id,
                "time": t,
                "contentType": ctype,
                "content": text,
            }
        )
    if sort == "desc":
        out.reverse()
    return out


def lookback_windows(now_ms: int, days: int) -> range:
    """Window days to scan for 'last modified' lookups, newest first."""
    d = now_ms // DAY_MS
    return range(d, d - days - 1, -1)
