"""Identifier formats: unique digit strings derived from (seed, SIM index).

Uniqueness comes from affine permutations modulo a power of ten (multiplier coprime to 10),
so no two indexes ever collide and no lookup table is needed to generate them.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from sandbox.world.hashing import hash64

# per coverage: prefixes of the digit strings
SIM_ID_PREFIX = {"jp": "89811", "g": "89423"}
ICCID_PREFIX = {"jp": "8981100", "g": "8988230"}
IMSI_PREFIX = {"jp": "44010", "g": "29505"}
MSISDN_PREFIX = {"jp": "8170", "g": "8823"}


def _perm(seed: int, stream: int, values: NDArray[np.int64], digits: int) -> NDArray[np.int64]:
    mod = 10**digits
    mult = 7_919_317 if digits > 8 else 7_919  # odd, not divisible by 5: a bijection mod 10**d
    offset = int(hash64(seed, stream) % np.uint64(mod))
    return (values.astype(np.int64) * mult + offset) % mod


def _digits(prefix: str, numbers: NDArray[np.int64], width: int) -> list[str]:
    return [f"{prefix}{int(n):0{width}d}" for n in numbers]


def sim_ids(seed: int, coverage: str, index: NDArray[np.int64]) -> list[str]:
    """19-digit SIM IDs."""
    seed_part = f"{seed % 1000:03d}"
    return _digits(SIM_ID_PREFIX[coverage] + seed_part, _perm(seed, 101, index, 11), 11)


def iccids(seed: int, coverage: str, index: NDArray[np.int64]) -> list[str]:
    """19-digit ICCIDs starting 898."""
    return _digits(ICCID_PREFIX[coverage], _perm(seed, 102, index, 12), 12)


def imsis(seed: int, coverage: str, index: NDArray[np.int64], slot: int) -> list[str]:
    """15-digit IMSIs (440... on jp, 295... on g); slot 1 is a SIM's second subscriber."""
    return _digits(IMSI_PREFIX[coverage], _perm(seed, 103, index * 2 + slot, 10), 10)


def msisdns(seed: int, coverage: str, index: NDArray[np.int64], slot: int) -> list[str]:
    return _digits(MSISDN_PREFIX[coverage], _perm(seed, 104, index * 2 + slot, 8), 8)


def imei(seed: int, sim_index: int) -> str:
    """15-digit IMEI of the device holding the SIM."""
    return f"35{int(hash64(seed, 105, sim_index) % np.uint64(10**13)):013d}"
