"""SIM inventory: per-SIM attributes as numpy arrays, each a pure function of (seed, index).

A SIM's life is a fixed timeline (created -> activated -> maybe one status change, maybe one
speed-class change) that does not depend on `now`; `now` only decides which part has happened.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from numpy.typing import NDArray

from sandbox.world import ids
from sandbox.world.hashing import hash64, uniform, uuid_from
from sandbox.world.pricing import SPEED_CLASSES
from sandbox.world.timeutil import DAY_MS, to_ms

# SIM creation is spread over the 2 years before this anchor, independent of `now`, so the
# past never moves. A `now` earlier than the anchor pulls the anchor back to the day before
# `now` (then the history is stable only among such early `now`s).
ANCHOR = datetime(2025, 7, 1, tzinfo=UTC)
CREATION_SPAN_MS = 730 * DAY_MS
NEVER = np.iinfo(np.int64).max // 4

STATUSES: tuple[str, ...] = ("active", "inactive", "suspended", "standby", "terminated", "ready")
ACTIVE, INACTIVE, SUSPENDED, STANDBY, TERMINATED, READY = range(6)
PROFILES: tuple[str, ...] = ("always_on", "periodic", "sparse")
HARVEST_KINDS: tuple[str, ...] = ("json", "text", "binary")
RADIO_TYPES: tuple[str, ...] = ("LTE", "LTE-M", "NB-IoT")

GROUP_NAMES: tuple[str, ...] = ("production", "staging", "field-trial", "warehouse", "fleet")
NAME_PREFIXES: tuple[str, ...] = ("sensor", "meter", "gateway", "tracker", "camera")
SITES: tuple[str, ...] = ("Tokyo HQ", "東京 第一工場", "Osaka, Plant 2", "Fukuoka DC", "Sapporo")
CUSTOMERS: tuple[str, ...] = ("Acme, Inc.", "Globex", "Initech", "Umbrella")
ENVS: tuple[str, ...] = ("prod", "test")
G_NETWORKS: tuple[tuple[int, int], ...] = ((310, 410), (234, 15), (262, 1), (208, 1), (505, 1))
JP_MNCS: tuple[int, ...] = (10, 20, 51)

_S = 200  # hash stream base of this module


PROFILE_CUM = (0.35, 0.85)  # always_on, periodic, sparse


def always_on(seed: int, sim: NDArray[np.int64]) -> NDArray[np.bool_]:
    """Whether SIMs hold near-continuous sessions (same draw as Inventory.profile == 0)."""
    return uniform(seed, _S + 11, sim) < PROFILE_CUM[0]


def _pick(u: NDArray[np.float64], cum: tuple[float, ...]) -> NDArray[np.int8]:
    return np.searchsorted(np.asarray(cum), u, side="right").astype(np.int8)


@dataclass
class Inventory:
    """All SIMs of one world. Index i is the SIM's identity; strings are precomputed lists."""

    seed: int
    n: int
    coverage_names: tuple[str, ...]
    anchor_ms: int
    cov: NDArray[np.int8]
    created_ms: NDArray[np.int64]
    activated_ms: NDArray[np.int64]
    final_status: NDArray[np.int8]
    change_ms: NDArray[np.int64]
    sc0: NDArray[np.int8]
    sc1: NDArray[np.int8]
    sc_change_ms: NDArray[np.int64]
    group: NDArray[np.int16]
    profile: NDArray[np.int8]
    rate_bps: NDArray[np.int64]
    dual: NDArray[np.bool_]
    harvest_kind: NDArray[np.int8]  # -1: sends no Harvest data
    harvest_period_ms: NDArray[np.int64]
    napter: NDArray[np.bool_]
    window_offset_ms: NDArray[np.int64]
    mcc: NDArray[np.int64]
    mnc: NDArray[np.int64]
    tac: NDArray[np.int64]
    eci: NDArray[np.int64]
    radio: NDArray[np.int8]
    sim_id: list[str]
    iccid: list[str]
    imsi: list[list[str]]  # [slot][i]; slot 1 only meaningful where dual
    msisdn: list[list[str]]
    group_ids: dict[str, list[str]]  # coverage -> group ids (index = group number)
    index_of_sim: dict[str, int]
    index_of_imsi: dict[str, tuple[int, int]]

    @classmethod
    def build(cls, seed: int, n: int, coverages: tuple[str, ...], now: datetime) -> Inventory:
        anchor_ms = (
            to_ms(ANCHOR) if now >= ANCHOR + timedelta(days=1) else (to_ms(now) // DAY_MS - 1) * DAY_MS
        )
        i = np.arange(n, dtype=np.int64)

        def u(k: int) -> NDArray[np.float64]:
            return uniform(seed, _S + k, i)

        cov = (u(0) < 0.25).astype(np.int8) if len(coverages) == 2 else np.zeros(n, np.int8)
        created = anchor_ms - (u(1) * CREATION_SPAN_MS).astype(np.int64)
        final = _pick(u(2), (0.83, 0.88, 0.90, 0.92, 0.97))  # active..terminated, rest ready
        activated = np.where(final == READY, NEVER, created + (u(3) * 5 * DAY_MS).astype(np.int64))
        late_end = anchor_ms + 540 * DAY_MS
        change = np.where(
            (final != ACTIVE) & (final != READY),
            activated + (u(4) * np.maximum(late_end - activated, DAY_MS)).astype(np.int64),
            NEVER,
        )
        sc0 = _pick(u(5), (0.10, 0.30, 0.75, 0.95))
        changes_sc = (u(6) < 0.10) & (final != READY)
        sc1 = np.where(changes_sc, (sc0 + 1 + (u(7) * 4).astype(np.int8)) % len(SPEED_CLASSES), sc0).astype(
            np.int8
        )
        sc_change = np.where(
            changes_sc,
            activated + (u(8) * np.maximum(late_end + 200 * DAY_MS - activated, DAY_MS)).astype(np.int64),
            NEVER,
        )
        group = np.where(u(9) < 0.15, -1, (u(10) * len(GROUP_NAMES)).astype(np.int16)).astype(np.int16)
        profile = _pick(u(11), PROFILE_CUM)
        z = np.sqrt(-2.0 * np.log(1.0 - u(12))) * np.cos(2.0 * np.pi * u(13))
        rate = np.maximum(1, np.exp(np.log(20.0) + 0.9 * z)).astype(np.int64)  # bytes/s at mean weight
        dual = u(14) < 0.03
        harvest_kind = np.where(u(15) < 0.10, _pick(u(16), (0.6, 0.85)), -1).astype(np.int8)
        harvest_period = (5 + (u(17) * 56).astype(np.int64)) * 60_000
        napter = u(18) < 0.02
        for c in range(len(coverages)):  # every coverage has at least two Napter SIMs
            members = np.flatnonzero((cov == c) & (final == ACTIVE))[:2]
            napter[members] = True
        window_offset = (u(19) * DAY_MS).astype(np.int64)
        net = (u(20) * len(G_NETWORKS)).astype(np.int64)
        jp_mnc = np.asarray(JP_MNCS)[(u(21) * len(JP_MNCS)).astype(np.int64)]
        is_g = np.asarray([coverages[c] == "g" for c in range(len(coverages))])[cov]
        mcc = np.where(is_g, np.asarray([m for m, _ in G_NETWORKS])[net], 440)
        mnc = np.where(is_g, np.asarray([m for _, m in G_NETWORKS])[net], jp_mnc)
        tac = 1 + (u(22) * 65534).astype(np.int64)
        eci = 1 + (u(23) * 268_435_000).astype(np.int64)
        radio = _pick(u(24), (0.7, 0.9))

        sim_id = [""] * n
        iccid = [""] * n
        imsi: list[list[str]] = [[""] * n, [""] * n]
        msisdn: list[list[str]] = [[""] * n, [""] * n]
        for c, name in enumerate(coverages):
            idx = np.flatnonzero(cov == c)
            for target, values in (
                (sim_id, ids.sim_ids(seed, name, idx)),
                (iccid, ids.iccids(seed, name, idx)),
                (imsi[0], ids.imsis(seed, name, idx, 0)),
                (imsi[1], ids.imsis(seed, name, idx, 1)),
                (msisdn[0], ids.msisdns(seed, name, idx, 0)),
                (msisdn[1], ids.msisdns(seed, name, idx, 1)),
            ):
                for k, v in zip(idx.tolist(), values, strict=True):
                    target[k] = v
        group_ids = {
            name: [uuid_from(int(hash64(seed, _S + 30, c, g))) for g in range(len(GROUP_NAMES))]
            for c, name in enumerate(coverages)
        }
        index_of_imsi = {s: (k, 0) for k, s in enumerate(imsi[0])}
        index_of_imsi.update({imsi[1][k]: (k, 1) for k in np.flatnonzero(dual).tolist()})
        return cls(
            seed=seed,
            n=n,
            coverage_names=coverages,
            anchor_ms=anchor_ms,
            cov=cov,
            created_ms=created,
            activated_ms=activated,
            final_status=final,
            change_ms=change,
            sc0=sc0,
            sc1=sc1,
            sc_change_ms=sc_change,
            group=group,
            profile=profile,
            rate_bps=rate,
            dual=dual,
            harvest_kind=harvest_kind,
            harvest_period_ms=harvest_period,
            napter=napter,
            window_offset_ms=window_offset,
            mcc=mcc,
            mnc=mnc,
            tac=tac,
            eci=eci,
            radio=radio,
            sim_id=sim_id,
            iccid=iccid,
            imsi=imsi,
            msisdn=msisdn,
            group_ids=group_ids,
            index_of_sim={s: k for k, s in enumerate(sim_id)},
            index_of_imsi=index_of_imsi,
        )

    # --- per-SIM facts ---------------------------------------------------------------
    def coverage_of(self, i: int) -> str:
        return self.coverage_names[int(self.cov[i])]

    def status_at(self, i: int, t_ms: int) -> str:
        if t_ms < self.activated_ms[i]:
            return "ready"
        if t_ms >= self.change_ms[i]:
            return STATUSES[int(self.final_status[i])]
        return "active"

    def speed_class_at(self, i: int, t_ms: int) -> str:
        return SPEED_CLASSES[int(self.sc1[i] if t_ms >= self.sc_change_ms[i] else self.sc0[i])]

    def active_until_ms(self, i: NDArray[np.int64] | int) -> NDArray[np.int64]:
        """End of the period in which the SIM may hold sessions."""
        return np.asarray(self.change_ms[i])

    def group_id(self, i: int) -> str | None:
        g = int(self.group[i])
        return None if g < 0 else self.group_ids[self.coverage_of(i)][g]

    def imsis_of(self, i: int) -> list[str]:
        return [self.imsi[0][i], self.imsi[1][i]] if self.dual[i] else [self.imsi[0][i]]

    def tags(self, i: int) -> dict[str, str]:
        """Tag set: `name` always; `site`, `customer`, `env` on some SIMs only."""
        u = uniform(self.seed, _S + 40, np.int64(i), np.arange(4))
        tags = {"name": f"{NAME_PREFIXES[int(u[0] * len(NAME_PREFIXES))]}-{i:06d}"}
        if u[1] < 0.8:
            tags["site"] = SITES[int(u[1] / 0.8 * len(SITES))]
        if u[2] < 0.6:
            tags["customer"] = CUSTOMERS[int(u[2] / 0.6 * len(CUSTOMERS))]
        if u[3] < 0.4:
            tags["env"] = ENVS[int(u[3] / 0.4 * len(ENVS))]
        return tags

    def tag_keys(self) -> list[str]:
        """Tag columns of the CSV exports, in the order they are written."""
        return ["name", "site", "customer", "env"]

    def index_in(self, coverage: str) -> NDArray[np.int64]:
        return np.flatnonzero(self.cov == self.coverage_names.index(coverage))

    def group_members(self, coverage: str, g: int) -> NDArray[np.int64]:
        return np.flatnonzero((self.cov == self.coverage_names.index(coverage)) & (self.group == g))
