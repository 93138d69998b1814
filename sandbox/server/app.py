"""The Starlette app: every operation mounted per coverage (jp at `/v1`, g at `/g/v1`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.server import (
    badinput,
    exports_api,
    routes_analysis,
    routes_audit,
    routes_auth,
    routes_billing,
    routes_harvest,
    routes_inventory,
    routes_logs,
    routes_sessions,
    routes_stats,
)
from sandbox.server.call import Operation, make_endpoint
from sandbox.server.errors import ApiError, error_response
from sandbox.server.exports import DOWNLOAD_PREFIX
from sandbox.server.faults import silence_drop_logs
from sandbox.server.routes_admin import admin_routes
from sandbox.server.settings import SandboxSettings
from sandbox.server.state import COVERAGE_PREFIX, Clock, SandboxState

if TYPE_CHECKING:
    from sandbox.world import World

OPERATIONS: list[Operation] = [
    *routes_auth.OPERATIONS,
    *routes_inventory.OPERATIONS,
    *routes_sessions.OPERATIONS,
    *routes_stats.OPERATIONS,
    *routes_harvest.OPERATIONS,
    *routes_audit.OPERATIONS,
    *routes_billing.OPERATIONS,
    *routes_logs.OPERATIONS,
    *exports_api.OPERATIONS,
    *routes_analysis.OPERATIONS,
]


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        message = f"Method {request.method} is not allowed on {request.url.path}."
    else:
        message = f"No such API: {request.method} {request.url.path} (this sandbox serves a subset of /v1)."
    return error_response(
        ApiError(exc.status_code, "COM0004" if exc.status_code == 404 else "COM0001", message)
    )


def create_app(
    world: World, settings: SandboxSettings | None = None, clock: Clock | None = None
) -> Starlette:
    """An ASGI app serving `world`; `app.state.sandbox` is the live `SandboxState`. With a
    `clock` (e.g. `wall_clock`), the world's `now` follows it minute by minute."""
    state = SandboxState(world, settings, clock)
    routes: list[Route] = []
    for coverage in world.coverages:
        prefix = COVERAGE_PREFIX[coverage] + "/v1"
        for op in OPERATIONS:
            endpoint = badinput.corrupting(make_endpoint(op, state, coverage), op.operation_id, state)
            routes.append(Route(prefix + op.path, endpoint, methods=[op.method]))
    routes.extend(badinput.corrupting_downloads(admin_routes(state), DOWNLOAD_PREFIX, state))
    routes.extend(routes_analysis.download_routes(state))
    silence_drop_logs()
    app = Starlette(routes=routes, exception_handlers={404: _http_error, 405: _http_error})
    app.state.sandbox = state
    return app
