"""`GET /v1/sims`, `GET /v1/subscribers`, `GET /v1/groups`."""

from __future__ import annotations

import bisect
from collections.abc import Callable

from starlette.responses import Response

from sandbox.server.call import Call, Operation, json_array_response, json_response
from sandbox.server.errors import bad_request
from sandbox.server.paging import (
    Limit,
    decode_cursor,
    encode_cursor,
    next_page_headers,
    page_size,
    parse_limit,
)
from sandbox.server.paging import start_after as position_after

SIMS_LIMIT = Limit(default=100, maximum=None)  # spec: no bounds; pages may be shorter
SUBSCRIBERS_LIMIT = Limit(default=100, maximum=100)  # spec: 1..100
GROUPS_LIMIT = Limit(default=100, maximum=None)


def _page_cursor(call: Call, key: str | None) -> str | None:
    if key is not None and call.state.settings.repeat_cursor:
        return call.query("last_evaluated_key") or key
    return key


async def list_sims(call: Call) -> Response:
    inventory = call.state.inventories[call.coverage]
    limit = parse_limit(call.request, SIMS_LIMIT)
    raw = call.query("last_evaluated_key")
    start = 0
    if raw is not None:
        values = decode_cursor(raw)
        if len(values) != 2 or values[0] != "sim" or not isinstance(values[1], str):
            raise _foreign_cursor()
        start = position_after(inventory.sim_index, values[1])
    size = page_size(limit, call.operation, raw, call.state.settings.short_pages)
    ids = inventory.sim_ids[start : start + size]
    more = start + size < len(inventory.sim_ids)
    next_key = _page_cursor(call, encode_cursor(["sim", ids[-1]]) if more and ids else None)
    return json_array_response(
        inventory.sims_json(ids), next_page_headers(call.request, call.operation, next_key)
    )


def _foreign_cursor() -> Exception:
    return bad_request(
        "last_evaluated_key is not a cursor of this list: send back the x-soracom-next-key value unchanged."
    )


def _tag_filter(call: Call) -> Callable[[dict], bool] | None:
    name = call.query("tag_name")
    value = call.query("tag_value")
    mode = call.choice_query("tag_value_match_mode", ("exact", "prefix"), "exact")
    if name is None and value is None:
        return None
    if name is None or value is None:
        raise bad_request("tag_name and tag_value must be given together")

    def matches(item: dict) -> bool:
        tag = (item.get("tags") or {}).get(name)
        if tag is None:
            return False
        return tag == value if mode == "exact" else tag.startswith(value)

    return matches


def _split(raw: str | None) -> set[str] | None:
    return None if raw is None else {part for part in raw.split("|") if part}


def _wanted(
    subscriber: dict,
    statuses: set[str] | None,
    speeds: set[str] | None,
    serials: set[str] | None,
    tags: Callable[[dict], bool] | None,
) -> bool:
    if statuses is not None and subscriber.get("status") not in statuses:
        return False
    if speeds is not None and subscriber.get("speedClass") not in speeds:
        return False
    serial = str(subscriber.get("serialNumber") or "")
    if serials is not None and not any(serial.startswith(s) for s in serials):
        return False
    return tags is None or tags(subscriber)


async def list_subscribers(call: Call) -> Response:
    """Sorted by IMSI; `last_evaluated_key` is the IMSI of the last subscriber (as documented)."""
    inventory = call.state.inventories[call.coverage]
    limit = parse_limit(call.request, SUBSCRIBERS_LIMIT)
    key = call.query("last_evaluated_key")
    tags = _tag_filter(call)
    statuses = _split(call.query("status_filter"))
    speeds = _split(call.query("speed_class_filter"))
    serials = _split(call.query("serial_number_filter"))
    size = page_size(limit, call.operation, key, call.state.settings.short_pages)
    imsis = inventory.imsis
    position = bisect.bisect_right(imsis, key) if key is not None else 0
    page: list[dict] = []
    more = False
    while position < len(imsis) and not more:
        chunk = imsis[position : position + size + 1]
        position += len(chunk)
        for subscriber in inventory.subscribers(chunk):
            if not _wanted(subscriber, statuses, speeds, serials, tags):
                continue
            if len(page) == size:
                more = True
                break
            page.append(subscriber)
    next_key = _page_cursor(call, page[-1]["imsi"] if more else None)
    return json_response(page, next_page_headers(call.request, call.operation, next_key))


async def list_groups(call: Call) -> Response:
    """`last_evaluated_key` is the id of the last group returned (as documented)."""
    inventory = call.state.inventories[call.coverage]
    limit = parse_limit(call.request, GROUPS_LIMIT)
    key = call.query("last_evaluated_key")
    tags = _tag_filter(call)
    groups = [g for g in inventory.groups if tags is None or tags(g)]
    start = 0
    if key is not None:
        ids = [g["groupId"] for g in groups]
        start = position_after({gid: i for i, gid in enumerate(ids)}, key)
    size = page_size(limit, call.operation, key, call.state.settings.short_pages)
    page = groups[start : start + size]
    more = start + size < len(groups)
    next_key = _page_cursor(call, page[-1]["groupId"] if more and page else None)
    return json_response(page, next_page_headers(call.request, call.operation, next_key))


OPERATIONS = [
    Operation("GET", "/sims", "listSims", list_sims),
    Operation("GET", "/subscribers", "listSubscribers", list_subscribers),
    Operation("GET", "/groups", "listGroups", list_groups),
]
