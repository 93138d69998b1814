from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from pipelines.soracom import to_epoch_ms, to_epoch_s, yyyymm, yyyymmdd


def test_epoch_conversions_are_exact():
    t = datetime(2024, 3, 1, 12, 0, 0, 123999, tzinfo=UTC)
    assert to_epoch_ms(t) == 1709294400123
    assert to_epoch_s(t) == 1709294400
    jst = timezone(timedelta(hours=9))
    assert to_epoch_s(datetime(2024, 3, 1, 21, 0, tzinfo=jst)) == 1709294400


def test_naive_datetime_is_refused():
    with pytest.raises(ValueError, match="no time zone"):
        to_epoch_ms(datetime(2024, 1, 1))


def test_calendar_strings():
    jst = timezone(timedelta(hours=9))
    assert yyyymmdd(datetime(2024, 3, 1, 2, 0, tzinfo=jst)) == "20240229"  # UTC day
    assert yyyymmdd(date(2024, 3, 1)) == "20240301"
    assert yyyymm("202402") == "202402"
    assert yyyymm(date(2024, 2, 9)) == "202402"
    with pytest.raises(ValueError, match="not yyyyMM"):
        yyyymm("2024-02")
    with pytest.raises(ValueError, match="not yyyyMM"):
        yyyymm("202413")
