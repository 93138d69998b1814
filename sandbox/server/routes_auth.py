"""`POST /v1/auth` and `POST /v1/operators/{operator_id}/token`."""

from __future__ import annotations

from starlette.responses import Response

from sandbox.server.auth import check_credentials, token_timeout
from sandbox.server.call import Call, Operation, json_response
from sandbox.server.errors import not_found


async def auth(call: Call) -> Response:
    body = await call.json_body()
    state = call.state
    user_name = check_credentials(body, state.settings, state.operator_id)
    ttl = token_timeout(body, state.settings)
    call.principal = state.tokens.issue(state.operator_id, user_name, call.coverage, ttl)
    state.stats.tokens_issued += 1
    answer = {
        "apiKey": call.principal.api_key,
        "token": call.principal.token,
        "operatorId": state.operator_id,
    }
    if user_name:
        answer["userName"] = user_name
    return json_response(answer)


async def generate_auth_token(call: Call) -> Response:
    """A fresh token for the caller's (valid, unexpired) one; same API key."""
    operator_id = call.request.path_params["operator_id"]
    principal = call.principal
    assert principal is not None
    if operator_id != principal.operator_id:
        raise not_found(f"Operator {operator_id} is not the operator of this token.", "wrapped")
    body = await call.json_body()
    ttl = token_timeout(body, call.state.settings, "wrapped")
    fresh = call.state.tokens.issue(
        principal.operator_id, principal.user_name, call.coverage, ttl, api_key=principal.api_key
    )
    call.state.stats.tokens_issued += 1
    return json_response({"token": fresh.token})


OPERATIONS = [
    Operation("POST", "/auth", "auth", auth, authenticated=False),
    Operation(
        "POST",
        "/operators/{operator_id}/token",
        "generateAuthToken",
        generate_auth_token,
        error_shape="wrapped",
        expired_token_status=400,  # the spec: "the specified token has already expired" -> 400
    ),
]
