"""The first contact of a client with an endpoint: setup errors in seconds, outages ridden through.

A client's first `/auth` to an endpoint that this process has not reached yet gets a short retry
budget (`first_contact_retry_seconds`); what fails then is a setup problem (a wrong endpoint, a
name that does not resolve, a server that is not the Soracom API, rejected credentials) and is
raised as one line naming the cause and the setting to fix. The failure is remembered for a
minute, so the other steps of the same run fail at once with the same line instead of each
retrying: one preflight per run. Once an endpoint has answered, later clients of the process
get the full `max_retry_seconds` for their first contact too: an outage after that is an outage.
"""

from __future__ import annotations

import hashlib
import json
import socket
import time

from .credentials import Credentials
from .errors import (
    CredentialsRejectedError,
    SoracomAPIError,
    SoracomAuthError,
    SoracomError,
    SoracomRetryError,
    SoracomSetupError,
)
from .settings import ClientSettings

FAILURE_MEMORY_S = 60.0  # how long a setup failure answers for the same endpoint and principal

_Key = tuple[str, str]
_reached: set[_Key] = set()
_failures: dict[_Key, tuple[float, SoracomSetupError]] = {}

_CREDENTIAL_VARIABLES = {
    "auth_key": "SORACOM_AUTH_KEY_ID / SORACOM_AUTH_KEY",
    "root": "SORACOM_EMAIL / SORACOM_PASSWORD",
    "sam_user": "SORACOM_OPERATOR_ID / SORACOM_USER_NAME / SORACOM_PASSWORD",
}


def key_of(endpoint: str, credentials: Credentials) -> _Key:
    """Endpoint and a digest of the whole credentials (a corrected key is a new contact);
    the digest stays in memory and is never shown."""
    body = json.dumps(credentials.auth_body(), sort_keys=True).encode()
    return (endpoint, hashlib.sha256(body).hexdigest())


def retry_seconds(key: _Key, settings: ClientSettings) -> float:
    """The retry budget of a first `/auth`: short until the endpoint has answered once."""
    return settings.max_retry_seconds if key in _reached else settings.first_contact_retry_seconds


def raise_remembered(key: _Key) -> None:
    """Raise the setup error this endpoint and principal gave less than a minute ago, if any."""
    remembered = _failures.get(key)
    if remembered is not None and time.monotonic() - remembered[0] < FAILURE_MEMORY_S:
        raise remembered[1].with_traceback(None)


def succeeded(key: _Key) -> None:
    _reached.add(key)
    _failures.pop(key, None)


def failed(key: _Key, error: SoracomSetupError) -> None:
    _failures[key] = (time.monotonic(), error)


def forget() -> None:
    """Forget what was learnt (for tests that restart servers on the same port)."""
    _reached.clear()
    _failures.clear()


def _endpoint_fix(endpoint: str, coverage: str) -> str:
    return (
        f"check SORACOM_ENDPOINT_{coverage.upper()} or SORACOM_ENDPOINT "
        f"(now {endpoint}; unset for Soracom's own) and the network"
    )


def setup_error(
    error: SoracomError, *, endpoint: str, coverage: str, credentials: Credentials
) -> SoracomSetupError | None:
    """The setup error a failed first `/auth` means, or None when it means nothing about setup."""
    where = f"the Soracom API at {endpoint} ({coverage})"
    if isinstance(error, SoracomAuthError) and error.status in (401, 403):
        variables = _CREDENTIAL_VARIABLES[credentials.kind]
        origin = "" if credentials.source == "explicit arguments" else f" from {credentials.source}"
        return CredentialsRejectedError(
            f"{where} rejected the credentials of {credentials.principal}{origin} "
            f"(auth (POST /auth): HTTP {error.status}, {error.code or 'no code'}: {error.message})",
            f"fix {variables} (or SORACOM_PROFILE's file)",
            error.status,
            error.code,
            error.message,
        )
    if isinstance(error, SoracomRetryError):
        return SoracomSetupError(
            f"{where} is not reachable: {_why(error)}", _endpoint_fix(endpoint, coverage)
        )
    if isinstance(error, SoracomAPIError):
        what = "is not the Soracom API" if error.status in (404, 405) else "refused to authenticate"
        return SoracomSetupError(f"{where} {what}: {error}", _endpoint_fix(endpoint, coverage))
    if "apiKey" in str(error):  # /auth answered 2xx without a token
        return SoracomSetupError(
            f"{where} is not the Soracom API: {error}", _endpoint_fix(endpoint, coverage)
        )
    return None


def unresolvable(error: BaseException | None) -> bool:
    """The host name does not exist (not a resolver that failed for now): no retry helps."""
    final = {socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)}
    while error is not None:
        if isinstance(error, socket.gaierror):
            return error.errno in final
        error = error.__cause__ or error.__context__
    return False


def _why(error: SoracomRetryError) -> str:
    """The retry error's text, saying first when the host name does not resolve."""
    cause: BaseException | None = error.__cause__
    while cause is not None:
        if isinstance(cause, socket.gaierror):
            return f"its host name does not resolve ({cause}); {error}"
        cause = cause.__cause__ or cause.__context__
    return str(error)
