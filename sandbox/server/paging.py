"""Cursor pagination as Soracom does it.

The next-page cursor goes out in `x-soracom-next-key` and/or a
`link: </v1/...?last_evaluated_key=...>; rel=next` header, per operation (see
`NEXT_PAGE_STYLE`), and comes back as the `last_evaluated_key` query parameter. No
header means no more pages. Pages may be shorter than `limit` even when more follow
(the cut point is a deterministic function of the operation and the cursor).

Two kinds of lists:
- inventory lists (SIMs, subscribers, groups) page by the id of the last item returned;
- time-ordered lists (sessions, Harvest entries, audit logs) page by an opaque cursor
  holding the time of the last item and how many items at that same time were already
  returned, so new entries arriving at the head (the API audit log grows with every
  call) never shift later pages.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import json
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlencode

from starlette.requests import Request

from sandbox.server.errors import Shape, bad_request

Style = Literal["both", "next-key", "link"]

# Which header(s) each operation answers with. From the spec: every paged operation has
# `x-soracom-cli-pagination: header x-soracom-next-key`, so every one sends it; those whose
# description also promises a `link` header send both.
NEXT_PAGE_STYLE: dict[str, Style] = {
    "listSims": "both",
    "listSimSessionEvents": "both",
    "getDataEntries": "both",
    "getDataFromSim": "both",
    "getDataFromSubscriber": "both",
    "listDataSourceResources": "both",
    "listSubscribers": "both",
    "listSessionEvents": "both",
    "listGroups": "next-key",
    "getApiAuditLogs": "next-key",
    "getNapterAuditLogs": "next-key",
    "getLogs": "both",
}


@dataclass(frozen=True)
class Limit:
    default: int
    maximum: int | None


def parse_limit(request: Request, bounds: Limit, shape: Shape = "simple") -> int:
    raw = request.query_params.get("limit")
    if raw is None or raw == "":
        return bounds.default
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"limit must be an integer, got {raw!r}", shape) from None
    top = bounds.maximum
    if value < 1 or (top is not None and value > top):
        allowed = f"1 to {top}" if top is not None else "at least 1"
        raise bad_request(f"limit must be {allowed}, got {value}", shape)
    return value


def page_size(limit: int, operation: str, cursor: str | None, short_pages: bool) -> int:
    """`limit`, or for about one page in four a deterministic smaller size (at least 1)."""
    if not short_pages or limit <= 1:
        return limit
    h = zlib.crc32(f"{operation}|{cursor or ''}".encode())
    if h % 4:
        return limit
    return 1 + (h // 4) % (limit - 1)


def encode_cursor(values: list[Any]) -> str:
    raw = json.dumps(values, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(raw: str) -> list[Any]:
    try:
        padded = raw + "=" * (-len(raw) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise bad_request(
            "last_evaluated_key is not a cursor this server issued: send back the value of the "
            "x-soracom-next-key header (or the link header) unchanged."
        ) from None
    if not isinstance(values, list):
        raise bad_request("last_evaluated_key is not a cursor this server issued.")
    return values


def next_page_headers(request: Request, operation: str, next_key: str | None) -> dict[str, str]:
    if next_key is None:
        return {}
    style = NEXT_PAGE_STYLE[operation]
    headers: dict[str, str] = {}
    if style in ("both", "next-key"):
        headers["x-soracom-next-key"] = next_key
    if style in ("both", "link"):
        params = [(k, v) for k, v in request.query_params.multi_items() if k != "last_evaluated_key"]
        params.append(("last_evaluated_key", next_key))
        headers["link"] = f"<{request.url.path}?{urlencode(params)}>; rel=next"
    return headers


# --- inventory lists: keyed by the id of the last item --------------------------------


def start_after(ids_index: dict[str, int], key: str | None) -> int:
    if key is None:
        return 0
    position = ids_index.get(key)
    if position is None:
        raise bad_request(f"last_evaluated_key {key!r} does not name an item of this list.")
    return position + 1


# --- time-ordered lists ---------------------------------------------------------------


@dataclass(frozen=True)
class TimeCursor:
    time: int  # time of the last item returned
    done: int  # items at exactly that time already returned


def parse_time_cursor(raw: str | None, accept_plain_time: bool = False) -> TimeCursor | None:
    """Decode our cursor; optionally accept a bare epoch-ms time, as the audit log docs describe."""
    if raw is None or raw == "":
        return None
    if accept_plain_time and raw.isdigit():
        # "the requestedTimeEpochMs of the last entry": continue strictly before it
        return TimeCursor(time=int(raw), done=1 << 62)
    values = decode_cursor(raw)
    if len(values) != 3 or values[0] != "t" or not all(isinstance(v, int) for v in values[1:]):
        raise bad_request("last_evaluated_key is not a cursor of this list.")
    return TimeCursor(time=values[1], done=values[2])


def narrow_window(cursor: TimeCursor | None, from_ms: int, to_ms: int, descending: bool) -> tuple[int, int]:
    """The query window that still holds the items after `cursor` (plus some to skip)."""
    if cursor is None:
        return from_ms, to_ms
    if descending:
        return from_ms, min(to_ms, cursor.time + 1)
    return max(from_ms, cursor.time), to_ms


def first_at_or_after_cursor(
    items: Sequence[dict], cursor: TimeCursor | None, time_of: Callable[[dict], int], descending: bool
) -> int:
    """Index of the first item of the whole (un-narrowed) list at or past the cursor's time."""
    if cursor is None:
        return 0
    if descending:
        return bisect.bisect_left(items, -cursor.time, key=lambda item: -time_of(item))
    return bisect.bisect_left(items, cursor.time, key=time_of)


def time_page(
    items: Sequence[dict],
    cursor: TimeCursor | None,
    size: int,
    time_of: Callable[[dict], int],
    offset: int = 0,
) -> tuple[list[dict], str | None]:
    """From `offset`, skip what `cursor` already returned at its time, take `size` items,
    and build the next cursor."""
    start = offset
    if cursor is not None:
        skipped = 0
        while start < len(items) and skipped < cursor.done and time_of(items[start]) == cursor.time:
            start += 1
            skipped += 1
    page = list(items[start : start + size])
    if start + size >= len(items) or not page:
        return page, None
    last = time_of(page[-1])
    same = 0
    for item in reversed(page):
        if time_of(item) != last:
            break
        same += 1
    if cursor is not None and last == cursor.time and same == len(page):
        same += start - offset
    return page, encode_cursor(["t", last, same])
