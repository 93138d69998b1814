"""Bills of one coverage: detailed rows, monthly and daily bills, summaries.

Rows (see pricing.py for prices, the basic-fee rule and the item names of each coverage:
Japanese on jp, English on g):
- daily data usage per IMSI, day and speed class: unitPrice per byte x bytes (up + down),
  rounded to whole yen on JPY; these are the only rows in daily bills;
- monthly basic fee per SIM (primary IMSI), date yyyyMM;
- monthly VPG Type-E fee (no imsi, vpgId set): hourly price x hours in the month;
- monthly free tier (no imsi, negative): minus min(cap, the month's data fees).
Amounts are summed as integer nano-currency, so every total is exact.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sandbox.world.activity import Activity
from sandbox.world.hashing import hash64, uuid_from
from sandbox.world.inventory import READY, STATUSES, TERMINATED
from sandbox.world.pricing import (
    BASIC_FEE_NANO,
    CATEGORY_OF_KIND,
    CURRENCY,
    DATA_PRICE_NANO,
    FREE_TIER_CAP_NANO,
    ITEM_NAMES,
    NANO,
    SPEED_CLASSES,
    VPG_HOURLY_NANO,
    WHOLE_UNIT_CURRENCIES,
    json_money,
    nano_to_decimal,
)
from sandbox.world.timeutil import DAY_MS, month_days, ymd, yyyymm

HOUR_MS = 3_600_000
KINDS = ("data", "basic", "vpg", "free_tier")  # MonthRows.kind 0..3
VPG_SINCE_DAYS_BEFORE_ANCHOR = 400


@dataclass
class MonthRows:
    """Detailed bill rows of one month as arrays (kind: 0 data, 1 basic, 2 VPG, 3 free tier)."""

    kind: NDArray[np.int64]
    sim: NDArray[np.int64]  # -1 for non-SIM items
    slot: NDArray[np.int64]
    code: NDArray[np.int64]  # speed class (data) or status (basic)
    day: NDArray[np.int64]  # -1 for monthly rows
    unit_nano: NDArray[np.int64]
    quantity: NDArray[np.int64]
    amount_nano: NDArray[np.int64]


class Billing:
    def __init__(self, act: Activity, coverage: str, operator_id: str) -> None:
        self.act = act
        self.inv = act.inv
        self.coverage = coverage
        self.operator_id = operator_id
        self.currency = CURRENCY[coverage]
        self.names = ITEM_NAMES[coverage]
        self.whole = self.currency in WHOLE_UNIT_CURRENCIES
        self.vpg_id = uuid_from(int(hash64(self.inv.seed, 900, self.inv.coverage_names.index(coverage))))
        self._sims = self.inv.index_in(coverage)
        self._totals: dict[int, dict[str, Any]] = {}

    # --- rows ----------------------------------------------------------------------
    def month_rows(self, mi: int) -> MonthRows:
        inv, now_ms = self.inv, self.act.now_ms
        first, end = month_days(mi)
        prices = np.asarray(DATA_PRICE_NANO[self.coverage], dtype=np.int64)
        parts: list[tuple[NDArray[np.int64], ...]] = []
        for d in range(first, min(end, (now_ms - 1) // DAY_MS + 1)):
            u = self.act.day_usage(d)
            u = u.take(np.isin(u.sim, self._sims))
            qty = u.values[:, 0] + u.values[:, 2]
            keep = qty > 0
            unit = prices[u.sc[keep]]
            amount = unit * qty[keep]
            if self.whole:  # Soracom bills yen in whole yen: each line is rounded
                amount = (amount + NANO // 2) // NANO * NANO
            parts.append(
                (
                    np.zeros(keep.sum(), np.int64),
                    u.sim[keep],
                    u.slot[keep],
                    u.sc[keep],
                    np.full(keep.sum(), d, np.int64),
                    unit,
                    qty[keep],
                    amount,
                )
            )
        data_total = int(sum(int(p[7].sum()) for p in parts))
        month_start_ms, month_end_ms = first * DAY_MS, end * DAY_MS
        if month_start_ms < now_ms:
            parts.append(self._basic_fees(month_start_ms, month_end_ms))
            vpg_from = max(month_start_ms, inv.anchor_ms - VPG_SINCE_DAYS_BEFORE_ANCHOR * DAY_MS)
            hours = max(0, (min(month_end_ms, now_ms) - vpg_from) // HOUR_MS)
            if hours:
                unit = VPG_HOURLY_NANO[self.coverage]
                parts.append(_one(2, unit, hours))
            if data_total:
                discount = min(FREE_TIER_CAP_NANO[self.coverage], data_total)
                parts.append(_one(3, -discount, 1))
        if not parts:
            z = np.zeros(0, np.int64)
            return MonthRows(z, z, z, z, z, z, z, z)
        cols = [np.concatenate([p[c] for p in parts]) for c in range(8)]
        return MonthRows(*cols)

    def _basic_fees(self, start_ms: int, end_ms: int) -> tuple[NDArray[np.int64], ...]:
        inv = self.inv
        sims = self._sims
        t = min(end_ms, self.act.now_ms) - 1
        status = np.where(
            t < inv.activated_ms[sims], READY, np.where(t >= inv.change_ms[sims], inv.final_status[sims], 0)
        ).astype(np.int64)
        gone_before = (inv.final_status[sims] == TERMINATED) & (inv.change_ms[sims] < start_ms)
        keep = (inv.created_ms[sims] <= t) & (status != READY) & ~gone_before
        sims, status = sims[keep], status[keep]
        fees = BASIC_FEE_NANO[self.coverage]
        unit = np.asarray([fees[STATUSES[s]] for s in status.tolist()], dtype=np.int64)
        n = len(sims)
        return (
            np.ones(n, np.int64),
            sims,
            np.zeros(n, np.int64),
            status,
            np.full(n, -1, np.int64),
            unit,
            np.ones(n, np.int64),
            unit,
        )

    # --- totals (cached) ------------------------------------------------------------
    def totals(self, mi: int) -> dict[str, Any]:
        if mi not in self._totals:
            rows = self.month_rows(mi)
            daily = {
                d: int(rows.amount_nano[rows.day == d].sum())
                for d in np.unique(rows.day[rows.day >= 0]).tolist()
            }
            items: dict[str, int] = {}
            for k in range(len(rows.kind)):
                name = self._item_name(rows, k)
                items[name] = items.get(name, 0) + int(rows.amount_nano[k])
            per_sim: dict[int, int] = {}
            sim_rows = rows.sim >= 0
            if sim_rows.any():
                order = np.argsort(rows.sim[sim_rows], kind="stable")
                sims = rows.sim[sim_rows][order]
                amounts = rows.amount_nano[sim_rows][order]
                starts = np.flatnonzero(np.r_[True, sims[1:] != sims[:-1]])
                per_sim = dict(
                    zip(sims[starts].tolist(), np.add.reduceat(amounts, starts).tolist(), strict=True)
                )
            self._totals[mi] = {
                "amount": int(rows.amount_nano.sum()),
                "daily": daily,
                "items": items,
                "per_sim": per_sim,
            }
        return self._totals[mi]

    def _item_name(self, rows: MonthRows, k: int) -> str:
        kind = KINDS[int(rows.kind[k])]
        if kind == "data":
            return self.names[kind].format(sc=SPEED_CLASSES[int(rows.code[k])])
        if kind == "basic":
            return self.names[kind].format(status=STATUSES[int(rows.code[k])])
        return self.names[kind]

    def category(self, name: str) -> str:
        """The summaries' billItemCategory of one of this coverage's item names."""
        for kind, template in self.names.items():
            if name.startswith(template.split("{")[0].rstrip(" (")):
                return CATEGORY_OF_KIND[kind]
        return "Other"

    def amount(self, mi: int) -> Decimal:
        return nano_to_decimal(self.totals(mi)["amount"])

    # --- API shapes -------------------------------------------------------------------
    def rows(self, mi: int, tag_keys: list[str]) -> list[dict[str, Any]]:
        return list(self.iter_rows(mi, tag_keys))

    def iter_rows(self, mi: int, tag_keys: list[str]) -> Iterator[dict[str, Any]]:
        """Detailed rows one at a time (the CSV streams them: a big month does not fit as dicts)."""
        rows = self.month_rows(mi)
        inv = self.inv
        order = np.lexsort(
            (rows.code, rows.slot, rows.sim, rows.kind, np.where(rows.day < 0, 1 << 40, rows.day))
        )
        month_text = yyyymm(mi)
        tag_cache: dict[int, dict[str, str]] = {}
        for k in order.tolist():
            sim = int(rows.sim[k])
            day = int(rows.day[k])
            row: dict[str, Any] = {
                "imsi": inv.imsi[int(rows.slot[k])][sim] if sim >= 0 else "",
                "vpgId": self.vpg_id if int(rows.kind[k]) == 2 else "",
                "date": ymd(day) if day >= 0 else month_text,
                "billItemName": self._item_name(rows, k),
                "unitPrice": nano_to_decimal(int(rows.unit_nano[k])),
                "quantity": int(rows.quantity[k]),
                "amount": nano_to_decimal(int(rows.amount_nano[k])),
            }
            if sim >= 0 and sim not in tag_cache:
                tag_cache[sim] = inv.tags(sim)
            tags = tag_cache.get(sim, {})
            row.update({key: tags.get(key, "") for key in tag_keys})
            yield row

    def monthly_bill(self, mi: int, state: str) -> dict[str, Any]:
        bill: dict[str, Any] = {
            "yearMonth": yyyymm(mi),
            "amount": json_money(self.amount(mi)),
            "currency": self.currency,
            "state": state,
        }
        if state == "closed":
            bill["paymentStatus"] = "paid"
            bill["appliedCouponAmount"] = 0
        return bill

    def daily_bills(self, mi: int) -> list[dict[str, Any]]:
        """DailyBill items, newest first (as in the API's example)."""
        daily = self.totals(mi)["daily"]
        return [
            {"date": ymd(d), "amount": json_money(nano_to_decimal(daily[d])), "currency": self.currency}
            for d in sorted(daily, reverse=True)
        ]

    def item_summary(self, mi: int, updated_s: int) -> dict[str, Any]:
        items = self.totals(mi)["items"]
        breakdown = [
            {
                "amount": json_money(nano_to_decimal(v)),
                "billItemCategory": self.category(name),
                "billItemName": name,
            }
            for name, v in items.items()
        ]
        breakdown.sort(key=lambda b: (-b["amount"], b["billItemName"]))
        return {
            "yearMonth": yyyymm(mi),
            "currency": self.currency,
            "updatedTime": updated_s,
            "costBreakdownList": breakdown[:SIM_SUMMARY_TOP],
        }

    def sim_summary(self, mi: int, updated_s: int) -> dict[str, Any]:
        per_sim = self.totals(mi)["per_sim"]
        breakdown = [
            {"amount": json_money(nano_to_decimal(v)), "simId": self.inv.sim_id[s]}
            for s, v in per_sim.items()
        ]
        breakdown.sort(key=lambda b: (-b["amount"], b["simId"]))
        return {  # the spec: "sorted by amount in descending order, and include up to 100 items"
            "yearMonth": yyyymm(mi),
            "currency": self.currency,
            "updatedTime": updated_s,
            "costBreakdownList": breakdown[:SIM_SUMMARY_TOP],
        }


SIM_SUMMARY_TOP = 100  # "COSTS PER SIM (TOP 100)": the summary is not paged, it is cut


def _one(kind: int, unit: int, qty: int) -> tuple[NDArray[np.int64], ...]:
    def a(v: int) -> NDArray[np.int64]:
        return np.asarray([v], dtype=np.int64)

    return a(kind), a(-1), a(0), a(0), a(-1), a(unit), a(qty), a(unit * qty)
