"""Traffic as an exact cumulative function of time within a session.

Bytes sent in [a, b) of a session = C(b) - C(a), with C(t) = floor(rate * W(start, t) / D) and
W the integral of a diurnal (and anomaly) weight. Because sums telescope, 5-minute buckets,
UTC days and months all add up exactly, and day totals need no per-bucket arrays.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from sandbox.world.hashing import uniform
from sandbox.world.inventory import always_on
from sandbox.world.sessions import Sessions
from sandbox.world.timeutil import BUCKET_S, DAY_MS

HOUR_MS = 3_600_000
# integer diurnal weights, mean 10
HOUR_WEIGHT = np.asarray(
    [4, 3, 3, 3, 4, 6, 9, 12, 14, 14, 14, 14, 14, 14, 13, 13, 13, 14, 14, 13, 11, 9, 7, 5]
)
assert int(HOUR_WEIGHT.sum()) == 240, "weights must average 10"
HOUR_PREFIX = np.concatenate([[0], np.cumsum(HOUR_WEIGHT)[:-1]]) * HOUR_MS
DAY_WEIGHT = int(HOUR_WEIGHT.sum()) * HOUR_MS
BYTES_DENOM = 1000 * 10  # rate is bytes per second at mean weight
PACKETS_DENOM = BYTES_DENOM * 100  # packet rates are per 100 s

ANOMALY_P = 0.008
_S = 400


def anomaly_factor(seed: int, sim: NDArray[np.int64], day: NDArray[np.int64]) -> NDArray[np.int64]:
    """10-50x on a few SIM-days (what the reporting layer's anomaly check must find), else 1.

    Only always-on SIMs get anomalies: their daily online time is steady, so the spike shows.
    """
    u = uniform(seed, _S, sim, day)
    hot = (u < ANOMALY_P) & always_on(seed, np.asarray(sim))
    return np.where(hot, 10 + (u / ANOMALY_P * 41).astype(np.int64), 1)


def _h(tod: NDArray[np.int64]) -> NDArray[np.int64]:
    hour = tod // HOUR_MS
    return HOUR_PREFIX[hour] + HOUR_WEIGHT[hour] * (tod - hour * HOUR_MS)


def weight_integral(
    seed: int, sim: NDArray[np.int64], s0: NDArray[np.int64], t: NDArray[np.int64]
) -> NDArray[np.int64]:
    """W(s0, t) for s0 <= t < the end of the UTC day after s0's."""
    d0 = s0 // DAY_MS
    f0 = anomaly_factor(seed, sim, d0)
    same = (t // DAY_MS) == d0
    h0 = _h(s0 - d0 * DAY_MS)
    h_t_same = _h(np.clip(t - d0 * DAY_MS, 0, DAY_MS - 1))
    h_t_next = _h(np.clip(t - (d0 + 1) * DAY_MS, 0, DAY_MS - 1))
    f1 = anomaly_factor(seed, sim, d0 + 1)
    return np.where(same, f0 * (h_t_same - h0), f0 * (DAY_WEIGHT - h0) + f1 * h_t_next)


def traffic_between(seed: int, s: Sessions, a: NDArray[np.int64], b: NDArray[np.int64]) -> NDArray[np.int64]:
    """(n, 4) upload bytes, upload packets, download bytes, download packets in [a, b) per session."""
    wa = weight_integral(seed, s.sim, s.start_ms, a)
    wb = weight_integral(seed, s.sim, s.start_ms, b)
    out = np.empty((len(a), 4), dtype=np.int64)
    for col, rate, denom in (
        (0, s.r_ub, BYTES_DENOM),
        (1, s.r_up, PACKETS_DENOM),
        (2, s.r_db, BYTES_DENOM),
        (3, s.r_dp, PACKETS_DENOM),
    ):
        out[:, col] = rate * wb // denom - rate * wa // denom
    return out


def clip(s: Sessions, lo_ms: int, hi_ms: int) -> tuple[Sessions, NDArray[np.int64], NDArray[np.int64]]:
    """Sessions online within [lo, hi), with the clipped [a, b) of each."""
    a = np.maximum(s.start_ms, lo_ms)
    b = np.minimum(s.end_ms, hi_ms)
    keep = a < b
    return s.take(keep), a[keep], b[keep]


def buckets(
    seed: int, s: Sessions, lo_ms: int, hi_ms: int
) -> tuple[NDArray[np.int64], NDArray[np.int64], Sessions]:
    """Split clipped sessions into 5-minute buckets: (bucket start s, (n,4) values, per-row session)."""
    s, a, b = clip(s, lo_ms, hi_ms)
    width = BUCKET_S * 1000
    first = a // width
    count = (b - 1) // width - first + 1
    rep = np.repeat(np.arange(len(s)), count)
    k = np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count)
    bucket = first[rep] + k
    s_rep = s.take(rep)
    ba = np.maximum(bucket * width, a[rep])
    bb = np.minimum((bucket + 1) * width, b[rep])
    return bucket * BUCKET_S, traffic_between(seed, s_rep, ba, bb), s_rep
