"""SIGTERM and SIGINT stop the whole load, not just the step they land in.

Dagster swaps in its own SIGINT/SIGTERM handlers while a run executes: the running step is
interrupted, the run fails, and `execute_runs` used to go on with the next run (and a signal
that came while a step waited for a concurrency slot was only noted, then dropped). A
wakeup fd sees every signal whichever Python handler is installed, so `StopOnSignal`
records it; the load then stops between runs and a step waiting for a slot stops at its next
claim (`check`, used as the claim guard). Exit status: 128 + the signal (SIGTERM 143, SIGINT 130).
"""

from __future__ import annotations

import signal
import socket
import threading
from types import FrameType, TracebackType

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class LoadStopped(Exception):
    """The load was asked to stop by a signal."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"stopped by {signal.Signals(signum).name}")
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class StopOnSignal:
    """Context manager (main thread): records SIGTERM/SIGINT; outside Dagster's execution its
    handler raises `LoadStopped` at once."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._saved: dict[int, object] = {}
        self._saved_fd = -1
        self._reader, self._writer = socket.socketpair()
        self._thread = threading.Thread(target=self._watch, name="stop-on-signal", daemon=True)

    def __enter__(self) -> StopOnSignal:
        self._writer.setblocking(False)
        self._saved_fd = signal.set_wakeup_fd(self._writer.fileno(), warn_on_full_buffer=False)
        for signum in SIGNALS:
            self._saved[signum] = signal.signal(signum, self._handle)
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for signum, handler in self._saved.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]
        signal.set_wakeup_fd(self._saved_fd)
        self._writer.close()  # ends the watcher thread
        self._thread.join(timeout=5)
        self._reader.close()

    def _watch(self) -> None:
        while True:
            try:
                data = self._reader.recv(64)
            except OSError:
                return
            if not data:
                return
            for signum in data:
                if signum in SIGNALS and self.signum is None:
                    self.signum = signum

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if self.signum is None:
            self.signum = signum
        raise LoadStopped(signum)

    def check(self) -> None:
        """Raise `LoadStopped` if a stop signal came (the watcher thread may lag a moment)."""
        if self.signum is not None:
            raise LoadStopped(self.signum)
