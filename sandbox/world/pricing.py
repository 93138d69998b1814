"""Prices of the synthetic operator, per coverage, as exact integers of nano-currency.

Money is summed in integer nano units (1e-9 JPY or USD) so every total is exact; it becomes a
Decimal only at the edge. Data is priced per byte; basic fees per SIM per month (not prorated:
a SIM that existed at any time in the month and was not `ready` pays the fee of its status at the
end of the month, or at `now` for the current month; a SIM terminated in the month pays the
`active` fee).
"""

from __future__ import annotations

from decimal import Decimal

SPEED_CLASSES: tuple[str, ...] = ("s1.minimum", "s1.slow", "s1.standard", "s1.fast", "s1.4xfast")
NANO = 1_000_000_000

CURRENCY: dict[str, str] = {"jp": "JPY", "g": "USD"}

# price per byte, nano-currency per byte, indexed like SPEED_CLASSES
DATA_PRICE_NANO: dict[str, tuple[int, ...]] = {
    "jp": (180, 200, 220, 250, 300),  # 0.18 .. 0.30 JPY per MB
    "g": (2, 2, 3, 3, 4),  # 0.002 .. 0.004 USD per MB
}

# monthly basic fee per SIM by status at month end, nano-currency
BASIC_FEE_NANO: dict[str, dict[str, int]] = {
    "jp": {
        "active": 300 * NANO,
        "inactive": 300 * NANO,
        "suspended": 300 * NANO,
        "standby": 60 * NANO,
        "terminated": 300 * NANO,
    },
    "g": {
        "active": 1_800_000_000,
        "inactive": 1_800_000_000,
        "suspended": 1_800_000_000,
        "standby": 400_000_000,
        "terminated": 1_800_000_000,
    },
}

# non-SIM items
VPG_HOURLY_NANO: dict[str, int] = {"jp": 40 * NANO, "g": 300_000_000}
FREE_TIER_CAP_NANO: dict[str, int] = {"jp": 500 * NANO, "g": 5 * NANO}

# Bill item names as each coverage prints them: Japanese on jp, English on g. Soracom does not
# document its names; these follow its price pages' wording. (kind -> name template)
ITEM_NAMES: dict[str, dict[str, str]] = {
    "jp": {
        "data": "データ通信料金 ({sc})",
        "basic": "基本料金 ({status})",
        "vpg": "VPG Type-E 利用料金",
        "free_tier": "無料利用枠",
    },
    "g": {
        "data": "Data usage fee ({sc})",
        "basic": "Basic fee ({status})",
        "vpg": "VPG Type-E usage fee",
        "free_tier": "Free tier",
    },
}

# /bills/summaries billItemCategory of each kind of item
CATEGORY_OF_KIND: dict[str, str] = {
    "data": "Air data usage",
    "basic": "Air basic fee",
    "vpg": "Virtual Private Gateway",
    "free_tier": "Discount",
}

# Currencies whose line amounts are whole units (Soracom bills yen without decimals).
WHOLE_UNIT_CURRENCIES = frozenset({"JPY"})


def json_money(amount: Decimal) -> int | float:
    """A money amount as JSON prints it: whole amounts as integers (`82320`, not `82320.0`)."""
    return int(amount) if amount == amount.to_integral_value() else float(amount)


def nano_to_decimal(nano: int) -> Decimal:
    """Exact Decimal of a nano-currency integer, without trailing zeros beyond what is needed."""
    d = Decimal(int(nano)).scaleb(-9)
    return d.quantize(Decimal(1)) if d == d.to_integral_value() else d.normalize()


def decimal_text(d: Decimal) -> str:
    """Plain decimal notation (never scientific), as the CSV writes it."""
    return format(d, "f")
