"""Cached per-day activity over all SIMs: session windows and UTC-day traffic aggregates.

Windows and days are pure functions of (seed, SIMs, day); only the day holding `now` is cut
off at `now`. Both caches are small LRUs so a 100k-SIM world stays well under 1 GB.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, fields
from threading import RLock

import numpy as np
from numpy.typing import NDArray

from sandbox.world import sessions as sessions_mod
from sandbox.world import traffic
from sandbox.world.inventory import Inventory
from sandbox.world.pricing import SPEED_CLASSES
from sandbox.world.sessions import Sessions
from sandbox.world.timeutil import DAY_MS, month_days

N_SC = len(SPEED_CLASSES)
_FEW_SIMS = 16  # requests for at most this many SIMs may be served from a cached all-SIM window
_HOT_AFTER = 8  # ...once this many such requests asked for the same window
_BULK_SIMS = 50  # last_sessions for this many SIMs or more is cut from the all-SIM answer


@dataclass
class Usage:
    """Traffic totals keyed by (SIM, IMSI slot, speed class); values = (ub, up, db, dp)."""

    sim: NDArray[np.int64]
    slot: NDArray[np.int64]
    sc: NDArray[np.int64]
    values: NDArray[np.int64]

    @staticmethod
    def aggregate(
        sim: NDArray[np.int64], slot: NDArray[np.int64], sc: NDArray[np.int64], values: NDArray[np.int64]
    ) -> Usage:
        key = (sim * 2 + slot) * N_SC + sc
        order = np.argsort(key, kind="stable")
        key, values = key[order], values[order]
        if len(key) == 0:
            return Usage(key, key.copy(), key.copy(), values.reshape(0, 4))
        starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
        sums = np.add.reduceat(values, starts, axis=0)
        ukey = key[starts]
        nonzero = sums.any(axis=1)
        ukey, sums = ukey[nonzero], sums[nonzero]
        return Usage(ukey // N_SC // 2, ukey // N_SC % 2, ukey % N_SC, sums)

    def take(self, mask: NDArray[np.bool_]) -> Usage:
        return Usage(self.sim[mask], self.slot[mask], self.sc[mask], self.values[mask])

    @staticmethod
    def concat(parts: list[Usage]) -> Usage:
        return Usage.aggregate(
            np.concatenate([p.sim for p in parts]),
            np.concatenate([p.slot for p in parts]),
            np.concatenate([p.sc for p in parts]),
            np.concatenate([p.values for p in parts]).reshape(-1, 4),
        )


class _Lru(OrderedDict):
    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def put(self, key: object, value: object) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)


class Activity:
    """Sessions and traffic of the whole world, with caches shared by every accessor."""

    def __init__(self, inv: Inventory, now_ms: int, window_cache: int = 4, day_cache: int = 64) -> None:
        self.inv = inv
        self.now_ms = now_ms
        self._all = np.arange(inv.n, dtype=np.int64)
        self._windows = _Lru(window_cache)
        self._days = _Lru(day_cache)
        self._months: dict[int, Usage] = {}
        self._misses: dict[int, int] = {}  # few-SIM requests per window not yet cached
        self._last: tuple[Sessions, Sessions] | None = None  # last_sessions of every SIM
        self._lock = RLock()

    # --- sessions --------------------------------------------------------------------
    def window(self, w: int) -> Sessions:
        """Every SIM's sessions of window day w (cached)."""
        with self._lock:
            if w not in self._windows:
                self._windows.put(w, sessions_mod.generate(self.inv, self._all, w))
            self._windows.move_to_end(w)
            return self._windows[w]

    def window_of(self, sims: NDArray[np.int64], w: int) -> Sessions:
        """Sessions of some SIMs in window day w (not cached: cheap for few SIMs)."""
        return sessions_mod.generate(self.inv, sims, w)

    def sessions_of(self, sims: NDArray[np.int64], from_ms: int, to_ms: int) -> Sessions:
        """Sessions of some SIMs whose [start, Deleted stamp] may touch [from_ms, to_ms)."""
        parts = [self._window_part(sims, w) for w in sessions_mod.windows_overlapping(from_ms, to_ms)]
        return Sessions.concat(parts)

    def _window_part(self, sims: NDArray[np.int64], w: int) -> Sessions:
        """Sessions of a few SIMs in window w: cut from the all-SIM window once that window is
        asked for often (a server answering one call per SIM), else generated for them alone.
        Both give the same rows: every draw is a hash of (seed, SIM, window, ...)."""
        with self._lock:
            hot = w in self._windows
            if not hot and len(sims) <= _FEW_SIMS:
                self._misses[w] = self._misses.get(w, 0) + 1
                hot = self._misses[w] >= _HOT_AFTER
        if not hot or len(sims) > _FEW_SIMS:
            return sessions_mod.generate(self.inv, sims, w)
        whole = self.window(w)  # ordered by SIM, then start
        lo = np.searchsorted(whole.sim, sims, side="left")
        hi = np.searchsorted(whole.sim, sims, side="right")
        rows = np.concatenate([np.arange(a, b) for a, b in zip(lo, hi, strict=True)]) if len(sims) else lo
        return whole.take(rows.astype(np.int64))

    def sessions_all(self, from_ms: int, to_ms: int) -> Sessions:
        return Sessions.concat([self.window(w) for w in sessions_mod.windows_overlapping(from_ms, to_ms)])

    def last_sessions(
        self, sims: NDArray[np.int64], lookback_windows: int = 60
    ) -> tuple[NDArray[np.int64], Sessions | None, Sessions | None]:
        """For each SIM: its latest session started before now and its latest one deleted before now.

        Returns (sims, latest_started, latest_deleted), each row aligned with `sims`; a SIM with
        no such session has j = -1 in that row. Big requests (a /sims page) are served from one
        pass over every SIM, computed once: `now` is fixed, so the answer never changes.
        """
        sims = np.asarray(sims, dtype=np.int64)
        if len(sims) >= _BULK_SIMS and lookback_windows == 60:
            with self._lock:
                if self._last is None:
                    _, started, deleted = self._last_sessions(self._all, lookback_windows)
                    self._last = (started, deleted)
            started, deleted = self._last
            return sims, started.take(sims), deleted.take(sims)
        return self._last_sessions(sims, lookback_windows)

    def _last_sessions(
        self, sims: NDArray[np.int64], lookback_windows: int
    ) -> tuple[NDArray[np.int64], Sessions, Sessions]:
        empty = sessions_mod.generate(self.inv, sims[:0], 0)
        started = _placeholder(sims)
        deleted = _placeholder(sims)
        need_s = np.ones(len(sims), bool)
        need_d = np.ones(len(sims), bool)
        now_day = self.now_ms // DAY_MS
        last_possible = np.minimum(self.inv.change_ms[sims], self.now_ms) // DAY_MS
        never = self.inv.activated_ms[sims] >= self.now_ms
        need_s &= ~never
        need_d &= ~never
        offset = np.zeros(len(sims), np.int64)
        unique = len(np.unique(sims)) == len(sims)  # then rows are found by SIM, vectorised
        for _ in range(lookback_windows):
            todo = np.flatnonzero(need_s | need_d)
            if len(todo) == 0:
                break
            # each SIM walks back from the last window that may hold sessions
            w_of = np.minimum(now_day, last_possible[todo]) - offset[todo]
            for w in np.unique(w_of):
                rows = todo[w_of == w]
                s = sessions_mod.generate(self.inv, sims[rows], int(w))
                if unique:
                    _take_latest(s, rows, sims[rows], s.start_ms < self.now_ms, need_s, started)
                    _take_latest(s, rows, sims[rows], s.deleted_ms < self.now_ms, need_d, deleted)
                    continue
                for row in rows:
                    mine = s.take(s.sim == sims[row]) if len(s) else empty
                    if need_s[row]:
                        ok = np.flatnonzero(mine.start_ms < self.now_ms)
                        if len(ok):
                            _assign(started, row, mine, ok[-1])
                            need_s[row] = False
                    if need_d[row]:
                        ok = np.flatnonzero(mine.deleted_ms < self.now_ms)
                        if len(ok):
                            _assign(deleted, row, mine, ok[-1])
                            need_d[row] = False
            offset[todo] += 1
        return sims, started, deleted

    # --- traffic -----------------------------------------------------------------------
    def day_usage(self, day: int) -> Usage:
        """Traffic of one UTC day for all SIMs (cut at now), cached."""
        with self._lock:
            if day in self._days:
                self._days.move_to_end(day)
                return self._days[day]
            lo, hi = day * DAY_MS, min((day + 1) * DAY_MS, self.now_ms)
            if lo >= hi:
                usage = Usage.aggregate(*(np.zeros(0, np.int64),) * 3, np.zeros((0, 4), np.int64))
            else:
                s = Sessions.concat([self.window(day - 1), self.window(day)])
                s, a, b = traffic.clip(s, lo, hi)
                usage = Usage.aggregate(s.sim, s.slot, s.sc, traffic.traffic_between(self.inv.seed, s, a, b))
            self._days.put(day, usage)
            return usage

    def month_usage(self, mi: int) -> Usage:
        """Traffic of one calendar month (sum of its days), cached."""
        with self._lock:
            if mi not in self._months:
                first, end = month_days(mi)
                self._months[mi] = Usage.concat([self.day_usage(d) for d in range(first, end)])
            return self._months[mi]

    def sim_buckets(
        self, sim: int, lo_ms: int, hi_ms: int
    ) -> tuple[NDArray[np.int64], NDArray[np.int64], Sessions]:
        s = self.sessions_of(np.asarray([sim]), lo_ms, hi_ms)
        return traffic.buckets(self.inv.seed, s, lo_ms, min(hi_ms, self.now_ms))


