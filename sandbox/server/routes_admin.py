"""Admin endpoints outside `/v1`, so a sandbox in another process can be tuned and inspected.

- `GET  /_sandbox/health`          -> {"ok", "operatorId", "now", "coverages"}
- `GET  /_sandbox/settings`        -> the settings
- `POST /_sandbox/settings`        <- a partial JSON object of settings; -> the new settings
- `GET  /_sandbox/stats`           -> counters (see `ServerStats.snapshot`)
- `POST /_sandbox/stats/reset`     -> zeroes the counters
- `POST /_sandbox/tokens/expire`   -> makes every issued token expired now
- `POST /_sandbox/ratelimit/reset` -> forgets all rate-limit windows
- `GET  /_files/{token}/{name}`    -> an exported file (the "presigned URL"; no Soracom headers)
"""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.server.exports import DOWNLOAD_PREFIX
from sandbox.server.state import SandboxState


def admin_routes(state: SandboxState) -> list[Route]:
    async def health(request: Request) -> Response:
        world = state.world
        return JSONResponse(
            {
                "ok": True,
                "operatorId": world.operator_id,
                "now": world.now.isoformat(),
                "coverages": list(world.coverages),
            }
        )

    async def settings(request: Request) -> Response:
        if request.method == "POST":
            try:
                changes = json.loads(await request.body() or b"{}")
                if not isinstance(changes, dict):
                    raise ValueError("send a JSON object of setting names to values")
                state.settings.update(changes)
                if "fault_seed" in changes:
                    state.faults.reseed()
            except ValueError as error:
                return JSONResponse({"error": str(error)}, status_code=400)
        return JSONResponse(state.settings.to_dict())

    async def stats(request: Request) -> Response:
        return JSONResponse(state.stats.snapshot())

    async def reset_stats(request: Request) -> Response:
        state.stats.reset()
        return JSONResponse(state.stats.snapshot())

    async def expire_tokens(request: Request) -> Response:
        return JSONResponse({"expired": state.tokens.expire_all()})

    async def reset_rate_limits(request: Request) -> Response:
        state.limiter.reset()
        return JSONResponse({"ok": True})

    async def download(request: Request) -> Response:
        response = state.exports.download(request.path_params["token"])
        if response.status_code == 200:
            state.stats.downloads += 1
        return response

    return [
        Route("/_sandbox/health", health, methods=["GET"]),
        Route("/_sandbox/settings", settings, methods=["GET", "POST"]),
        Route("/_sandbox/stats", stats, methods=["GET"]),
        Route("/_sandbox/stats/reset", reset_stats, methods=["POST"]),
        Route("/_sandbox/tokens/expire", expire_tokens, methods=["POST"]),
        Route("/_sandbox/ratelimit/reset", reset_rate_limits, methods=["POST"]),
        Route(DOWNLOAD_PREFIX + "/{token}/{name}", download, methods=["GET"]),
    ]
