"""Pure logic of the server: time cursors with ties, page sizes, rate-limit windows, settings."""

from __future__ import annotations

import pytest

from sandbox.server.paging import (
    TimeCursor,
    decode_cursor,
    first_at_or_after_cursor,
    narrow_window,
    page_size,
    parse_time_cursor,
    time_page,
)
from sandbox.server.ratelimit import RateLimiter
from sandbox.server.settings import SandboxSettings

# many items share a time: pages must neither repeat nor skip any of them
TIMES_DESC = [9, 9, 9, 7, 7, 7, 7, 7, 5, 4, 4, 1]


def _items(times: list[int]) -> list[dict]:
    return [{"time": t, "n": i} for i, t in enumerate(times)]


def _time(item: dict) -> int:
    return item["time"]


def _page_all_cached(items: list[dict], size: int, descending: bool) -> list[dict]:
    out, raw = [], None
    for _ in range(100):
        cursor = parse_time_cursor(raw)
        offset = first_at_or_after_cursor(items, cursor, _time, descending)
        page, raw = time_page(items, cursor, size, _time, offset)
        out.extend(page)
        if raw is None:
            return out
    raise AssertionError("did not finish")


def _page_all_narrowed(items: list[dict], size: int, descending: bool) -> list[dict]:
    """As the server pages lists it cannot cache: re-query the narrowed window each time."""
    out, raw = [], None
    for _ in range(100):
        cursor = parse_time_cursor(raw)
        lo, hi = narrow_window(cursor, 0, 100, descending)
        window = [i for i in items if lo <= i["time"] < hi]
        page, raw = time_page(window, cursor, size, _time)
        out.extend(page)
        if raw is None:
            return out
    raise AssertionError("did not finish")


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 12, 50])
@pytest.mark.parametrize("descending", [True, False])
def test_time_paging_with_ties_returns_every_item_once(size, descending):
    items = _items(TIMES_DESC if descending else sorted(TIMES_DESC))
    assert _page_all_cached(items, size, descending) == items
    assert _page_all_narrowed(items, size, descending) == items


def test_new_items_at_the_head_do_not_shift_later_pages():
    items = _items(TIMES_DESC)
    first, raw = time_page(items, None, 4, _time)
    grown = [{"time": 11, "n": 99}, *items]  # a newer entry arrived (the API audit log grows)
    cursor = parse_time_cursor(raw)
    lo, hi = narrow_window(cursor, 0, 100, True)
    second, _ = time_page([i for i in grown if lo <= i["time"] < hi], cursor, 4, _time)
    assert first + second == items[:8]


def test_a_plain_time_key_continues_strictly_before_it():
    cursor = parse_time_cursor("7", accept_plain_time=True)
    items = _items(TIMES_DESC)
    offset = first_at_or_after_cursor(items, cursor, _time, True)
    page, _ = time_page(items, cursor, 10, _time, offset)
    assert [i["time"] for i in page] == [5, 4, 4, 1]
    with pytest.raises(Exception, match="last_evaluated_key"):
        parse_time_cursor("7")


def test_cursors_are_opaque_but_checked():
    assert parse_time_cursor(None) is None
    for bad in ("%%%", "eyJ4IjoxfQ", "WyJzaW0iLCJ4Il0"):  # not base64 / not a list / not a time cursor
        with pytest.raises(Exception, match="last_evaluated_key"):
            parse_time_cursor(bad)
    with pytest.raises(Exception, match="last_evaluated_key"):
        decode_cursor("e30")  # {} is not a list
    assert TimeCursor(1, 2) == TimeCursor(1, 2)


def test_page_sizes_are_deterministic_sometimes_short_and_never_empty():
    sizes = [page_size(50, "listSims", f"cursor-{i}", True) for i in range(400)]
    assert sizes == [page_size(50, "listSims", f"cursor-{i}", True) for i in range(400)]
    assert all(1 <= s <= 50 for s in sizes)
    assert 0.1 < sum(s < 50 for s in sizes) / len(sizes) < 0.4
    assert page_size(50, "listSims", "cursor-1", False) == 50
    assert page_size(1, "listSims", "x", True) == 1


