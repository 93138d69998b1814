"""Sim, Subscriber and Group dicts as of `now` (exact OpenAPI shapes)."""

from __future__ import annotations

from typing import Any

import numpy as np

from sandbox.world.events import APN, SessionDetails
from sandbox.world.inventory import GROUP_NAMES, Inventory
from sandbox.world.sessions import Sessions
from sandbox.world.timeutil import DAY_MS

CAPABILITIES = {"data": True, "sms": True}


def _last_modified(inv: Inventory, i: int, now_ms: int) -> int:
    times = [int(inv.created_ms[i])] + [
        int(t) for t in (inv.activated_ms[i], inv.change_ms[i], inv.sc_change_ms[i]) if t < now_ms
    ]
    return max(times)


def _subscriber_status(sim_status: str) -> str:
    return sim_status if sim_status in ("ready", "terminated") else "active"


def sim_dict(
    inv: Inventory,
    details: SessionDetails,
    i: int,
    now_ms: int,
    started: Sessions,
    deleted: Sessions,
    row: int,
) -> dict[str, Any]:
    status = inv.status_at(i, now_ms)
    iccid = inv.iccid[i]
    subscribers = {
        imsi: {
            "imsi": imsi,
            "msisdn": inv.msisdn[slot][i],
            "status": _subscriber_status(status),
            "subscription": details.subscription(i, slot),
            "bundles": [],
            "capabilities": dict(CAPABILITIES),
        }
        for slot, imsi in enumerate(inv.imsis_of(i))
    }
    session_status, previous = details.session_status(started, deleted, row, now_ms, int(inv.created_ms[i]))
    sim: dict[str, Any] = {
        "simId": inv.sim_id[i],
        "operatorId": details.operator_id,
        "type": "uicc",
        "moduleType": "nano" if i % 5 else "embedded",
        "status": status,
        "speedClass": inv.speed_class_at(i, now_ms),
        "tags": inv.tags(i),
        "createdTime": int(inv.created_ms[i]),
        "lastModifiedTime": _last_modified(inv, i, now_ms),
        "activeProfileId": iccid,
        "profiles": {
            iccid: {
                "iccid": iccid,
                "primaryImsi": inv.imsi[0][i],
                "otaSupported": False,
                "subscribers": subscribers,
            }
        },
        "capabilities": dict(CAPABILITIES),
        "terminationEnabled": status == "terminated",
        "sessionStatus": session_status,
    }
    group_id = inv.group_id(i)
    if group_id is not None:
        sim["groupId"] = group_id
    if previous is not None:
        sim["previousSession"] = previous
    return sim


def subscriber_dict(sim: dict[str, Any], imsi: str) -> dict[str, Any]:
    """Subscriber view of one IMSI of a Sim dict (the legacy /subscribers shape)."""
    profile = sim["profiles"][sim["activeProfileId"]]
    sub = profile["subscribers"][imsi]
    out: dict[str, Any] = {
        "imsi": imsi,
        "msisdn": sub["msisdn"],
        "simId": sim["simId"],
        "iccid": profile["iccid"],
        "operatorId": sim["operatorId"],
        "status": sim["status"],
        "speedClass": sim["speedClass"],
        "subscription": sub["subscription"],
        "type": sim["speedClass"],
        "apn": APN,
        "moduleType": sim["moduleType"],
        "tags": sim["tags"],
        "createdAt": sim["createdTime"],
        "createdTime": sim["createdTime"],
        "lastModifiedAt": sim["lastModifiedTime"],
        "lastModifiedTime": sim["lastModifiedTime"],
        "terminationEnabled": sim["terminationEnabled"],
        "bundles": [],
        "sessionStatus": sim["sessionStatus"],
    }
    if "groupId" in sim:
        out["groupId"] = sim["groupId"]
    if "previousSession" in sim:
        out["previousSession"] = sim["previousSession"]
    if sim["sessionStatus"].get("online"):
        out["ipAddress"] = sim["sessionStatus"]["ueIpAddress"]
    return out


def group_dicts(inv: Inventory, coverage: str, operator_id: str) -> list[dict[str, Any]]:
    """Groups of a coverage, sorted by groupId (as /groups lists them)."""
    base = inv.anchor_ms - 800 * DAY_MS
    out = [
        {
            "groupId": gid,
            "operatorId": operator_id,
            "createdTime": base + g * 9 * DAY_MS,
            "lastModifiedTime": base + g * 9 * DAY_MS + int(np.int64(g) * 3_600_000),
            "configuration": {"SoracomAir": {"useCustomDns": False}},
            "tags": {"name": GROUP_NAMES[g]},
        }
        for g, gid in enumerate(inv.group_ids[coverage])
    ]
    return sorted(out, key=lambda d: d["groupId"])
