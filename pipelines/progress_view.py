"""The live view of a load's progress: a rich bar per fetch (source, partition, coverage) on a
terminal, plain lines every N items otherwise (a log file, CI, a pipe), so long loads are never
silent. Both show done/total, rows so far, rate and ETA; they plug into `assets.progress`."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import IO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

from assets.progress import Step, reporting_to

Clock = Callable[[], float]


def _clock_time(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class _Pace:
    """Rate and ETA of each fetch, from when it was first reported."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._started: dict[tuple[str, str, str], float] = {}

    def of(self, step: Step) -> tuple[str, str]:
        """(`12.5/s`, `0:01:20`), or `-` for what is not known yet."""
        now = self._clock()
        started = self._started.setdefault(step.key, now)
        if step.final:
            self._started.pop(step.key, None)
        elapsed = now - started
        if elapsed <= 0 or step.done <= 0:
            return "-/s", "-"
        rate = step.done / elapsed
        return f"{rate:.1f}/s", _clock_time(max(step.total - step.done, 0) / rate)


def label(step: Step) -> str:
    return f"{step.source} {step.partition} [{step.coverage}]"


def _line(step: Step, rate: str, eta: str) -> str:
    return f"{label(step)}: {step.done}/{step.total} {step.what}, {step.rows} rows, {rate}, ETA {eta}"


class PlainView:
    """One line per milestone (every N items and the end of each fetch)."""

    def __init__(self, stream: IO[str], clock: Clock = time.monotonic) -> None:
        self._stream = stream
        self._pace = _Pace(clock)

    def __enter__(self) -> PlainView:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, step: Step) -> None:
        if not step.total:
            return
        rate, eta = self._pace.of(step)
        if step.milestone:
            print(f"  {_line(step, rate, eta)}", file=self._stream, flush=True)


class RichView:
    """A live bar per running fetch; what the demo prints meanwhile, and the last counts of each
    finished fetch, go above the bars."""

    def __init__(self, console: Console, clock: Clock = time.monotonic) -> None:
        self._pace = _Pace(clock)
        self._tasks: dict[tuple[str, str, str], TaskID] = {}
        self._bars = Progress(
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn(
                "{task.fields[what]}, {task.fields[rows]} rows, {task.fields[rate]}, ETA {task.fields[eta]}"
            ),
            console=console,
            get_time=clock,
        )

    def __enter__(self) -> RichView:
        self._bars.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._bars.stop()

    def refresh(self) -> None:
        """Draw now rather than at the next tick."""
        self._bars.refresh()

    def update(self, step: Step) -> None:
        if not step.total:
            return
        rate, eta = self._pace.of(step)
        if step.final:  # a finished fetch leaves the live area as one line above it
            task = self._tasks.pop(step.key, None)
            if task is not None:
                self._bars.remove_task(task)
                self._bars.refresh()  # else the line below is drawn with the removed bar under it
            self._bars.console.print(f"  {_line(step, rate, eta)}", markup=False, highlight=False)
            return
        fields = {"what": step.what, "rows": step.rows, "rate": rate, "eta": eta}
        task = self._tasks.get(step.key)
        if task is None:
            task = self._bars.add_task(label(step), total=step.total, completed=step.done, **fields)
            self._tasks[step.key] = task
        else:
            self._bars.update(task, total=step.total, completed=step.done, **fields)


@contextlib.contextmanager
def live_progress(
    console: Console | None = None, clock: Clock = time.monotonic
) -> Iterator[PlainView | RichView]:
    """Show every fetch's progress while the block runs: bars on a terminal, else plain lines."""
    console = console or Console(file=sys.stdout)
    view: PlainView | RichView
    view = RichView(console, clock) if console.is_terminal else PlainView(console.file, clock)
    with view, reporting_to(view):
        yield view
