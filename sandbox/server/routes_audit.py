"""`GET /v1/audit_logs/api` (from_epoch_ms/to_epoch_ms) and `GET /v1/audit_logs/napter` (from/to)."""

from __future__ import annotations

from starlette.responses import Response

from sandbox.server.call import Call, Operation
from sandbox.server.kept import kept_since_ms
from sandbox.server.paging import Limit
from sandbox.server.timelists import ms_window, time_list

AUDIT_LIMIT = Limit(default=100, maximum=1000)  # spec: 1..1000


def _requested_time(entry: dict) -> int:
    # the schema spells it requestedTimeEpochMs, the official example requestedTimeEpocMs
    value = entry.get("requestedTimeEpochMs", entry.get("requestedTimeEpocMs"))
    return int(value)  # type: ignore[arg-type]


def _created_at(entry: dict) -> int:
    return int(entry["createdAt"])


async def get_api_audit_logs(call: Call) -> Response:
    """Newest first; includes this server's own served calls (recorded on the sandbox clock)."""
    now = call.state.clock_ms() + 1
    window = ms_window(call, kept_since_ms("api_audit", now), now, "from_epoch_ms", "to_epoch_ms")
    api_kind = call.query("api_kind")

    def fetch(a: int, b: int) -> list[dict]:
        entries = call.world.api_audit_logs(call.coverage, a, b)
        return entries if api_kind is None else [e for e in entries if e.get("apiKind") == api_kind]

    return time_list(call, window, fetch, _requested_time, AUDIT_LIMIT, accept_plain_time=True)


async def get_napter_audit_logs(call: Call) -> Response:
    resource_type = call.choice_query("resource_type", ("Subscriber",))
    resource_id = call.query("resource_id")
    now = call.world.now_ms
    window = ms_window(call, kept_since_ms("napter_audit", now), now)

    def fetch(a: int, b: int) -> list[dict]:
        entries = call.world.napter_audit_logs(call.coverage, a, b)
        if resource_type is not None and resource_id is not None:
            entries = [e for e in entries if e.get("imsi") == resource_id]
        return entries

    return time_list(
        call,
        window,
        fetch,
        _created_at,
        AUDIT_LIMIT,
        accept_plain_time=True,
        cache_key=(resource_type, resource_id),
    )


OPERATIONS = [
    Operation("GET", "/audit_logs/api", "getApiAuditLogs", get_api_audit_logs),
    Operation("GET", "/audit_logs/napter", "getNapterAuditLogs", get_napter_audit_logs),
]
