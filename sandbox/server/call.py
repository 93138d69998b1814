"""The pipeline every `/v1` call goes through, and what a handler gets to see.

Order: count the call, injected latency, token check (401), rate limit (429), injected
5xx, the handler, rate-limit headers on the answer (whatever its status), audit-log
record, and finally an injected mid-body drop.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from sandbox.server.audit import audit_entry
from sandbox.server.auth import Principal
from sandbox.server.errors import (
    INTERNAL,
    RATE_LIMITED,
    TOKEN_EXPIRED,
    ApiError,
    Shape,
    bad_request,
    error_response,
)
from sandbox.server.faults import DroppedResponse
from sandbox.server.jsonbody import dumps
from sandbox.server.state import COVERAGE_PREFIX, SandboxState

log = logging.getLogger("sandbox.server")


@dataclass
class Call:
    """One request as a handler sees it."""

    request: Request
    state: SandboxState
    coverage: str
    operation: str
    principal: Principal | None  # set by the pipeline, or by /auth when it issues a token
    error_shape: Shape

    @property
    def world(self) -> Any:
        return self.state.world

    def query(self, name: str) -> str | None:
        value = self.request.query_params.get(name)
        return None if value == "" else value

    def int_query(self, name: str, default: int | None = None, required: bool = False) -> int | None:
        raw = self.query(name)
        if raw is None:
            if required:
                raise bad_request(f"query parameter {name!r} is required", self.error_shape)
            return default
        try:
            return int(raw)
        except ValueError:
            raise bad_request(
                f"query parameter {name!r} must be an integer, got {raw!r}", self.error_shape
            ) from None

    def choice_query(self, name: str, choices: tuple[str, ...], default: str | None = None) -> str | None:
        raw = self.query(name)
        if raw is None:
            return default
        if raw not in choices:
            raise bad_request(
                f"query parameter {name!r} must be one of {', '.join(choices)}; got {raw!r}", self.error_shape
            )
        return raw

    async def json_body(self) -> dict[str, Any]:
        raw = await self.request.body()
        if not raw:
            return {}
        try:
            body = json.loads(raw)
        except ValueError:
            raise bad_request("the request body is not valid JSON", self.error_shape) from None
        if not isinstance(body, dict):
            raise bad_request("the request body must be a JSON object", self.error_shape)
        return body


def json_response(data: Any, headers: dict[str, str] | None = None, status: int = 200) -> Response:
    return Response(dumps(data), status_code=status, headers=headers, media_type="application/json")


def json_array_response(parts: list[bytes], headers: dict[str, str] | None = None) -> Response:
    """A JSON array from items already encoded (cached renderings)."""
    return Response(b"[" + b",".join(parts) + b"]", headers=headers, media_type="application/json")


Handler = Callable[[Call], Awaitable[Response]]


@dataclass(frozen=True)
class Operation:
    """One API operation: its route, its operationId and the handler that answers it."""

    method: str
    path: str  # template under /v1, e.g. "/sims/{sim_id}/events/sessions"
    operation_id: str
    handler: Handler
    authenticated: bool = True
    error_shape: Shape = "simple"
    expired_token_status: int = 401
    cache_answers: bool = False  # a pure function of the fixed world: keep 200 bodies by URL

    @property
    def api_kind(self) -> str:
        """The audit log's coarse API family: `/v1/sims`, `/v1/bills`, `/v1/stats/air`..."""
        parts = self.path.strip("/").split("/")
        return "/v1/" + "/".join(parts[:2] if parts[0] == "stats" else parts[:1])


def _authenticate(op: Operation, state: SandboxState, request: Request, coverage: str) -> Principal:
    try:
        return state.tokens.authenticate(
            request.headers.get("x-soracom-api-key"), request.headers.get("x-soracom-token"), coverage
        )
    except ApiError as error:
        if error.code == TOKEN_EXPIRED and op.expired_token_status != 401:
            raise ApiError(op.expired_token_status, error.code, error.message, op.error_shape) from None
        raise


async def _answer(op: Operation, call: Call) -> Response:
    if not op.cache_answers:
        return await op.handler(call)
    key = (call.coverage, call.request.url.path, call.request.url.query)
    body = call.state.answers.get(key)
    if body is not None:
        return Response(body, media_type="application/json")
    response = await op.handler(call)
    if response.status_code == 200:
        call.state.answers.put(key, bytes(response.body))
    return response


def make_endpoint(
    op: Operation, state: SandboxState, coverage: str
) -> Callable[[Request], Awaitable[Response]]:
    prefix = COVERAGE_PREFIX[coverage]

    async def endpoint(request: Request) -> Response:
        settings = state.settings
        stats = state.stats
        stats.calls[op.operation_id] += 1
        delay = state.faults.delay_s()
        if delay > 0:
            await asyncio.sleep(delay)
        call = Call(request, state, coverage, op.operation_id, None, op.error_shape)
        client = request.client.host if request.client else "-"
        decision = None
        try:
            if op.authenticated:
                call.principal = _authenticate(op, state, request, coverage)
            who = call.principal.operator_id if call.principal else client
            decision = state.limiter.check(
                (who, op.operation_id), settings.rate_limit_per_minute, window_s=settings.rate_limit_window_s
            )
            if not decision.allowed:
                stats.rate_limited += 1
                raise ApiError(
                    429,
                    RATE_LIMITED,
                    f"Rate limit exceeded for {op.operation_id}: retry after "
                    f"{decision.seconds_before_refresh} seconds.",
                    "wrapped",
                )
            injected = state.faults.injected_error()
            if injected is not None:
                stats.errors_injected += 1
                raise ApiError(injected, INTERNAL, "Injected sandbox fault: retry later.", "wrapped")
            response = await _answer(op, call)
        except ApiError as error:
            if error.status == 401:
                stats.unauthorized += 1
            response = error_response(error)
        except Exception:
            log.exception("sandbox handler %s failed", op.operation_id)
            response = error_response(ApiError(500, INTERNAL, "Internal sandbox error.", "wrapped"))
        if decision is None:
            decision = state.limiter.check(
                (client, op.operation_id),
                settings.rate_limit_per_minute,
                count=False,
                window_s=settings.rate_limit_window_s,
            )
        response.headers.update(decision.headers())
        stats.statuses[response.status_code] += 1
        if call.principal is not None and settings.record_calls:
            entry = audit_entry(
                request,
                op.api_kind,
                call.principal.operator_id,
                call.principal.user_name,
                response.status_code,
                state.clock_ms(),
                prefix,
            )
            state.world.record_api_call(coverage, entry)
        if state.faults.drop():
            stats.drops_injected += 1
            return DroppedResponse(response)
        return response

    endpoint.__name__ = op.operation_id
    return endpoint
