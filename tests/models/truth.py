"""Expected mart values computed in plain Python from the sandbox World (never from the SQL).

Each function takes the World and the windows the lake was filled with (testkit/world_lake.py)
and returns dicts keyed like the mart's grain.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sandbox.world import World
from sandbox.world.pricing import ITEM_NAMES

DAY_MS = 86_400_000


def day_of_ms(ms: int) -> date:
    return datetime.fromtimestamp(ms // 1000, UTC).date()


def ms_of_day(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)


def yyyymmdd(day: date) -> str:
    return day.strftime("%Y%m%d")


def imsi_to_sim(world: World, coverage: str) -> dict[str, str]:
    found = {}
    for sim in world.sims(list(world.sim_ids(coverage))):
        for profile in (sim.get("profiles") or {}).values():
            for imsi in profile.get("subscribers") or {}:
                found[imsi] = sim["simId"]
    return found


def sims_by_id(world: World, coverage: str) -> dict[str, dict[str, Any]]:
    return {s["simId"]: s for s in world.sims(list(world.sim_ids(coverage)))}


def group_names(world: World, coverage: str) -> dict[str, str | None]:
    return {g["groupId"]: (g.get("tags") or {}).get("name") for g in world.groups(coverage)}


# --- traffic ---------------------------------------------------------------------------------------


def usage_rows(world: World, coverage: str, day: date) -> list[dict[str, Any]]:
    start = ms_of_day(day) // 1000
    return [
        r for r in world.air_usage_rows(coverage, "day", start, start + 86_399) if r["date"] == yyyymmdd(day)
    ]


def daily_traffic(
    world: World, coverage: str, days: Iterable[date]
) -> dict[tuple[str, date], dict[str, Any]]:
    """(sim_id, day) -> totals and per-speed-class bytes."""
    sim_of = imsi_to_sim(world, coverage)
    out: dict[tuple[str, date], dict[str, Any]] = {}
    for day in days:
        for r in usage_rows(world, coverage, day):
            entry = out.setdefault(
                (sim_of[r["imsi"]], day),
                {
                    "upload_bytes": 0,
                    "download_bytes": 0,
                    "upload_packets": 0,
                    "download_packets": 0,
                    "by_class": {},
                },
            )
            up, down = int(r["uploadByteSizeTotal"]), int(r["downloadByteSizeTotal"])
            entry["upload_bytes"] += up
            entry["download_bytes"] += down
            entry["upload_packets"] += int(r["uploadPacketCountTotal"])
            entry["download_packets"] += int(r["downloadPacketCountTotal"])
            by_class = entry["by_class"].setdefault(r["type"], 0)
            entry["by_class"][r["type"]] = by_class + up + down
    return out


# --- sessions ---------------------------------------------------------------------------------------


def cell_id(cell: dict[str, Any] | None) -> str | None:
    if not cell:
        return None
    parts = [
        cell.get("mcc"),
        cell.get("mnc"),
        cell.get("tac") if cell.get("tac") is not None else cell.get("lac"),
        cell.get("eci") if cell.get("eci") is not None else cell.get("ci"),
    ]
    text = "-".join(str(p) for p in parts if p is not None)
    return text or None


def session_days(world: World, coverage: str, start_ms: int, end_ms: int) -> dict[tuple[str, date], dict]:
    """(sim_id, day) -> online_ms, cells, sessions_started, by the rule documented in
    sql/staging/stg_session_segments.sql, over the events of [start_ms, end_ms)."""
    events = world.all_session_events(coverage, start_ms, end_ms)
    sessions: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for e in events:
        sessions[(e["simId"], e["sessionId"])].append(e)
    per_sim: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for (sim_id, session_id), evs in sessions.items():
        created = [e["time"] for e in evs if e["event"] == "Created"]
        stamped = [int(e["createdTime"]) for e in evs if str(e.get("createdTime") or "").isdigit()]
        deleted = [e["time"] for e in evs if e["event"] == "Deleted"]
        start = min(created) if created else (min(stamped) if stamped else min(e["time"] for e in evs))
        first = min(evs, key=lambda e: e["time"])
        starts = sorted(
            (e["time"], cell_id(e.get("cell")) or "") for e in evs if e["event"] in ("Created", "Modified")
        ) or [(start, cell_id(first.get("cell")) or "")]
        per_sim[sim_id].append(
            {"id": session_id, "start": start, "deleted": max(deleted) if deleted else None, "starts": starts}
        )
    out: dict[tuple[str, date], dict] = defaultdict(lambda: {"online_ms": 0, "cells": set(), "started": 0})
    for sim_id, items in per_sim.items():
        items.sort(key=lambda s: (s["start"], s["id"]))
        for k, s in enumerate(items):
            following = items[k + 1]["start"] if k + 1 < len(items) else None
            if s["deleted"] is not None:
                end = min(s["deleted"], following) if following is not None else s["deleted"]
            else:
                end = following if following is not None else end_ms
            for i, (at, cell) in enumerate(s["starts"]):
                seg_start = s["start"] if i == 0 else max(at, s["start"])
                seg_end = min(s["starts"][i + 1][0] if i + 1 < len(s["starts"]) else end, end)
                if seg_end <= seg_start:
                    continue
                for d in range(seg_start // DAY_MS, (seg_end - 1) // DAY_MS + 1):
                    lo, hi = max(seg_start, d * DAY_MS), min(seg_end, (d + 1) * DAY_MS)
                    entry = out[(sim_id, day_of_ms(d * DAY_MS))]
                    entry["online_ms"] += hi - lo
                    if cell:
                        entry["cells"].add(cell)
    for e in events:
        if e["event"] == "Created":
            out[(e["simId"], day_of_ms(e["time"]))]["started"] += 1
    return dict(out)


def true_online_ms(world: World, sim_id: str, day: date) -> int:
    start = ms_of_day(day)
    return sum(b - a for a, b in world.online_intervals(sim_id, start, start + DAY_MS))


# --- billing ----------------------------------------------------------------------------------------


def category(row: dict[str, Any]) -> str:
    """The cost category of a sandbox line, from the item names the sandbox prints per coverage."""
    name = row["billItemName"]
    for names in ITEM_NAMES.values():
        if row.get("imsi") and name.startswith(names["data"].split(" (")[0]):
            return "data"
        if name.startswith(names["basic"].split(" (")[0]):
            return "basic_fee"
    return "other"


def sim_month_costs(world: World, coverage: str, yyyymm: str) -> dict[str, dict[str, Decimal]]:
    """sim_id -> basic_fee, data, other, total, data_bytes for one billing month (SIM lines only)."""
    sim_of = imsi_to_sim(world, coverage)
    out: dict[str, dict[str, Decimal]] = {}
    for row in world.billing_rows(coverage, yyyymm):
        if not row.get("imsi"):
            continue
        entry = out.setdefault(
            sim_of[row["imsi"]],
            {
                "basic_fee": Decimal(0),
                "data": Decimal(0),
                "other": Decimal(0),
                "total": Decimal(0),
                "bytes": 0,
            },
        )
        amount = Decimal(row["amount"])
        entry[category(row)] += amount
        entry["total"] += amount
        if category(row) == "data":
            entry["bytes"] += int(row["quantity"])
    return out


def non_sim_total(world: World, coverage: str, yyyymm: str) -> Decimal:
    return sum(
        (Decimal(r["amount"]) for r in world.billing_rows(coverage, yyyymm) if not r.get("imsi")), Decimal(0)
    )


def idle_sims(world: World, coverage: str, first: date, last: date) -> dict[str, Decimal]:
    """SIMs charged within [first, last] (daily lines in it, monthly lines of its months) with no traffic."""
    sim_of = imsi_to_sim(world, coverage)
    months = sorted({(first + timedelta(days=n)).strftime("%Y%m") for n in range((last - first).days + 1)})
    charges: dict[str, Decimal] = defaultdict(Decimal)
    for yyyymm in months:
        for row in world.billing_rows(coverage, yyyymm):
            if not row.get("imsi"):
                continue
            text = str(row["date"])
            in_window = len(text) == 6 or first <= datetime.strptime(text, "%Y%m%d").date() <= last
            if in_window:
                charges[sim_of[row["imsi"]]] += Decimal(row["amount"])
    busy = set()
    day = first
    while day <= last:
        for r in usage_rows(world, coverage, day):
            if int(r["uploadByteSizeTotal"]) + int(r["downloadByteSizeTotal"]) > 0:
                busy.add(sim_of[r["imsi"]])
        day += timedelta(days=1)
    return {sim: amount for sim, amount in charges.items() if amount > 0 and sim not in busy}


def anomalies(
    daily_totals: dict[tuple[str, date], int],
    days: list[date],
    trailing: int,
    min_history: int,
    factor: float,
    floor: int,
) -> set[tuple[str, date]]:
    """The rule of sql/marts/traffic_anomalies.sql over (sim, day) -> bytes on the loaded `days`."""
    sims = {sim for sim, _ in daily_totals}
    found = set()
    for sim in sims:
        for day in days:
            total = daily_totals.get((sim, day), 0)
            if total <= 0:
                continue
            history = [
                daily_totals.get((sim, d), 0) for d in days if day - timedelta(days=trailing) <= d < day
            ]
            if len(history) < min_history:
                continue
            if total > factor * max(statistics.median(history), floor):
                found.add((sim, day))
    return found
