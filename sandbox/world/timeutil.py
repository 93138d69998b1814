"""UTC time helpers: days and months as integers, and the API's string formats."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

DAY_S = 86_400
DAY_MS = 86_400_000
BUCKET_S = 300  # Air stats "minutes" buckets: 5 minutes aligned to the epoch


def to_ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def day_of_ms(ms: int) -> int:
    """UTC day number (days since the epoch) holding this instant."""
    return ms // DAY_MS


def ymd(day: int) -> str:
    return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=day)).strftime("%Y%m%d")


def month_index(dt: datetime) -> int:
    """Months since 1970-01 (so month arithmetic is integer arithmetic)."""
    return (dt.year - 1970) * 12 + dt.month - 1


def month_start(mi: int) -> datetime:
    return datetime(1970 + mi // 12, mi % 12 + 1, 1, tzinfo=UTC)


def month_days(mi: int) -> tuple[int, int]:
    """[first day, end day) of a month as UTC day numbers."""
    return to_ms(month_start(mi)) // DAY_MS, to_ms(month_start(mi + 1)) // DAY_MS


def yyyymm(mi: int) -> str:
    return month_start(mi).strftime("%Y%m")


def parse_yyyymm(text: str) -> int:
    """Month index of a 'yyyyMM' string; ValueError with a hint otherwise."""
    if len(text) != 6 or not text.isdigit() or not 1 <= int(text[4:]) <= 12:
        raise ValueError(f"month must be yyyyMM (e.g. 202501), got {text!r}")
    return (int(text[:4]) - 1970) * 12 + int(text[4:]) - 1


def month_of_day(day: int) -> int:
    return month_index(datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=day))


def fmt_compact(ms: int) -> str:
    """yyyyMMddHHmmss, the GetLatestBill.lastEvaluatedTime format."""
    return from_ms(ms).strftime("%Y%m%d%H%M%S")


def fmt_minutes(s: int) -> str:
    return datetime.fromtimestamp(s, tz=UTC).strftime("%Y%m%d%H%M")
