"""Harvest Data: `GET /v1/data/resources`, `/v1/data/{type}/{id}`, `/v1/sims/{id}/data`,
`/v1/subscribers/{imsi}/data`."""

from __future__ import annotations

from starlette.responses import Response

from sandbox.server.call import Call, Operation, json_response
from sandbox.server.errors import bad_request, not_found
from sandbox.server.kept import kept_since_ms
from sandbox.server.paging import (
    Limit,
    decode_cursor,
    encode_cursor,
    next_page_headers,
    page_size,
    parse_limit,
)
from sandbox.server.timelists import ms_window, time_list

RESOURCE_TYPES = ("Subscriber", "LoraDevice", "Sim", "SigfoxDevice", "Device", "SoraCam")
WORLD_RESOURCE_TYPES = ("Sim", "Subscriber")  # the synthetic operator has SIMs only
ENTRIES_LIMIT = Limit(default=10, maximum=1000)  # spec: 1..1000, default 10 (!)
RESOURCES_LIMIT = Limit(default=100, maximum=None)


def _entry_time(entry: dict) -> int:
    return int(entry["time"])


def _entries(call: Call, resource_type: str, resource_id: str) -> Response:
    sort = call.choice_query("sort", ("desc", "asc"), "desc")
    now = call.world.now_ms
    window = ms_window(call, kept_since_ms("harvest", now), now)

    def fetch(a: int, b: int) -> list[dict]:
        if resource_type not in WORLD_RESOURCE_TYPES:
            return []  # a valid type this operator has no devices of
        return call.world.harvest_entries(resource_type, resource_id, a, b, sort=sort)

    return time_list(
        call,
        window,
        fetch,
        _entry_time,
        ENTRIES_LIMIT,
        descending=sort == "desc",
        cache_key=(resource_type, resource_id, sort),
    )


async def get_data_entries(call: Call) -> Response:
    resource_type = call.request.path_params["resource_type"]
    if resource_type not in RESOURCE_TYPES:
        raise bad_request(f"resource_type must be one of {', '.join(RESOURCE_TYPES)}; got {resource_type!r}")
    return _entries(call, resource_type, call.request.path_params["resource_id"])


async def get_data_from_sim(call: Call) -> Response:
    sim_id = call.request.path_params["sim_id"]
    if call.state.coverage_of_sim(sim_id) != call.coverage:
        raise not_found(f"No such SIM: {sim_id}")
    return _entries(call, "Sim", sim_id)


async def get_data_from_subscriber(call: Call) -> Response:
    imsi = call.request.path_params["imsi"]
    if call.state.coverage_of_imsi(imsi) != call.coverage:
        raise not_found(f"No such subscriber: {imsi}")
    return _entries(call, "Subscriber", imsi)


async def list_data_source_resources(call: Call) -> Response:
    resource_type = call.choice_query("resource_type", RESOURCE_TYPES)
    limit = parse_limit(call.request, RESOURCES_LIMIT)
    resources = [
        r
        for r in call.world.harvest_resources(call.coverage)
        if resource_type is None or r["resourceType"] == resource_type
    ]
    raw = call.query("last_evaluated_key")
    start = 0
    if raw is not None:
        values = decode_cursor(raw)
        keys = [(r["resourceType"], r["resourceId"]) for r in resources]
        if len(values) != 3 or values[0] != "res" or (values[1], values[2]) not in keys:
            raise bad_request("last_evaluated_key is not a cursor of this list.")
        start = keys.index((values[1], values[2])) + 1
    size = page_size(limit, call.operation, raw, call.state.settings.short_pages)
    page = resources[start : start + size]
    next_key = None
    if start + size < len(resources) and page:
        next_key = encode_cursor(["res", page[-1]["resourceType"], page[-1]["resourceId"]])
        if raw is not None and call.state.settings.repeat_cursor:
            next_key = raw
    return json_response(page, next_page_headers(call.request, call.operation, next_key))


OPERATIONS = [
    Operation("GET", "/data/resources", "listDataSourceResources", list_data_source_resources),
    Operation("GET", "/data/{resource_type}/{resource_id}", "getDataEntries", get_data_entries),
    Operation("GET", "/sims/{sim_id}/data", "getDataFromSim", get_data_from_sim),
    Operation("GET", "/subscribers/{imsi}/data", "getDataFromSubscriber", get_data_from_subscriber),
]
