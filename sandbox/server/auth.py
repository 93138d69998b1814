"""Credential checks and the API key/token store.

Tokens live in memory, per coverage (a jp token does not open the g endpoint, as on
Soracom where the two coverages are separate platforms). A token expires after
`tokenTimeoutSeconds` (default 86400, max 172800), capped by the `token_ttl` setting so
tests can make tokens expire quickly.
"""

from __future__ import annotations

import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

from sandbox.server.errors import AUTH_FAILED, TOKEN_EXPIRED, TOKEN_INVALID, ApiError, bad_request
from sandbox.server.settings import SandboxSettings

DEFAULT_TOKEN_TIMEOUT_S = 86_400
MAX_TOKEN_TIMEOUT_S = 172_800


@dataclass
class Principal:
    """Who a token belongs to."""

    operator_id: str
    user_name: str | None  # SAM user name; None for root and auth keys
    api_key: str
    token: str
    coverage: str
    expires_at: float  # time.time() seconds


def check_credentials(body: dict[str, Any], settings: SandboxSettings, operator_id: str) -> str | None:
    """Return the SAM user name (or None for root/auth key) if `body` holds valid credentials."""
    if "authKeyId" in body or "authKey" in body:
        valid = body.get("authKeyId") == settings.auth_key_id and body.get("authKey") == settings.auth_key
        user_name = None
    elif "email" in body:
        valid = body.get("email") == settings.email and body.get("password") == settings.password
        user_name = None
    else:
        valid = (
            body.get("operatorId") == operator_id
            and body.get("userName") == settings.sam_user_name
            and body.get("password") == settings.sam_user_password
        )
        user_name = settings.sam_user_name
    if valid:
        return user_name
    raise ApiError(
        401,
        AUTH_FAILED,
        "Authentication failed: send {authKeyId, authKey}, {email, password} or "
        "{operatorId, userName, password} with valid values.",
    )


def token_timeout(body: dict[str, Any], settings: SandboxSettings, shape: str = "simple") -> float:
    """The lifetime of a new token: the requested timeout, capped by the token_ttl setting."""
    requested = body.get("tokenTimeoutSeconds", DEFAULT_TOKEN_TIMEOUT_S)
    if (
        isinstance(requested, bool)
        or not isinstance(requested, int)
        or not 1 <= requested <= MAX_TOKEN_TIMEOUT_S
    ):
        raise bad_request(
            f"tokenTimeoutSeconds must be an integer from 1 to {MAX_TOKEN_TIMEOUT_S}, got {requested!r}",
            shape,  # type: ignore[arg-type]
        )
    if settings.token_ttl is not None:
        return min(float(requested), float(settings.token_ttl))
    return float(requested)


class TokenStore:
    """Issued tokens by token string; lookups check the API key, coverage and expiry."""

    def __init__(self) -> None:
        self._by_token: dict[str, Principal] = {}
        self.issued = 0

    def issue(
        self, operator_id: str, user_name: str | None, coverage: str, ttl_s: float, api_key: str | None = None
    ) -> Principal:
        principal = Principal(
            operator_id=operator_id,
            user_name=user_name,
            api_key=api_key or f"api-{uuid.uuid4()}",
            token=secrets.token_urlsafe(48),
            coverage=coverage,
            expires_at=time.time() + ttl_s,
        )
        self._by_token[principal.token] = principal
        self.issued += 1
        return principal

    def authenticate(self, api_key: str | None, token: str | None, coverage: str) -> Principal:
        """The principal of a valid, unexpired token, or a 401 saying what was wrong."""
        if not api_key or not token:
            raise ApiError(
                401,
                TOKEN_INVALID,
                "Missing X-Soracom-API-Key or X-Soracom-Token header: call POST /v1/auth first "
                "and send both values it returns.",
            )
        principal = self._by_token.get(token)
        if principal is None or principal.api_key != api_key or principal.coverage != coverage:
            raise ApiError(
                401, TOKEN_INVALID, "Invalid API key or token for this coverage: authenticate again."
            )
        if time.time() >= principal.expires_at:
            raise ApiError(401, TOKEN_EXPIRED, "The API token has expired: call POST /v1/auth again.")
        return principal

    def expire_all(self) -> int:
        """Make every issued token expired now (lets tests exercise expiry without sleeping)."""
        now = time.time()
        for principal in self._by_token.values():
            principal.expires_at = min(principal.expires_at, now)
        return len(self._by_token)

    def purge_expired(self) -> None:
        now = time.time()
        self._by_token = {t: p for t, p in self._by_token.items() if p.expires_at > now - 3600}
