"""When to ask again about a job the server runs for us (an async export, a Soracom Query).

The first polls come quickly: a small export is ready in well under a second (the sandbox
keeps one `processing` 0.5 s), and a 0.5 s first delay growing 1.5x per poll saw it about
1.25 s after the start, ~1 s behind a sync export. Delays then grow 1.25x per poll up to
`export_poll_max_s`: a job ready after T seconds is seen at most 0.25 T + the first delay
later, and a long one (minutes on the real API) costs one poll per `export_poll_max_s`.
The caller bounds the whole wait (`export_timeout_s`). Sync exports are no shortcut: they
time out on big files on the real API (docs: soracom-api-notes).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator

GROWTH = 1.25  # each delay is this times the one before, up to the maximum
JITTER = 0.2  # each wait is its delay +- this fraction, so parallel pollers spread out


def poll_delays(initial_s: float, max_s: float) -> Iterator[float]:
    """The delays before the second, third, ... poll (the first poll is at once), unjittered."""
    delay = min(initial_s, max_s)
    while True:
        yield delay
        delay = min(delay * GROWTH, max_s)


async def sleep_before_poll(delay_s: float) -> None:
    """Wait one delay of `poll_delays`, jittered."""
    await asyncio.sleep(delay_s * random.uniform(1 - JITTER, 1 + JITTER))
