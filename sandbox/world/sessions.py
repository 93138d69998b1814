"""Sessions: generated per (SIM, window day), vectorised over any set of SIMs.

Each SIM owns one 24-hour "window" per day starting at its own offset after UTC midnight, so
sessions naturally cross UTC midnight, never overlap between windows, and a window's sessions
depend only on (seed, SIM, window day). UTC day D is covered by windows D-1 and D.

Always-on SIMs reconnect quickly between sessions; most of those `Deleted` events are stamped
a few seconds after the next `Created` (the documented quirk). The true end of a session
(`end_ms`) is what bounds traffic; `deleted_ms` is the stamp of its `Deleted` event.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from numpy.typing import NDArray

from sandbox.world.hashing import uniform
from sandbox.world.inventory import Inventory
from sandbox.world.timeutil import DAY_MS

MAX_PER_WINDOW = 5
_S = 300
SC_FACTOR = np.asarray([0.3, 0.6, 1.0, 1.6, 3.0])


@dataclass
class Sessions:
    """Flat arrays, one entry per session."""

    sim: NDArray[np.int64]
    window: NDArray[np.int64]
    j: NDArray[np.int64]
    slot: NDArray[np.int64]
    sc: NDArray[np.int64]
    start_ms: NDArray[np.int64]
    end_ms: NDArray[np.int64]
    deleted_ms: NDArray[np.int64]
    modified_ms: NDArray[np.int64]  # -1: no Modified event
    r_ub: NDArray[np.int64]  # traffic rates (see traffic.py)
    r_db: NDArray[np.int64]
    r_up: NDArray[np.int64]
    r_dp: NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.sim)

    def take(self, mask: NDArray[np.bool_] | NDArray[np.int64]) -> Sessions:
        return Sessions(**{f.name: getattr(self, f.name)[mask] for f in fields(self)})

    @staticmethod
    def concat(parts: list[Sessions]) -> Sessions:
        return Sessions(
            **{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(Sessions)}
        )


def generate(inv: Inventory, idx: NDArray[np.int64], window: int) -> Sessions:
    """All sessions of the given SIMs in one window day, ordered by (SIM order, start)."""
    seed = inv.seed
    idx = np.asarray(idx, dtype=np.int64)
    jj = np.arange(MAX_PER_WINDOW, dtype=np.int64)[None, :]
    col = idx[:, None]

    def u2(k: int) -> NDArray[np.float64]:
        return uniform(seed, _S + k, col, window, jj)

    u_n = uniform(seed, _S, idx, window)
    profile = inv.profile[idx]
    n = np.select(
        [profile == 0, profile == 1],
        [
            1 + (u_n * 3).astype(np.int64),
            np.where(u_n < 0.1, 0, 1 + ((u_n - 0.1) / 0.9 * 5).astype(np.int64)),
        ],
        (u_n < 0.4).astype(np.int64),
    )[:, None]
    n = np.minimum(n, MAX_PER_WINDOW)
    win_start = (window * DAY_MS + inv.window_offset_ms[idx])[:, None]
    slot_len = DAY_MS // np.maximum(n, 1)
    slot_start = win_start + jj * slot_len
    always = (profile == 0)[:, None]
    ua, ud, uq, uf = u2(1), u2(2), u2(3), u2(4)

    frac = np.where(profile[:, None] == 1, 0.05 + 0.55 * uf, 0.01 + 0.2 * uf)
    dur = (frac * slot_len).astype(np.int64)
    p_start = slot_start + 500 + ((slot_len - dur - 1000) * ua).astype(np.int64)
    a_start = slot_start + np.where(jj == 0, 1000 + (ua * 29_000), 500 + (ua * 3_500)).astype(np.int64)
    a_end = slot_start + slot_len - np.where(jj == n - 1, 60_000, 0)
    start = np.where(always, a_start, p_start)
    end = np.where(always, a_end, p_start + dur)
    delay = np.where(always & (uq < 0.6), 5_000 + ud * 10_000, ud * 300).astype(np.int64)
    deleted = end + delay

    valid = (
        (jj < n)
        & (start >= inv.activated_ms[idx][:, None])
        & (start >= inv.created_ms[idx][:, None])
        & (deleted < inv.change_ms[idx][:, None])
    )
    rows, cols = np.nonzero(valid)
    sim = idx[rows]
    start, end, deleted = start[rows, cols], end[rows, cols], deleted[rows, cols]
    j = cols.astype(np.int64)

    u_slot = uniform(seed, _S + 10, sim, window)
    slot = (inv.dual[sim] & (u_slot < 0.3)).astype(np.int64)
    sc = np.where(start >= inv.sc_change_ms[sim], inv.sc1[sim], inv.sc0[sim]).astype(np.int64)
    um, ur, ux = (uniform(seed, _S + k, sim, window, j) for k in (11, 12, 13))
    long_enough = (end - start) > 600_000
    modified = np.where(
        long_enough & (um < 0.3), start + ((end - start) * (0.2 + 0.6 * um)).astype(np.int64), -1
    )
    noise = np.exp((ur - 0.5) * np.where(inv.profile[sim] == 0, 0.7, 1.4))  # steadier for always-on
    r_ub = np.maximum(1, inv.rate_bps[sim] * noise * SC_FACTOR[sc]).astype(np.int64)
    ratio = 0.3 + 2.7 * uniform(seed, _S + 14, sim)
    r_db = np.maximum(1, r_ub * ratio * (0.8 + 0.4 * ux)).astype(np.int64)
    bytes_per_packet = 80 + (uniform(seed, _S + 15, sim) * 520)
    r_up = np.maximum(1, r_ub * 100 / bytes_per_packet).astype(np.int64)  # packets per 100 s
    r_dp = np.maximum(1, r_db * 100 / (bytes_per_packet * 1.5)).astype(np.int64)
    return Sessions(
        sim=sim,
        window=np.full(len(sim), window, np.int64),
        j=j,
        slot=slot,
        sc=sc,
        start_ms=start,
        end_ms=end,
        deleted_ms=deleted,
        modified_ms=modified,
        r_ub=r_ub,
        r_db=r_db,
        r_up=r_up,
        r_dp=r_dp,
    )


def windows_overlapping(from_ms: int, to_ms: int) -> range:
    """Window days whose sessions (or late Deleted stamps) may fall in [from_ms, to_ms)."""
    return range(from_ms // DAY_MS - 1, (max(to_ms, from_ms + 1) - 1) // DAY_MS + 1)
