"""The synthetic Soracom operator: one object answering every read the sandbox serves.

See docs/sandbox-design.md for the interface contract and the agreement invariants.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, BinaryIO

import numpy as np

from sandbox.world import air_stats, harvest, napter, usage_csv
from sandbox.world.activity import Activity
from sandbox.world.api_audit import ApiAuditLog
from sandbox.world.billing import Billing
from sandbox.world.csv_export import to_csv
from sandbox.world.events import SessionDetails
from sandbox.world.inventory import Inventory
from sandbox.world.pricing import json_money
from sandbox.world.sim_view import group_dicts, sim_dict, subscriber_dict
from sandbox.world.timeutil import (
    DAY_MS,
    fmt_compact,
    month_days,
    month_index,
    parse_yyyymm,
    to_ms,
    ymd,
    yyyymm,
)
from sandbox.world.traffic import anomaly_factor

COVERAGES = ("jp", "g")
BILLING_COLUMNS = ("imsi", "vpgId", "date", "billItemName", "unitPrice", "quantity", "amount")


class UnknownResource(KeyError):
    """An ID that this world does not hold (the server answers 404)."""


class World:
    """Deterministic function of (seed, sims, now, coverages); lazily generated and cached."""

    def __init__(
        self,
        seed: int = 42,
        sims: int = 200,
        now: datetime | None = None,
        coverages: tuple[str, ...] = ("jp",),
        operator_id: str = "OP0000000000",
    ) -> None:
        if not isinstance(sims, int) or sims < 0:
            raise ValueError(f"sims must be a non-negative integer, got {sims!r}")
        coverages = tuple(coverages)
        if not coverages or len(set(coverages)) != len(coverages) or not set(coverages) <= set(COVERAGES):
            raise ValueError(f"coverages must be ('jp',), ('g',) or ('jp', 'g'), got {coverages!r}")
        if now is None:
            now = datetime.now(UTC).replace(second=0, microsecond=0)
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware (e.g. datetime(2025, 1, 1, tzinfo=UTC))")
        self.seed = int(seed)
        self.sims_count = sims
        self.operator_id = operator_id
        self.now = now.astimezone(UTC)
        self.now_ms = to_ms(self.now)
        self.coverages = coverages
        self.inv = Inventory.build(self.seed, sims, coverages, self.now)
        self.activity = Activity(self.inv, self.now_ms)
        self.details = SessionDetails(self.inv, operator_id)
        self._audit = ApiAuditLog(self.seed, operator_id, coverages, self.now_ms)
        self._billing = {c: Billing(self.activity, c, operator_id) for c in coverages}
        self._sorted_ids: dict[str, list[str]] = {}

    def advanced(self, now: datetime) -> World:
        """The same world at a later `now` (the past is unchanged: data is a function of
        (seed, SIM, day), `now` only cuts it off), keeping the API calls recorded so far."""
        if now < self.now:
            raise ValueError(f"now only moves forward: {now.isoformat()} is before {self.now.isoformat()}")
        later = World(self.seed, self.sims_count, now, self.coverages, self.operator_id)
        later._audit.carry_over(self._audit)
        return later

    # --- helpers ---------------------------------------------------------------------------
    def _coverage(self, coverage: str) -> str:
        if coverage not in self.coverages:
            raise ValueError(
                f"coverage {coverage!r} is not in this world; it has {', '.join(self.coverages)}"
            )
        return coverage

    def _index(self, sim_id: str) -> int:
        i = self.inv.index_of_sim.get(sim_id)
        if i is None or self.inv.created_ms[i] > self.now_ms:
            raise UnknownResource(f"no SIM with simId {sim_id!r}")
        return i

    # --- inventory ---------------------------------------------------------------------------
    def sim_ids(self, coverage: str) -> Sequence[str]:
        """simIds of a coverage (all statuses, incl. terminated), sorted as /sims pages them."""
        coverage = self._coverage(coverage)
        if coverage not in self._sorted_ids:
            self._sorted_ids[coverage] = sorted(
                self.inv.sim_id[i] for i in self.inv.index_in(coverage).tolist()
            )
        return self._sorted_ids[coverage]

    def sims(self, sim_ids: Sequence[str]) -> list[dict[str, Any]]:
        """Sim dicts for many SIMs at once (a /sims page), session status computed in bulk."""
        idx = np.asarray([self._index(s) for s in sim_ids], dtype=np.int64)
        _, started, deleted = self.activity.last_sessions(idx)
        return [
            sim_dict(self.inv, self.details, int(i), self.now_ms, started, deleted, row)
            for row, i in enumerate(idx.tolist())
        ]

    def sim(self, sim_id: str) -> dict[str, Any] | None:
        try:
            return self.sims([sim_id])[0]
        except UnknownResource:
            return None

    def sim_by_imsi(self, imsi: str) -> dict[str, Any] | None:
        hit = self.inv.index_of_imsi.get(imsi)
        return None if hit is None else self.sim(self.inv.sim_id[hit[0]])

    def subscriber(self, imsi: str) -> dict[str, Any] | None:
        sim = self.sim_by_imsi(imsi)
        return None if sim is None else subscriber_dict(sim, imsi)

    def groups(self, coverage: str) -> list[dict[str, Any]]:
        return group_dicts(self.inv, self._coverage(coverage), self.operator_id)

    # --- sessions ----------------------------------------------------------------------------
    def session_events(self, sim_id: str, from_ms: int, to_ms: int) -> list[dict[str, Any]]:
        """SessionEvent dicts with from_ms <= time < to_ms (and before now), newest first."""
        i = self._index(sim_id)
        s = self.activity.sessions_of(np.asarray([i]), from_ms, to_ms)
        return self.details.events(s, from_ms, to_ms, self.now_ms)

    def all_session_events(self, coverage: str, from_ms: int, to_ms: int) -> list[dict[str, Any]]:
        """Ground truth: every SIM's session events of a coverage in the window, newest first."""
        sims = self.inv.index_in(self._coverage(coverage))
        s = self.activity.sessions_all(from_ms, to_ms)
        return self.details.events(s.take(np.isin(s.sim, sims)), from_ms, to_ms, self.now_ms)

    def online_intervals(self, sim_id: str, from_ms: int, to_ms: int) -> list[tuple[int, int]]:
        """Ground truth: true online [start, end) ms of a SIM's sessions in the window (cut at now)."""
        s = self.activity.sessions_of(np.asarray([self._index(sim_id)]), from_ms, to_ms)
        out = [
            (max(int(a), from_ms), min(int(b), to_ms, self.now_ms))
            for a, b in zip(s.start_ms, s.end_ms, strict=True)
        ]
        return sorted((a, b) for a, b in out if a < b)

    # --- Air stats -----------------------------------------------------------------------------
    def air_stats_sim(self, sim_id: str, period: str, from_s: int, to_s: int) -> list[dict[str, Any]]:
        """AirStatsResponse items of one SIM (all its IMSIs), ascending."""
        air_stats.check_window(period, from_s, to_s)
        return air_stats.sim_stats(self.activity, self._index(sim_id), period, from_s, to_s)

    def air_stats_subscriber(self, imsi: str, period: str, from_s: int, to_s: int) -> list[dict[str, Any]]:
        """AirStatsResponse items of one IMSI (/stats/air/subscribers/{imsi}), ascending."""
        air_stats.check_window(period, from_s, to_s)
        hit = self.inv.index_of_imsi.get(imsi)
        if hit is None:
            raise UnknownResource(f"no subscriber with IMSI {imsi!r}")
        return air_stats.sim_stats(self.activity, hit[0], period, from_s, to_s, slot=hit[1])

    def air_stats_operator(self, coverage: str, period: str, from_s: int, to_s: int) -> list[dict[str, Any]]:
        """AirAggregatedStatsResponse items (the schema of /stats/air/operators/{id}), ascending."""
        sims = self.inv.index_in(self._coverage(coverage))
        return air_stats.aggregated_stats(self.activity, period, from_s, to_s, sims)

    def air_stats_group(self, group_id: str, period: str, from_s: int, to_s: int) -> list[dict[str, Any]]:
        """AirAggregatedStatsResponse items summed over the group's SIMs, ascending."""
        for coverage, gids in self.inv.group_ids.items():
            if group_id in gids:
                sims = self.inv.group_members(coverage, gids.index(group_id))
                return air_stats.aggregated_stats(self.activity, period, from_s, to_s, sims)
        raise UnknownResource(f"no group with groupId {group_id!r}")

    def air_usage_rows(self, coverage: str, period: str, from_s: int, to_s: int) -> list[dict[str, Any]]:
        """Rows of the Air data usage export (fixed columns, then one column per tag key)."""
        air_stats.check_window(period, from_s, to_s)
        sims = self.inv.index_in(self._coverage(coverage))
        return air_stats.usage_rows(self.activity, period, from_s, to_s, sims)

    def air_usage_columns(self) -> list[str]:
        return [*air_stats.CSV_FIXED_COLUMNS, *self.inv.tag_keys()]

    def air_usage_csv(self, coverage: str, period: str, from_s: int, to_s: int) -> bytes:
        air_stats.check_window(period, from_s, to_s)
        sims = self.inv.index_in(self._coverage(coverage))
        return usage_csv.usage_csv(self.activity, period, from_s, to_s, sims)  # = to_csv(rows), faster

    def write_air_usage_csv(self, out: BinaryIO, coverage: str, period: str, from_s: int, to_s: int) -> None:
        """`air_usage_csv` streamed into a binary file (the server renders big exports to disk)."""
        air_stats.check_window(period, from_s, to_s)
        sims = self.inv.index_in(self._coverage(coverage))
        usage_csv.write_usage_csv(out, self.activity, period, from_s, to_s, sims)

    # --- Harvest -------------------------------------------------------------------------------
    def harvest_resources(self, coverage: str) -> list[dict[str, Any]]:
        """DataResourceMetadata of SIMs that sent data in the last 40 days, sorted by resourceId."""
        inv = self.inv
        todo = inv.index_in(self._coverage(coverage))
        todo = todo[(inv.harvest_kind[todo] >= 0) & (inv.activated_ms[todo] < self.now_ms)]
        found: dict[int, int] = {}
        for w in harvest.lookback_windows(self.now_ms, 41):
            if len(todo) == 0:
                break
            s = self.activity.window_of(todo, w)
            found.update(harvest.last_entry_before(inv, s, self.now_ms))
            todo = todo[~np.isin(todo, list(found))]
        out = [
            {"resourceType": harvest.RESOURCE_TYPE, "resourceId": inv.sim_id[i], "lastModifiedTime": t}
            for i, t in found.items()
        ]
        return sorted(out, key=lambda r: r["resourceId"])

    def harvest_entries(
        self, resource_type: str, resource_id: str, from_ms: int, to_ms: int, sort: str = "desc"
    ) -> list[dict[str, Any]]:
        """DataEntry dicts of one resource ("Sim"/simId, or "Subscriber"/IMSI) in [from_ms, to_ms)."""
        if sort not in ("asc", "desc"):
            raise ValueError(f"sort must be 'asc' or 'desc', got {sort!r}")
        if resource_type == "Sim":
            i = self.inv.index_of_sim.get(resource_id)
        elif resource_type == "Subscriber":
            hit = self.inv.index_of_imsi.get(resource_id)
            i = None if hit is None else hit[0]
        else:
            raise ValueError(f"resource_type must be 'Sim' or 'Subscriber', got {resource_type!r}")
        if i is None or self.inv.harvest_kind[i] < 0:
            return []
        s = self.activity.sessions_of(np.asarray([i]), from_ms, to_ms)
        if resource_type == "Subscriber":
            s = s.take(np.asarray([self.inv.imsi[int(k)][i] == resource_id for k in s.slot], dtype=bool))
        return harvest.entries(self.inv, s, resource_type, resource_id, from_ms, to_ms, self.now_ms, sort)

    def all_harvest_entries(self, coverage: str, from_ms: int, to_ms: int) -> list[dict[str, Any]]:
        """Ground truth: every Harvest entry of a coverage in [from_ms, to_ms), by (time, resourceId)."""
        inv = self.inv
        sims = inv.index_in(self._coverage(coverage))
        sims = sims[inv.harvest_kind[sims] >= 0]
        s = self.activity.sessions_of(sims, from_ms, to_ms)
        out: list[dict[str, Any]] = []
        for i in np.unique(s.sim).tolist():
            mine = s.take(s.sim == i)
            out += harvest.entries(
                inv, mine, harvest.RESOURCE_TYPE, inv.sim_id[i], from_ms, to_ms, self.now_ms, "asc"
            )
        return sorted(out, key=lambda e: (e["time"], e["resourceId"]))

    def anomalous_sim_days(self, coverage: str, from_s: int, to_s: int) -> list[dict[str, Any]]:
        """Ground truth: SIM-days (UTC) whose traffic weight was multiplied 10-50x and that had traffic."""
        sims = self.inv.index_in(self._coverage(coverage))
        out: list[dict[str, Any]] = []
        for day in range(from_s // 86_400, to_s // 86_400 + 1):
            factor = anomaly_factor(self.seed, sims, np.full(len(sims), day))
            hot = sims[factor > 1]
            if len(hot) == 0:
                continue
            usage = self.activity.day_usage(day)
            for i in np.intersect1d(hot, usage.sim).tolist():
                out.append(
                    {
                        "simId": self.inv.sim_id[i],
                        "date": ymd(day),
                        "factor": int(factor[np.searchsorted(sims, i)]),
                    }
                )
        return out

    # --- audit logs ------------------------------------------------------------------------------
    def napter_audit_logs(self, coverage: str, from_ms: int, to_ms: int) -> list[dict[str, Any]]:
        inv = self.inv
        sims = inv.index_in(self._coverage(coverage))
        sims = sims[inv.napter[sims]]
        s = self.activity.sessions_of(sims, from_ms - 3_700_000, to_ms)
        return napter.audit_logs(inv, s, self.operator_id, from_ms, to_ms, self.now_ms)

    def api_audit_logs(self, coverage: str, from_ms: int, to_ms: int) -> list[dict[str, Any]]:
        return self._audit.entries(self._coverage(coverage), from_ms, to_ms)

    def record_api_call(self, coverage: str, entry: dict[str, Any]) -> None:
        self._audit.record(self._coverage(coverage), entry)

    # --- billing ------------------------------------------------------------------------------
    def _month(self, coverage: str, yyyymm_text: str) -> tuple[Billing, int] | None:
        mi = parse_yyyymm(yyyymm_text)
        billing = self._billing[self._coverage(coverage)]
        now_mi = month_index(self.now)
        return (billing, mi) if now_mi - 17 <= mi <= now_mi else None

    def bill_state(self, yyyymm_text: str) -> str:
        mi, now_mi = parse_yyyymm(yyyymm_text), month_index(self.now)
        if mi < now_mi - 1:
            return "closed"
        if mi == now_mi - 1:
            return "closed" if self.now_ms >= (month_days(now_mi)[0] + 2) * DAY_MS else "temporary"
        return "temporary"

    def bill_months(self, coverage: str) -> list[str]:
        self._coverage(coverage)
        now_mi = month_index(self.now)
        return [yyyymm(m) for m in range(now_mi, now_mi - 18, -1)]

    def monthly_bill(self, coverage: str, yyyymm_text: str) -> dict[str, Any] | None:
        hit = self._month(coverage, yyyymm_text)
        return None if hit is None else hit[0].monthly_bill(hit[1], self.bill_state(yyyymm_text))

    def bill_amount(self, coverage: str, yyyymm_text: str) -> Decimal | None:
        """Ground truth: the exact (Decimal) amount of a month's bill."""
        hit = self._month(coverage, yyyymm_text)
        return None if hit is None else hit[0].amount(hit[1])

    def latest_bill(self, coverage: str) -> dict[str, Any]:
        billing = self._billing[self._coverage(coverage)]
        return {
            "amount": json_money(billing.amount(month_index(self.now))),
            "currency": billing.currency,
            "lastEvaluatedTime": fmt_compact(self.now_ms),
        }

    def daily_bills(self, coverage: str, yyyymm_text: str) -> list[dict[str, Any]]:
        hit = self._month(coverage, yyyymm_text)
        return [] if hit is None else hit[0].daily_bills(hit[1])

    def billing_columns(self) -> list[str]:
        return [*BILLING_COLUMNS, *self.inv.tag_keys()]

    def billing_rows(self, coverage: str, yyyymm_text: str) -> list[dict[str, Any]]:
        """Detailed billing CSV lines (unitPrice and amount as Decimal)."""
        hit = self._month(coverage, yyyymm_text)
        return [] if hit is None else hit[0].rows(hit[1], self.inv.tag_keys())

    def billing_csv(self, coverage: str, yyyymm_text: str) -> bytes:
        hit = self._month(coverage, yyyymm_text)
        rows = iter(()) if hit is None else hit[0].iter_rows(hit[1], self.inv.tag_keys())
        return to_csv(self.billing_columns(), rows)

    def _summary_months(self) -> list[tuple[int, int]]:
        """(month index, updatedTime in seconds, as the summary schemas define it)."""
        now_mi = month_index(self.now)
        return [
            (m, min(self.now_ms, month_days(m)[1] * DAY_MS) // 1000) for m in range(now_mi, now_mi - 4, -1)
        ]

    def bill_item_summaries(self, coverage: str) -> list[dict[str, Any]]:
        """BillingSummaryResponseOfBillItems for this month and the 3 before, newest first."""
        billing = self._billing[self._coverage(coverage)]
        return [billing.item_summary(m, updated) for m, updated in self._summary_months()]

    def sim_bill_summaries(self, coverage: str) -> list[dict[str, Any]]:
        """BillingSummaryResponseOfSims for this month and the 3 before, newest first."""
        billing = self._billing[self._coverage(coverage)]
        return [billing.sim_summary(m, updated) for m, updated in self._summary_months()]
