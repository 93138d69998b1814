"""Air stats (per SIM, operator, group) and the Air data usage export rows.

Window semantics follow the API: the unit (5-minute bucket, UTC day or month) containing
`from` through the unit containing `to`, both included; nothing at or after `now`. Units with
no traffic are omitted. Results are in ascending time order.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sandbox.world import traffic
from sandbox.world.activity import Activity, Usage
from sandbox.world.events import SUBSCRIPTION
from sandbox.world.pricing import SPEED_CLASSES
from sandbox.world.timeutil import (
    BUCKET_S,
    DAY_MS,
    DAY_S,
    fmt_minutes,
    month_days,
    month_of_day,
    month_start,
    to_ms,
    ymd,
    yyyymm,
)

PERIODS = ("minutes", "day", "month")
CSV_FIXED_COLUMNS = (
    "imsi",
    "date",
    "type",
    "uploadByteSizeTotal",
    "uploadPacketCountTotal",
    "downloadByteSizeTotal",
    "downloadPacketCountTotal",
)


def check_window(period: str, from_s: int, to_s: int, allowed: tuple[str, ...] = PERIODS) -> None:
    if period not in allowed:
        raise ValueError(f"period must be one of {', '.join(allowed)}, got {period!r}")
    if from_s > to_s:
        raise ValueError(f"from ({from_s}) must not be after to ({to_s}); both are UNIX seconds")


def unit_range_ms(period: str, from_s: int, to_s: int) -> tuple[int, int]:
    """[start, end) in ms of the units containing from_s .. to_s."""
    if period == "minutes":
        return from_s // BUCKET_S * BUCKET_S * 1000, (to_s // BUCKET_S + 1) * BUCKET_S * 1000
    if period == "day":
        return from_s // DAY_S * DAY_MS, (to_s // DAY_S + 1) * DAY_MS
    m0, m1 = month_of_day(from_s // DAY_S), month_of_day(to_s // DAY_S)
    return month_days(m0)[0] * DAY_MS, month_days(m1)[1] * DAY_MS


def unit_key(period: str, day_or_bucket_s: NDArray[np.int64]) -> NDArray[np.int64]:
    """Unit start (UNIX s) for day starts (day/month) or bucket starts (minutes)."""
    if period != "month":
        return day_or_bucket_s
    months = {
        d: to_ms(month_start(month_of_day(d // DAY_S))) // 1000 for d in np.unique(day_or_bucket_s).tolist()
    }
    return np.asarray([months[d] for d in day_or_bucket_s.tolist()], dtype=np.int64)


def date_text(period: str, unit_s: int) -> str:
    if period == "minutes":
        return fmt_minutes(unit_s)
    if period == "day":
        return ymd(unit_s // DAY_S)
    return yyyymm(month_of_day(unit_s // DAY_S))


def stats_map(values: NDArray[np.int64]) -> dict[str, int]:
    return {
        "uploadByteSizeTotal": int(values[0]),
        "uploadPacketSizeTotal": int(values[1]),
        "downloadByteSizeTotal": int(values[2]),
        "downloadPacketSizeTotal": int(values[3]),
    }


def sim_units(
    act: Activity, sim: int, period: str, from_s: int, to_s: int
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Per-SIM traffic split into units: (unit start s, slot, sc, (n,4) values), one row per piece."""
    lo, hi = unit_range_ms(period, from_s, to_s)
    hi = min(hi, act.now_ms)
    if lo >= hi:
        z = np.zeros(0, np.int64)
        return z, z, z, np.zeros((0, 4), np.int64)
    if period == "minutes":
        unit, values, s = act.sim_buckets(sim, lo, hi)
        return unit, s.slot, s.sc, values
    s = act.sessions_of(np.asarray([sim]), lo, hi)
    s, a, b = traffic.clip(s, lo, hi)
    midnight = (a // DAY_MS + 1) * DAY_MS
    cross = b > midnight  # sessions span at most two UTC days
    a2 = np.concatenate([a, midnight[cross]])
    b2 = np.concatenate([np.minimum(b, midnight), b[cross]])
    s2 = s.take(np.concatenate([np.arange(len(s)), np.flatnonzero(cross)]))
    values = traffic.traffic_between(act.inv.seed, s2, a2, b2)
    unit = unit_key(period, a2 // DAY_MS * DAY_S)
    return unit, s2.slot, s2.sc, values


def sim_stats(
    act: Activity, sim: int, period: str, from_s: int, to_s: int, slot: int | None = None
) -> list[dict[str, Any]]:
    """AirStatsResponse items of a SIM (or of one of its IMSI slots)."""
    unit, slots, sc, values = sim_units(act, sim, period, from_s, to_s)
    if slot is not None:
        mine = slots == slot
        unit, sc, values = unit[mine], sc[mine], values[mine]
    out = []
    for u in np.unique(unit).tolist():
        mask = unit == u
        per_sc: dict[str, NDArray[np.int64]] = {}
        for c in np.unique(sc[mask]).tolist():
            per_sc[SPEED_CLASSES[c]] = values[mask & (sc == c)].sum(axis=0)
        per_sc = {k: v for k, v in per_sc.items() if v.any()}
        if per_sc:
            out.append(
                {
                    "date": date_text(period, u),
                    "unixtime": int(u),
                    "dataTrafficStatsMap": {k: stats_map(v) for k, v in sorted(per_sc.items())},
                }
            )
    return out


def usage_units(
    act: Activity, period: str, from_s: int, to_s: int, sims: NDArray[np.int64] | None
) -> list[tuple[int, Usage]]:
    """(unit start s, usage of all SIMs or of `sims`) for day/month units with any time before now."""
    lo, hi = unit_range_ms(period, from_s, to_s)
    hi = min(hi, act.now_ms)
    out: list[tuple[int, Usage]] = []
    if lo >= hi:
        return out
    if period == "day":
        units = [(d * DAY_S, act.day_usage(d)) for d in range(lo // DAY_MS, (hi - 1) // DAY_MS + 1)]
    else:
        m0, m1 = month_of_day(lo // DAY_MS), month_of_day((hi - 1) // DAY_MS)
        units = [(to_ms(month_start(m)) // 1000, act.month_usage(m)) for m in range(m0, m1 + 1)]
    for unit, usage in units:
        out.append((unit, usage if sims is None else usage.take(np.isin(usage.sim, sims))))
    return out


def aggregated_stats(
    act: Activity, period: str, from_s: int, to_s: int, sims: NDArray[np.int64]
) -> list[dict[str, Any]]:
    """AirAggregatedStatsResponse items (operator or group): sums over the given SIMs."""
    check_window(period, from_s, to_s, ("day", "month"))
    out = []
    for unit, usage in usage_units(act, period, from_s, to_s, sims):
        if len(usage.sim):
            total = usage.values.sum(axis=0)
            out.append(
                {
                    "unixtime": int(unit),
                    "uploadByteSizeTotal": int(total[0]),
                    "downloadByteSizeTotal": int(total[2]),
                }
            )
    return out


def usage_rows(
    act: Activity, period: str, from_s: int, to_s: int, sims: NDArray[np.int64]
) -> list[dict[str, Any]]:
    """Air data usage export rows for the given SIMs (incl. terminated), sorted by date, imsi, type."""
    return list(iter_usage_rows(act, period, from_s, to_s, sims))


# The export's `type` column: the speed class on jp; on g the subscription of the IMSI (the
# audit found e.g. `plan01s` there), so on g an IMSI's rows merge across speed classes.
G_EXPORT_TYPES: tuple[str, ...] = (SUBSCRIPTION[("g", 0)], SUBSCRIPTION[("g", 1)])


def is_global(inv: Any, sims: NDArray[np.int64]) -> bool:
    """True if `sims` (one coverage, as every export is) are of coverage g."""
    return len(sims) > 0 and inv.coverage_of(int(sims[0])) == "g"


def by_export_type(usage: Usage, global_coverage: bool) -> tuple[Usage, tuple[str, ...]]:
    """Usage keyed by the export's `type` code, and the labels of the codes."""
    if not global_coverage:
        return usage, SPEED_CLASSES
    return Usage.aggregate(usage.sim, usage.slot, usage.slot.copy(), usage.values), G_EXPORT_TYPES


def iter_usage_rows(
    act: Activity, period: str, from_s: int, to_s: int, sims: NDArray[np.int64]
) -> Iterator[dict[str, Any]]:
    """The rows of `usage_rows`, one unit (bucket/day/month) at a time, so a CSV can stream them."""
    inv = act.inv
    tag_keys = inv.tag_keys()
    if period == "minutes":
        lo, hi = unit_range_ms(period, from_s, to_s)
        s = act.sessions_all(lo, min(hi, act.now_ms)) if len(sims) > 50 else act.sessions_of(sims, lo, hi)
        s = s.take(np.isin(s.sim, sims))
        bucket, values, s_rep = traffic.buckets(inv.seed, s, lo, min(hi, act.now_ms))
        parts = []
        for b in np.unique(bucket).tolist():
            m = bucket == b
            parts.append((b, Usage.aggregate(s_rep.sim[m], s_rep.slot[m], s_rep.sc[m], values[m])))
    else:
        parts = usage_units(act, period, from_s, to_s, sims)
    tag_cache: dict[int, dict[str, str]] = {}
    global_coverage = is_global(inv, sims)
    for unit, unit_usage in parts:
        usage, labels = by_export_type(unit_usage, global_coverage)
        date = date_text(period, unit)
        rows = []
        for k in range(len(usage.sim)):
            i = int(usage.sim[k])
            if i not in tag_cache:
                tag_cache[i] = inv.tags(i)
            v = usage.values[k]
            row = {
                "imsi": inv.imsi[int(usage.slot[k])][i],
                "date": date,
                "type": labels[int(usage.sc[k])],
                "uploadByteSizeTotal": int(v[0]),
                "uploadPacketCountTotal": int(v[1]),
                "downloadByteSizeTotal": int(v[2]),
                "downloadPacketCountTotal": int(v[3]),
            }
            row.update({key: tag_cache[i].get(key, "") for key in tag_keys})
            rows.append(row)
        rows.sort(key=lambda r: (r["imsi"], r["type"]))  # units ascend, so this sorts by date too
        yield from rows
