"""What a failed Dagster step says to a person: its cause, on one line, not Dagster's wrapper.

Dagster wraps every exception raised in a step in `DagsterExecutionStepExecutionError: Error
occurred while executing op "x":`, with the real error as its cause; a `dagster.Failure` is shown
as `dagster._core.definitions.events.Failure: <description>`. The demo's summary and the CLI
print the innermost cause, as `Type: message` (just the message for a `Failure`, which is
written for people already).
"""

from __future__ import annotations

from typing import Protocol


class ErrorInfo(Protocol):
    """What Dagster records of an error (`SerializableErrorInfo`, not public API)."""

    @property
    def cls_name(self) -> str | None: ...
    @property
    def message(self) -> str: ...
    @property
    def cause(self) -> ErrorInfo | None: ...


WRAPPERS = frozenset({"DagsterExecutionStepExecutionError", "DagsterUserCodeExecutionError"})
PLAIN = frozenset({"Failure"})  # messages written to be read as they are


def cause_of(error: ErrorInfo) -> str:
    """The innermost cause of a step failure as `Type: message` (one line per line of message)."""
    while error.cause is not None and error.cls_name in WRAPPERS:
        error = error.cause
    message = error.message.strip()
    qualified, sep, rest = message.partition(": ")
    if sep and qualified.rsplit(".", 1)[-1] == error.cls_name:  # `module.Type: text` -> `Type: text`
        message = rest.strip() if error.cls_name in PLAIN else f"{error.cls_name}: {rest.strip()}"
    elif error.cls_name in WRAPPERS:
        message = message.rstrip(":")
    return message
