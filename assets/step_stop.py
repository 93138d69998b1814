"""Stopping a step that runs in a thread of its run's process.

Signals reach only the main thread, and Dagster raises an interrupt inside a step only when
the step runs there. Steps the overlapping executor (`pipelines/executor.py`) runs in threads
learn of a stop from the `StepStop` it gives each of them, and the asyncio loop of a load ends
its work at once when asked (`assets/loading.py`).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator


class StepStop:
    """A stop request shared by the steps of one execution: once `request`ed, every callback
    subscribed (now or later) is called once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requested = False
        self._callbacks: dict[int, Callable[[], None]] = {}
        self._next = 0

    @property
    def requested(self) -> bool:
        return self._requested

    def request(self) -> None:
        with self._lock:
            if self._requested:
                return
            self._requested = True
            callbacks = list(self._callbacks.values())
        for callback in callbacks:
            callback()

    @contextlib.contextmanager
    def calling(self, callback: Callable[[], None]) -> Iterator[None]:
        """Call `callback` if a stop is requested while the block runs (at once if it already was)."""
        with self._lock:
            key, self._next = self._next, self._next + 1
            self._callbacks[key] = callback
            already = self._requested
        try:
            if already:
                callback()
            yield
        finally:
            with self._lock:
                del self._callbacks[key]


_local = threading.local()


def current() -> StepStop | None:
    """The stop of the step this thread runs, or None (a step in the main thread, or no step)."""
    return getattr(_local, "stop", None)


@contextlib.contextmanager
def running_under(stop: StepStop) -> Iterator[None]:
    """Mark this thread's step as stopped by `stop`."""
    _local.stop = stop
    try:
        yield
    finally:
        _local.stop = None
