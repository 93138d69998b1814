"""The live progress of a load: what a fetch reports through `Progress`, the rich bar drawn on
a terminal and the plain lines written elsewhere (done/total, rows, rate, ETA)."""

from __future__ import annotations

import re
from io import StringIO

from rich.console import Console

from assets.loading import Progress
from assets.progress import Step, reporting_to
from pipelines.progress_view import PlainView, RichView, live_progress


class _Log:
    def info(self, message: str) -> None:
        pass

    def warning(self, message: str) -> None:
        pass


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class _Steps:
    def __init__(self) -> None:
        self.steps: list[Step] = []

    def update(self, step: Step) -> None:
        self.steps.append(step)


ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _lines(out: StringIO) -> list[str]:
    return [line.rstrip() for line in ANSI.sub("", out.getvalue()).replace("\r", "\n").splitlines()]


def test_a_fetch_reports_counts_rows_and_its_end_to_the_sink() -> None:
    sink = _Steps()
    progress = Progress(_Log(), "jp", None, "session_events", "2026-12-01")
    with reporting_to(sink):
        for done in range(1, 5):
            progress.every(done, 4, 2, "SIMs fetched")
        progress.add_rows(17)
        progress.finish()
    progress.every(1, 4, 2, "SIMs fetched")  # no sink plugged in any more: nowhere to go
    assert [(s.done, s.total, s.rows, s.milestone) for s in sink.steps] == [
        (1, 4, 0, False),
        (2, 4, 0, True),  # every 2 SIMs
        (3, 4, 0, False),
        (4, 4, 0, False),  # the end is said by `finish`, with the rows decoded last
        (4, 4, 17, False),
        (4, 4, 17, True),
    ]
    assert sink.steps[-1].final and sink.steps[-1].key == ("session_events", "2026-12-01", "jp")


def test_a_terminal_gets_a_live_bar_with_counts_rows_rate_and_eta() -> None:
    out, clock = StringIO(), _Clock()
    console = Console(force_terminal=True, file=out, width=160, color_system=None)
    with live_progress(console, clock) as view:
        progress = Progress(_Log(), "jp", None, "session_events", "2026-12-01")
        progress.every(1, 100, 1000, "SIMs fetched")  # first seen at t=100
        clock.now = 110.0
        progress.add_rows(250)
        progress.every(40, 100, 1000, "SIMs fetched")  # 40 in 10 s: 4/s, 60 to go: 15 s
        view.refresh()
        bars = [line for line in _lines(out) if "session_events 2026-12-01 [jp]" in line]
        assert "━" in bars[-1]  # the bar
        assert re.search(r"\b40/100 SIMs fetched, 250 rows, 4\.0/s, ETA 0:00:15", bars[-1]), bars[-1]
        clock.now = 125.0
        progress.every(100, 100, 1000, "SIMs fetched")
        progress.finish()  # the bar goes; its last counts stay as a line
        view.refresh()
    assert isinstance(view, RichView)
    lines = _lines(out)
    done = "  session_events 2026-12-01 [jp]: 100/100 SIMs fetched, 250 rows, 4.0/s, ETA 0:00:00"
    assert done in lines
    assert not any("━" in line for line in lines[lines.index(done) :])  # no bar left after it


def test_other_output_gets_plain_lines_at_milestones() -> None:
    out, clock = StringIO(), _Clock()
    with live_progress(Console(file=out), clock) as view:
        progress = Progress(_Log(), "jp", None, "harvest_entries", "2026-12-01")
        for done in range(1, 7):
            clock.now = 100.0 + done
            progress.every(done, 6, 3, "resources fetched")
            progress.add_rows(2)
        progress.finish()
    assert isinstance(view, PlainView)
    assert out.getvalue().splitlines() == [
        "  harvest_entries 2026-12-01 [jp]: 3/6 resources fetched, 4 rows, 1.5/s, ETA 0:00:02",
        "  harvest_entries 2026-12-01 [jp]: 6/6 resources fetched, 12 rows, 1.2/s, ETA 0:00:00",
    ]
