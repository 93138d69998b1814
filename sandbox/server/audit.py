"""Records every call the sandbox serves into the world's API audit log.

Soracom's paid audit-log option logs every API call (the free one only `/v1/auth`); the
sandbox behaves like the paid option so `/audit_logs/api` shows a loader its own calls.
Calls are stamped on the sandbox clock (the world's `now` plus the time the server has
been up), so they are newer than any generated entry and fall inside "the last hour".
Unauthenticated calls (no operator known) are not recorded.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request


def audit_entry(
    request: Request,
    api_kind: str,
    operator_id: str,
    user_name: str | None,
    status: int,
    time_ms: int,
    prefix: str,
) -> dict[str, Any]:
    path = request.url.path
    if prefix and path.startswith(prefix):
        path = path[len(prefix) :]
    entry: dict[str, Any] = {
        "apiKind": api_kind,
        "operatorId": operator_id,
        "remoteIpAddress": request.client.host if request.client else "127.0.0.1",
        "requestPath": path,
        "requestedTimeEpochMs": time_ms,
        "statusCode": status,
    }
    if user_name:
        entry["userName"] = user_name
    return entry
