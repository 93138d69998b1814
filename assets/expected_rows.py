"""How many rows a source's partition is expected to hold, from what the lake already holds.

A day of a fleet's usage is about as big as the day before: the nearest loaded partition of
the same table (the newest at or before the one being loaded, else the oldest after it) is
the estimate. Exports use it to ask for a small file at once (sync) instead of polling; with
nothing loaded yet the size is unknown and the export stays async.
"""

from __future__ import annotations

from collections.abc import Mapping

from pipelines.lake import Lake, LakeError, TableSpec


def nearest_loaded_rows(lake: Lake, spec: TableSpec, partition: Mapping[str, object]) -> int | None:
    """Rows of the loaded partition nearest `partition` (all coverages together: an upper
    bound for one coverage's export), or None when none is loaded or the lake cannot say."""
    try:
        wanted = spec.partition_values(partition)
        key = tuple(wanted[c] for c in spec.partition_by)
        loaded = [tuple(p[c] for c in spec.partition_by) for p in lake.partitions(spec)]
        before = [p for p in loaded if p <= key]  # type: ignore[operator]
        after = [p for p in loaded if p > key]  # type: ignore[operator]
        nearest = before[-1] if before else (after[0] if after else None)
        if nearest is None:
            return None
        return lake.partition_rows(spec, dict(zip(spec.partition_by, nearest, strict=True)))
    except (LakeError, OSError, ValueError):
        return None
