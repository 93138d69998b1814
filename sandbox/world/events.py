"""Session events and session status dicts (SessionEvent / SessionStatus / PreviousSessionStatus)."""

from __future__ import annotations

from typing import Any

import numpy as np

from sandbox.world import ids
from sandbox.world.hashing import hash64, uuid_from
from sandbox.world.inventory import RADIO_TYPES, Inventory
from sandbox.world.sessions import Sessions

APN = "soracom.io"
SUBSCRIPTION = {("jp", 0): "plan-D", ("jp", 1): "plan-K", ("g", 0): "plan01s", ("g", 1): "planX3"}
_S = 500


class SessionDetails:
    """Per-session attributes derived from (seed, SIM, window, j) on demand."""

    def __init__(self, inv: Inventory, operator_id: str) -> None:
        self.inv = inv
        self.operator_id = operator_id

    def session_id(self, sim: int, window: int, j: int) -> str:
        return uuid_from(int(hash64(self.inv.seed, _S, sim, window, j)))

    def ue_ip(self, sim: int, window: int, j: int) -> str:
        h = int(hash64(self.inv.seed, _S + 1, sim, window, j))
        return f"10.{(h >> 8) & 0xFF}.{(h >> 16) & 0xFF}.{1 + (h & 0xFF) % 254}"

    def cell(self, sim: int, window: int, j: int, moved: bool = False) -> dict[str, Any]:
        inv = self.inv
        shift = int(hash64(inv.seed, _S + 2, sim, window, j) % np.uint64(3)) + (7 if moved else 0)
        return {
            "mcc": int(inv.mcc[sim]),
            "mnc": int(inv.mnc[sim]),
            "tac": int(inv.tac[sim]),
            "eci": int(inv.eci[sim]) + shift,
            "radioType": RADIO_TYPES[int(inv.radio[sim])],
        }

    def subscription(self, sim: int, slot: int) -> str:
        return SUBSCRIPTION[(self.inv.coverage_of(sim), slot)]

    def common(self, s: Sessions, k: int) -> dict[str, Any]:
        """Fields shared by a session's events and its status."""
        sim, window, j, slot = int(s.sim[k]), int(s.window[k]), int(s.j[k]), int(s.slot[k])
        return {
            "imsi": self.inv.imsi[slot][sim],
            "sessionId": self.session_id(sim, window, j),
            "imei": ids.imei(self.inv.seed, sim),
            "ueIpAddress": self.ue_ip(sim, window, j),
            "cell": self.cell(sim, window, j),
            "subscription": self.subscription(sim, slot),
        }

    def events(self, s: Sessions, from_ms: int, to_ms: int, now_ms: int) -> list[dict[str, Any]]:
        """SessionEvent dicts with from_ms <= time < min(to_ms, now_ms), newest first."""
        hi = min(to_ms, now_ms)
        out: list[tuple[int, int, dict[str, Any]]] = []
        for k in range(len(s)):
            stamps = (
                ("Created", int(s.start_ms[k])),
                ("Modified", int(s.modified_ms[k])),
                ("Deleted", int(s.deleted_ms[k])),
            )
            wanted = [(name, t) for name, t in stamps if t >= 0 and from_ms <= t < hi]
            if not wanted:
                continue
            base = self.common(s, k)
            sim = int(s.sim[k])
            for order, (name, t) in enumerate(wanted):
                cell = (
                    self.cell(sim, int(s.window[k]), int(s.j[k]), moved=True)
                    if name == "Modified"
                    else base["cell"]
                )
                if name == "Deleted" and int(s.modified_ms[k]) >= 0:
                    cell = self.cell(sim, int(s.window[k]), int(s.j[k]), moved=True)
                out.append(
                    (
                        t,
                        order,
                        {
                            "time": t,
                            "event": name,
                            "operatorId": self.operator_id,
                            "simId": self.inv.sim_id[sim],
                            "imsi": base["imsi"],
                            "sessionId": base["sessionId"],
                            "imei": base["imei"],
                            "apn": APN,
                            "cell": cell,
                            "ueIpAddress": base["ueIpAddress"],
                            "subscription": base["subscription"],
                            "createdTime": str(int(s.start_ms[k])),
                        },
                    )
                )
        out.sort(key=lambda e: (e[0], e[1], e[2]["simId"]), reverse=True)
        return [e for _, _, e in out]

    def session_status(
        self, started: Sessions, deleted: Sessions, row: int, now_ms: int, created_ms: int
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """(sessionStatus, previousSession or None) of one SIM, consistent with its events."""
        online = int(started.j[row]) >= 0 and int(started.deleted_ms[row]) >= now_ms
        if online:
            base = self.common(started, row)
            mod = int(started.modified_ms[row])
            moved = 0 <= mod < now_ms
            if moved:
                base["cell"] = self.cell(
                    int(started.sim[row]), int(started.window[row]), int(started.j[row]), True
                )
            status: dict[str, Any] = {
                "online": True,
                "lastUpdatedAt": mod if moved else int(started.start_ms[row]),
                **base,
            }
        else:
            last = int(deleted.deleted_ms[row]) if int(deleted.j[row]) >= 0 else created_ms
            status = {"online": False, "lastUpdatedAt": last}
        previous = None
        if int(deleted.j[row]) >= 0:
            prev = self.common(deleted, row)
            if int(deleted.modified_ms[row]) >= 0:
                prev["cell"] = self.cell(
                    int(deleted.sim[row]), int(deleted.window[row]), int(deleted.j[row]), True
                )
            previous = {
                "createdTime": int(deleted.start_ms[row]),
                "deletedTime": int(deleted.deleted_ms[row]),
                **prev,
            }
        return status, previous
