"""The API key and token of one client: authenticate once, refresh before expiry.

`POST /auth` runs once per client lifetime when all goes well. Before the token
expires it is renewed with `POST /operators/{id}/token` (which needs the still-valid
token); a token refused with 401 needs `/auth` again. When the server expires tokens
sooner than asked (its own cap), the first 401 teaches the manager the real lifetime so
later tokens are renewed in time instead of failing again.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from .credentials import Credentials
from .errors import SoracomAPIError, SoracomAuthError, SoracomError
from .settings import ClientSettings

log = logging.getLogger(__name__)

# send(method, path, json_body, operation, auth_headers or None) -> parsed JSON body
Sender = Callable[[str, str, dict[str, Any], str, dict[str, str] | None], Awaitable[Any]]

_MIN_LIFETIME_S = 1.0


def jwt_lifetime_s(token: str) -> float | None:
    """Seconds until a JWT-shaped token's `exp`, without verifying it; None if not a JWT."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        padded = parts[1] + "=" * (-len(parts[1]) % 4)
        claims = json.loads(base64.urlsafe_b64decode(padded))
        exp = float(claims["exp"])
    except (ValueError, KeyError, TypeError):
        return None
    return exp - time.time()


class TokenManager:
    """Holds the secrets of a session; never logs or shows them."""

    def __init__(self, credentials: Credentials, settings: ClientSettings, send: Sender) -> None:
        self._credentials = credentials
        self._settings = settings
        self._send = send
        self._lock = asyncio.Lock()
        self._api_key: str | None = None
        self._token: str | None = None
        self._issued_at = 0.0
        self._last_ok_at = 0.0
        self._lifetime_s = float(settings.token_timeout_s)
        self.operator_id: str | None = None
        self.user_name: str | None = None
        self.generation = 0
        self.auths = 0
        self.refreshes = 0

    def __repr__(self) -> str:
        state = "authenticated" if self._token else "not authenticated"
        return f"TokenManager({self._credentials.principal}, {state}, generation {self.generation})"

    @property
    def _refresh_at(self) -> float:
        return self._issued_at + self._lifetime_s * self._settings.token_refresh_fraction

    def _headers(self) -> dict[str, str]:
        assert self._api_key is not None and self._token is not None
        return {"X-Soracom-API-Key": self._api_key, "X-Soracom-Token": self._token}

    def _accept_token(self, token: str, requested_s: float) -> None:
        self._token = token
        self._issued_at = time.monotonic()
        from_jwt = jwt_lifetime_s(token)
        if from_jwt is not None and from_jwt > 0:
            self._lifetime_s = min(self._lifetime_s, from_jwt)
        self._lifetime_s = min(self._lifetime_s, requested_s)
        self.generation += 1

    async def headers(self) -> tuple[dict[str, str], int]:
        """Auth headers for the next request and the token generation they belong to."""
        if self._token is None or time.monotonic() >= self._refresh_at:
            async with self._lock:
                if self._token is None:
                    await self._authenticate()
                elif time.monotonic() >= self._refresh_at:
                    await self._renew()
        return self._headers(), self.generation

    async def authenticate(self) -> None:
        async with self._lock:
            if self._token is None:
                await self._authenticate()

    def succeeded(self, generation: int) -> None:
        """A request with token `generation` was accepted: the token lived at least this long."""
        if generation == self.generation:
            self._last_ok_at = time.monotonic()

    def outlived(self, generation: int) -> bool:
        """Time explains a 401 of token `generation`: a newer token exists, or this one is as old
        as the server lets tokens live (a refused fresh token is the credentials' fault)."""
        return generation != self.generation or time.monotonic() - self._issued_at >= self._lifetime_s

    async def unauthorized(self, generation: int) -> None:
        """A request with token `generation` got 401: re-authenticate unless someone already did."""
        async with self._lock:
            if generation != self.generation:
                return
            age = time.monotonic() - self._issued_at
            if age < self._lifetime_s:
                # The server expires tokens sooner than we asked: remember its real lifetime,
                # taking the age of the last accepted request (a lower bound) when we have one.
                lived = self._last_ok_at - self._issued_at if self._last_ok_at > self._issued_at else age / 2
                self._lifetime_s = max(_MIN_LIFETIME_S, min(lived, age))
                log.info("token refused after %.1fs; renewing tokens earlier from now on", age)
            await self._authenticate()

    async def _authenticate(self) -> None:
        creds = self._credentials
        body = dict(creds.auth_body())
        body["tokenTimeoutSeconds"] = self._settings.token_timeout_s
        try:
            data = await self._send("POST", "/auth", body, "auth", None)
        except SoracomAPIError as exc:
            raise SoracomAuthError(
                exc.call,
                exc.status,
                exc.code,
                exc.message,
                hint=f"Check the credentials of {creds.principal} (from {creds.source})",
            ) from None
        if not isinstance(data, dict) or not data.get("apiKey") or not data.get("token"):
            raise SoracomError("POST /auth (auth) answered without apiKey and token")
        self._api_key = str(data["apiKey"])
        self.operator_id = str(data.get("operatorId") or self._credentials.operator_id or "") or None
        self.user_name = data.get("userName")
        self.auths += 1
        self._accept_token(str(data["token"]), float(self._settings.token_timeout_s))
        log.debug("authenticated as %s", self._credentials.principal)

    async def _renew(self) -> None:
        if self.operator_id is None:
            await self._authenticate()
            return
        timeout = self._settings.token_timeout_s
        try:
            data = await self._send(
                "POST",
                f"/operators/{self.operator_id}/token",
                {"tokenTimeoutSeconds": timeout},
                "generateAuthToken",
                self._headers(),
            )
        except SoracomAPIError as exc:
            log.info("token renewal refused (HTTP %s); authenticating again", exc.status)
            await self._authenticate()
            return
        if not isinstance(data, dict) or not data.get("token"):
            await self._authenticate()
            return
        self.refreshes += 1
        self._accept_token(str(data["token"]), float(timeout))
        log.debug("renewed the API token")
