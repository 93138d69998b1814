"""Error answers in the two shapes Soracom uses.

Soracom answers errors either as `{"code", "message"}` (shape "simple") or as
`{"httpStatus", "errorMessage": {"code", "message"}}` (the `APICallError` schema, shape
"wrapped"). The sandbox picks the shape deterministically by kind of error, so clients
must handle both:

- simple:  401 from `/auth` and from bad/missing/expired tokens, 400 for bad query
           parameters or bodies on inventory/session/Harvest/audit/billing calls,
           404 for unknown resources.
- wrapped: every error of `generateAuthToken` (the spec types its 400 as APICallError),
           every error of the `/stats/...` calls (bad period, out-of-retention window),
           429 rate limits, and injected 5xx faults.

Codes follow Soracom's letters+digits style; they are the sandbox's own.
"""

from __future__ import annotations

import json
from typing import Literal

from starlette.responses import Response

Shape = Literal["simple", "wrapped"]

BAD_REQUEST = "COM0001"
NOT_FOUND = "COM0004"
RATE_LIMITED = "COM0005"
INTERNAL = "COM0500"
AUTH_FAILED = "AUM0001"
TOKEN_INVALID = "AUM0002"
TOKEN_EXPIRED = "AUM0003"


class ApiError(Exception):
    """Raised by a handler (or the call pipeline) to answer with an error body."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        shape: Shape = "simple",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.shape = shape
        self.headers = headers or {}


def error_body(status: int, code: str, message: str, shape: Shape) -> dict:
    if shape == "wrapped":
        return {"httpStatus": status, "errorMessage": {"code": code, "message": message}}
    return {"code": code, "message": message}


def error_response(error: ApiError) -> Response:
    body = json.dumps(error_body(error.status, error.code, error.message, error.shape)).encode()
    return Response(body, status_code=error.status, headers=error.headers, media_type="application/json")


def bad_request(message: str, shape: Shape = "simple") -> ApiError:
    return ApiError(400, BAD_REQUEST, message, shape)


def not_found(message: str, shape: Shape = "simple") -> ApiError:
    return ApiError(404, NOT_FOUND, message, shape)
