"""Injected faults: latency, 5xx answers and connections dropped mid-body.

Decisions come from one RNG seeded by the `fault_seed` setting, so a fault run is
reproducible for a given sequence of calls. Faults never change the data served.
"""

from __future__ import annotations

import logging
import random

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from sandbox.server.settings import SandboxSettings

INJECTED_STATUSES = (500, 502, 503)
INCOMPLETE_MESSAGE = "ASGI callable returned without completing response."


class FaultInjector:
    """Draws fault decisions from a seeded RNG; reseeds when the seed setting changes."""

    def __init__(self, settings: SandboxSettings) -> None:
        self._settings = settings
        self._seed = settings.fault_seed
        self._rng = random.Random(self._seed)

    def reseed(self) -> None:
        """Restart the fault sequence from the `fault_seed` setting."""
        self._seed = self._settings.fault_seed
        self._rng = random.Random(self._seed)

    def _random(self) -> float:
        if self._settings.fault_seed != self._seed:
            self._seed = self._settings.fault_seed
            self._rng = random.Random(self._seed)
        return self._rng.random()

    def delay_s(self) -> float:
        s = self._settings
        if s.latency_ms <= 0 and s.jitter_ms <= 0:
            return 0.0
        jitter = self._random() * s.jitter_ms if s.jitter_ms > 0 else 0.0
        return (s.latency_ms + jitter) / 1000.0

    def injected_error(self) -> int | None:
        """An HTTP status to fail this call with, or None."""
        rate = self._settings.error_rate
        if rate <= 0:
            return None
        if self._random() < rate:
            return INJECTED_STATUSES[int(self._random() * len(INJECTED_STATUSES))]
        return None

    def drop(self) -> bool:
        rate = self._settings.drop_rate
        return rate > 0 and self._random() < rate


class DroppedResponse(Response):
    """Sends the headers (with the full Content-Length) and half the body, then gives up.

    The server then closes the connection, so the client sees an incomplete read, as
    with a proxy or network failure mid-transfer.
    """

    def __init__(self, original: Response) -> None:
        self.original = original
        self.status_code = original.status_code
        self.background = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = bytes(self.original.body)
        await send(
            {
                "type": "http.response.start",
                "status": self.original.status_code,
                "headers": self.original.raw_headers,
            }
        )
        await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
        # Returning without the final body makes uvicorn close the transport.


class _QuietDrops(logging.Filter):
    """Hides uvicorn's error line for the drops we cause on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != INCOMPLETE_MESSAGE


def silence_drop_logs() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _QuietDrops) for f in logger.filters):
        logger.addFilter(_QuietDrops())
