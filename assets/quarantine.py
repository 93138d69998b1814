"""Corrupt partitions that can no longer be reloaded are moved aside, so they stop blocking
every mart that reads their table.

A corrupt partition Soracom still holds is left in place: its next load replaces it (the shrink
guard lets an unreadable file go). One older than the source's retention can never be loaded
again, and without this it would fail its marts until someone deleted it by hand; it goes to
`<lake>/_quarantine/` (nothing reads it there) and the move is said.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta

from assets.source import Source
from pipelines.lake import Lake
from pipelines.lake.health import quarantine, unreadable_files


def partition_start(values: Mapping[str, object]) -> datetime | None:
    """When a lake partition's data starts (UTC), from its `date` (+ `hour`) or `month` value."""
    day = values.get("date")
    if isinstance(day, date):
        hour = values.get("hour")
        return datetime.combine(day, time(), UTC) + timedelta(hours=hour if isinstance(hour, int) else 0)
    month = values.get("month")
    if isinstance(month, str) and len(month) == 7:
        return datetime.strptime(month, "%Y-%m").replace(tzinfo=UTC)
    return None


def sweep(lake: Lake, sources: Iterable[Source], now: datetime) -> tuple[list[str], int]:
    """Find unreadable partition files of `sources` (a full read of each: call it after a failure,
    not on every run); move aside those older than their retention. One line per file found, and
    how many were moved."""
    lines, moved_count = [], 0
    for source in sources:
        oldest = source.retention.oldest_start(now)
        for bad in unreadable_files(lake, source.spec):
            start = partition_start(bad.partition)
            where = f"{source.name} {'/'.join(f'{k}={v}' for k, v in bad.partition.items())}"
            if start is not None and start < oldest:
                moved = quarantine(lake, bad.key, now)
                moved_count += 1
                lines.append(
                    f"{where}: {bad.uri} is unreadable ({bad.reason}) and older than Soracom keeps "
                    f"({source.retention.describe()}), so it cannot be reloaded: moved aside to {moved}"
                )
            else:
                lines.append(
                    f"{where}: {bad.uri} is unreadable ({bad.reason}); load that partition again "
                    "(the load replaces the file)"
                )
    return lines, moved_count
