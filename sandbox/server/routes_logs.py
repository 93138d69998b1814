"""`GET /v1/logs` (getLogs): error logs, newest first, paged by `x-soracom-next-key`."""

from __future__ import annotations

from starlette.responses import Response

from sandbox.server.call import Call, Operation
from sandbox.server.paging import Limit
from sandbox.server.timelists import ms_window, time_list
from sandbox.world import error_logs

LOGS_LIMIT = Limit(default=100, maximum=1000)
SERVICES = ("Air", "Beam", "Funk", "Funnel", "Harvest", "Napter", "Orbit", "Unified")
RESOURCE_TYPES = ("Subscriber", "Device", "LoraDevice", "SigfoxDevice")


def _time(entry: dict) -> int:
    return int(entry["time"])


async def get_logs(call: Call) -> Response:
    resource_type = call.choice_query("resource_type", RESOURCE_TYPES)
    resource_id = call.query("resource_id")
    service = call.choice_query("service", SERVICES)
    now = call.world.now_ms
    window = ms_window(call, now - error_logs.KEPT_DAYS * error_logs.DAY_MS, now)

    def fetch(a: int, b: int) -> list[dict]:
        entries = error_logs.error_logs(call.world, call.coverage, a, b)
        return [
            e
            for e in entries
            if (resource_type is None or e["resourceType"] == resource_type)
            and (resource_id is None or e["resourceId"] == resource_id)
            and (service is None or e["service"] == service)
        ]

    return time_list(
        call,
        window,
        fetch,
        _time,
        LOGS_LIMIT,
        accept_plain_time=True,
        cache_key=(resource_type, resource_id, service),
    )


OPERATIONS = [Operation("GET", "/logs", "getLogs", get_logs)]