def test_rate_limiter_counts_per_key_and_refuses_over_the_limit():
    limiter = RateLimiter()
    decisions = [limiter.check(("OP1", "listSims"), 2) for _ in range(3)]
    assert [d.allowed for d in decisions] == [True, True, False]
    assert [d.remaining for d in decisions] == [1, 0, 0]
    assert "Retry-After" in decisions[-1].headers() and "Retry-After" not in decisions[0].headers()
    assert limiter.check(("OP1", "listGroups"), 2).allowed
    assert limiter.check(("OP2", "listSims"), 2).allowed
    peek = limiter.check(("OP3", "listSims"), 2, count=False)
    assert peek.remaining == 2
    limiter.reset()
    assert limiter.check(("OP1", "listSims"), 2).allowed


def test_a_new_window_says_its_whole_length_never_more():
    """`started + 60 - now` rounds up past 60 at some clock values (this one: 60.0000000000036),
    which told a client to wait 61 s at the first call of a 60-s window."""
    clock = 32726.293877137938
    limiter = RateLimiter(clock=lambda: clock)
    assert limiter.check(("OP1", "listSims"), 5).seconds_before_refresh == 60
    assert limiter.check(("OP1", "listGroups"), 5, window_s=5.0).seconds_before_refresh == 5
    clock += 0.25
    assert limiter.check(("OP1", "listSims"), 5).seconds_before_refresh == 60  # 59.75 s left
    clock += 59.74
    assert limiter.check(("OP1", "listSims"), 5).seconds_before_refresh == 1


def test_a_shortened_rate_window_refreshes_sooner_and_says_so():
    clock = 1000.0
    limiter = RateLimiter(clock=lambda: clock)
    long = [limiter.check(("OP1", "listSims"), 1, window_s=30.0) for _ in range(2)]
    assert [d.allowed for d in long] == [True, False]
    assert long[-1].seconds_before_refresh == 30  # the headers tell the window's length
    short = [limiter.check(("OP1", "listGroups"), 1, window_s=0.2) for _ in range(2)]
    assert [d.allowed for d in short] == [True, False]
    assert short[-1].seconds_before_refresh == 1  # whole seconds, rounded up
    clock += 0.25
    assert limiter.check(("OP1", "listGroups"), 1, window_s=0.2).allowed  # a new window
    assert not limiter.check(("OP1", "listSims"), 1, window_s=30.0).allowed  # its own window goes on
    clock += 29.75
    assert limiter.check(("OP1", "listSims"), 1, window_s=30.0).allowed


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"error_rate": 1.5}, "between 0 and 1"),
        ({"drop_rate": "x"}, "must be a number"),
        ({"latency_ms": -1}, ">= 0"),
        ({"rate_limit_per_minute": 0}, "positive integer"),
        ({"rate_limit_window_s": 0}, "positive number of seconds"),
        ({"token_ttl": 0}, "positive number"),
        ({"export_outcome": "done"}, "export_outcome"),
        ({"short_pages": "yes"}, "true or false"),
        ({"auth_key": ""}, "non-empty string"),
        ({"nope": 1}, "unknown sandbox setting"),
    ],
)
def test_settings_reject_bad_values_and_change_nothing(changes, message):
    settings = SandboxSettings()
    with pytest.raises(ValueError, match=message):
        settings.update({"latency_ms": 5, **changes})
    assert settings.latency_ms == 0


def test_settings_accept_good_values():
    settings = SandboxSettings()
    settings.update(
        {"error_rate": 1, "token_ttl": None, "export_outcome": "failed", "rate_limit_per_minute": 5}
    )
    assert settings.error_rate == 1.0 and settings.export_outcome == "failed"
