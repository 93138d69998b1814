"""Counter-based hashing: every random draw is a pure function of (seed, stream, keys...).

This is what makes the world lazy and stable: the value for (sim, day, k) is the same whether
it is computed alone or in a vectorised pass over 100k SIMs, and regardless of `now`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)


def _mix(x: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """splitmix64 finaliser (bijective avalanche on uint64)."""
    x = (x ^ (x >> _S30)) * _M1
    x = (x ^ (x >> _S27)) * _M2
    return x ^ (x >> _S31)


def hash64(seed: int, stream: int, *keys: ArrayLike) -> NDArray[np.uint64]:
    """Hash (seed, stream, keys...) to uint64; keys broadcast like numpy arrays."""
    with np.errstate(over="ignore"):
        h = _mix(np.asarray(np.uint64((seed * 0x2545F4914F6CDD1D + stream) & 0xFFFFFFFFFFFFFFFF)))
        for key in keys:
            k = np.asarray(key).astype(np.int64).view(np.uint64)
            h = _mix(h ^ (k + _GOLDEN + (h << np.uint64(6)) + (h >> np.uint64(2))))
        return np.asarray(h, dtype=np.uint64)


def uniform(seed: int, stream: int, *keys: ArrayLike) -> NDArray[np.float64]:
    """Uniform floats in [0, 1) from the hash of the keys."""
    return (hash64(seed, stream, *keys) >> _S11).astype(np.float64) * (1.0 / 9007199254740992.0)


def integers(seed: int, stream: int, low: int, high: int, *keys: ArrayLike) -> NDArray[np.int64]:
    """Integers in [low, high) from the hash of the keys."""
    span = np.uint64(high - low)
    return (hash64(seed, stream, *keys) % span).astype(np.int64) + low


def uuid_from(h: int) -> str:
    """A UUID-shaped string from one 64-bit hash (deterministic, not RFC-random)."""
    b = int(hash64(0, 7, np.int64(h & 0x7FFFFFFFFFFFFFFF)))
    x = f"{h:016x}{b:016x}"
    return f"{x[0:8]}-{x[8:12]}-4{x[13:16]}-a{x[17:20]}-{x[20:32]}"
