"""Exceptions of the Soracom client.

Every error names the call it came from (operation and method + path template) so a
failed load says which API broke, and none of them ever carries a key, token or secret.
"""

from __future__ import annotations


class SoracomError(Exception):
    """Base class of every error this client raises."""


class CredentialsError(SoracomError, ValueError):
    """Credentials or a soracom-cli profile are missing, incomplete or unsafe."""


class SoracomAPIError(SoracomError):
    """The API refused a call with a non-retryable status (a 4xx other than 429)."""

    def __init__(self, call: str, status: int, code: str | None, message: str | None) -> None:
        self.call = call
        self.status = status
        self.code = code
        self.message = message
        detail = f"{code}: {message}" if code else (message or "no error body")
        super().__init__(f"{call} failed with HTTP {status} ({detail})")


class SoracomAuthError(SoracomAPIError):
    """Authentication failed, or a token was refused even after re-authenticating."""

    def __init__(self, call: str, status: int, code: str | None, message: str | None, hint: str = "") -> None:
        super().__init__(call, status, code, message)
        if hint:
            self.args = (f"{self.args[0]}. {hint}",)


class SoracomRetryError(SoracomError):
    """A call kept failing with transient errors until the retry budget ran out."""

    def __init__(
        self, call: str, attempts: int, elapsed_s: float, last_status: int | None, last_error: str
    ) -> None:
        self.call = call
        self.attempts = attempts
        self.elapsed_s = elapsed_s
        self.last_status = last_status
        self.last_error = last_error
        status = f"HTTP {last_status}" if last_status is not None else "no HTTP status"
        super().__init__(
            f"{call} gave up after {attempts} attempts in {elapsed_s:.1f}s; "
            f"last failure: {status}, {last_error}"
        )


class SoracomSetupError(SoracomError):
    """The first contact with the API failed in a way that waiting will not fix soon: the
    endpoint does not resolve, refuses or is not a Soracom API. One line: cause and the
    setting to fix (`fix`), so a run ends in seconds instead of retrying every step."""

    def __init__(self, cause: str, fix: str) -> None:
        self.cause = cause
        self.fix = fix
        SoracomError.__init__(self, f"{cause}; {fix}")  # not super(): the subclass also has an API error


class CredentialsRejectedError(SoracomSetupError, SoracomAuthError):
    """`POST /auth` refused the credentials (401/403): the key or password is wrong."""

    def __init__(self, cause: str, fix: str, status: int, code: str | None, message: str | None) -> None:
        SoracomSetupError.__init__(self, cause, fix)
        self.call = "auth (POST /auth)"
        self.status = status
        self.code = code
        self.message = message


class PaginationLoopError(SoracomError):
    """A list call returned a cursor it had already returned: paging would never end."""

    def __init__(self, call: str, cursor: str, pages: int) -> None:
        self.call = call
        self.cursor = cursor
        self.pages = pages
        super().__init__(
            f"{call} returned the cursor {cursor!r} a second time after {pages} pages; "
            "stopping instead of looping forever"
        )


class ExportError(SoracomError):
    """An export job failed, timed out, or its file could not be downloaded."""


def parse_error_body(body: bytes) -> tuple[str | None, str | None]:
    """(code, message) from either error shape the API uses, or (None, short text).

    Shapes: `{"code": ..., "message": ...}` and
    `{"httpStatus": N, "errorMessage": {"code": ..., "message": ...}}`.
    """
    import json

    try:
        data = json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError):
        text = body[:200].decode("utf-8", "replace").strip()
        return None, text or None
    if isinstance(data, dict):
        inner = data.get("errorMessage")
        if isinstance(inner, dict):
            data = inner
        elif isinstance(inner, str):
            return data.get("code"), inner
        code, message = data.get("code"), data.get("message")
        return (str(code) if code is not None else None, str(message) if message is not None else None)
    return None, None
