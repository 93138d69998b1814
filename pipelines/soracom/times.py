"""Datetime conversions for the API's mixed time units (ms, s, yyyyMMdd, yyyyMM)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_YYYYMM = re.compile(r"^\d{4}(0[1-9]|1[0-2])$")


def _aware(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name}={value.isoformat()} has no time zone: pass an aware datetime (e.g. UTC)")
    return value


def to_epoch_ms(value: datetime, name: str = "time") -> int:
    """UNIX time in milliseconds (session events, Harvest, audit logs)."""
    return (_aware(value, name) - _EPOCH) // timedelta(milliseconds=1)


def to_epoch_s(value: datetime, name: str = "time") -> int:
    """UNIX time in whole seconds (stats queries, export bodies)."""
    return (_aware(value, name) - _EPOCH) // timedelta(seconds=1)


def from_epoch_ms(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, tz=UTC)


def yyyymmdd(value: date | datetime) -> str:
    """`yyyyMMdd` of a date, or of an aware datetime in UTC."""
    if isinstance(value, datetime):
        value = _aware(value, "date").astimezone(UTC).date()
    return value.strftime("%Y%m%d")


def yyyymm(value: str | date | datetime) -> str:
    """`yyyyMM` of a month given as a string, date or aware datetime (UTC)."""
    if isinstance(value, str):
        if not _YYYYMM.match(value):
            raise ValueError(f"month {value!r} is not yyyyMM (e.g. '202401')")
        return value
    if isinstance(value, datetime):
        value = _aware(value, "month").astimezone(UTC).date()
    if isinstance(value, date):
        return value.strftime("%Y%m")
    raise TypeError(f"month must be a yyyyMM string, date or datetime, got {type(value).__name__}")
