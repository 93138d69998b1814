"""How far a long fetch got, for whoever watches the load live (the demo's terminal view).

Assets report counted work (SIMs fetched of a total, rows so far) here besides the Dagster log;
a front end plugs a sink in for the time of its runs. Runs execute in process, so a sink set
here sees every step; with no sink plugged in, reports go nowhere.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Step:
    """One report of a fetch that counts its work: `done` of `total` `what` (e.g. "SIMs
    fetched"), `rows` decoded so far. `milestone` marks a report worth a plain line (every
    step of N items, and the end); the others only move a live bar."""

    source: str
    partition: str
    coverage: str
    what: str
    done: int
    total: int
    rows: int
    milestone: bool
    final: bool = False

    @property
    def key(self) -> tuple[str, str, str]:
        """One fetch: a source's partition from one coverage."""
        return (self.source, self.partition, self.coverage)


class ProgressSink(Protocol):
    def update(self, step: Step) -> None: ...


_sinks: list[ProgressSink] = []


@contextlib.contextmanager
def reporting_to(sink: ProgressSink) -> Iterator[ProgressSink]:
    """Send every fetch's progress to `sink` while the block runs."""
    _sinks.append(sink)
    try:
        yield sink
    finally:
        _sinks.remove(sink)


def report(step: Step) -> None:
    for sink in list(_sinks):
        sink.update(step)
