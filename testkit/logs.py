"""A stand-in for a Dagster log in tests that call asset code directly."""

from __future__ import annotations


class RecordingLog:
    """Keeps every info and warning line, in order, so a test can read what was said."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, message: str) -> None:
        self.lines.append(message)

    def warning(self, message: str) -> None:
        self.lines.append(message)
