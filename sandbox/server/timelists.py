"""Shared handling of time-windowed, time-ordered lists (sessions, Harvest, audit logs).

Windows are `[from, to)` in epoch milliseconds. A missing `from` means "as far back as
Soracom keeps"; a `from` older than the retention window is silently raised to it (the
data is gone, as on Soracom); a missing `to`, or one after now, means now: nothing after
now exists, and a far-future `to` (e.g. 2^48) must cost no more than its answer.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.responses import Response

from sandbox.server.call import Call, json_response
from sandbox.server.errors import bad_request
from sandbox.server.paging import (
    Limit,
    first_at_or_after_cursor,
    narrow_window,
    next_page_headers,
    page_size,
    parse_limit,
    parse_time_cursor,
    time_page,
)


def ms_window(
    call: Call, kept_from_ms: int, now_ms: int, from_name: str = "from", to_name: str = "to"
) -> tuple[int, int]:
    asked_from = call.int_query(from_name)
    asked_to = call.int_query(to_name)
    if asked_from is not None and asked_to is not None and asked_to < asked_from:
        raise bad_request(
            f"{from_name} must not be after {to_name} (both in epoch milliseconds)", call.error_shape
        )
    start = kept_from_ms if asked_from is None else max(asked_from, kept_from_ms)
    end = now_ms if asked_to is None else min(asked_to, now_ms)
    return start, max(start, end)


def time_list(
    call: Call,
    window: tuple[int, int],
    fetch: Callable[[int, int], list[dict]],
    time_of: Callable[[dict], int],
    bounds: Limit,
    descending: bool = True,
    accept_plain_time: bool = False,
    cache_key: tuple | None = None,
) -> Response:
    """Answer one page of `fetch(from_ms, to_ms)` with the next-page headers.

    With a `cache_key` (lists that cannot change: the past is fixed), the whole window is
    fetched once and later pages are cut from it; without one (the API audit log grows
    with every call), each page fetches only the window still ahead of the cursor.
    """
    limit = parse_limit(call.request, bounds, call.error_shape)
    raw = call.query("last_evaluated_key")
    cursor = parse_time_cursor(raw, accept_plain_time)
    size = page_size(limit, call.operation, raw, call.state.settings.short_pages)
    if cache_key is not None:
        key = (call.operation, call.coverage, *cache_key, window)
        items = call.state.lists.get(key)
        if items is None:
            items = fetch(*window) if window[0] < window[1] else []
            call.state.lists.put(key, items)
        offset = first_at_or_after_cursor(items, cursor, time_of, descending)
        page, next_key = time_page(items, cursor, size, time_of, offset)
    else:
        start, end = narrow_window(cursor, window[0], window[1], descending)
        items = fetch(start, end) if start < end else []
        page, next_key = time_page(items, cursor, size, time_of)
    if next_key is not None and raw is not None and call.state.settings.repeat_cursor:
        next_key = raw
    return json_response(page, next_page_headers(call.request, call.operation, next_key))