def _placeholder(sims: NDArray[np.int64]) -> Sessions:
    z = np.zeros(len(sims), np.int64)
    return Sessions(
        sim=sims.copy(),
        window=z.copy(),
        j=z - 1,
        slot=z.copy(),
        sc=z.copy(),
        start_ms=z.copy(),
        end_ms=z.copy(),
        deleted_ms=z.copy(),
        modified_ms=z - 1,
        r_ub=z.copy(),
        r_db=z.copy(),
        r_up=z.copy(),
        r_dp=z.copy(),
    )


def _take_latest(
    s: Sessions,
    rows: NDArray[np.int64],
    row_sims: NDArray[np.int64],
    ok: NDArray[np.bool_],
    need: NDArray[np.bool_],
    target: Sessions,
) -> None:
    """For each row still in `need`, copy its SIM's last session (in `s` order) where `ok` holds.

    `s` is ordered by SIM, then start, so the last `ok` index of a run of equal SIMs is the
    latest; `row_sims` (the SIMs of `rows`) must be unique."""
    k = np.flatnonzero(ok)
    if len(k) == 0:
        return
    sim = s.sim[k]
    last = np.r_[sim[1:] != sim[:-1], True]
    k, sim = k[last], sim[last]
    order = np.argsort(row_sims, kind="stable")
    found = rows[order[np.searchsorted(row_sims[order], sim)]]
    wanted = need[found]
    found, k = found[wanted], k[wanted]
    for f in fields(Sessions):
        getattr(target, f.name)[found] = getattr(s, f.name)[k]
    need[found] = False


def _assign(target: Sessions, row: int, source: Sessions, k: int) -> None:
    for f in fields(Sessions):
        getattr(target, f.name)[row] = getattr(source, f.name)[k]
