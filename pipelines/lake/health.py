"""Unreadable partition files: find them (a full read of each file, so only when something
already failed), and move one aside to `<root>/_quarantine/` where no table glob reads it.

A corrupt file otherwise surfaces as DuckDB's `don't know what type:` in whichever model reads
it first, naming the model instead of the file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.lake.lake import Lake
from pipelines.lake.spec import TableSpec
from pipelines.lake.storage import LocalStorage

QUARANTINE_FOLDER = "_quarantine"


@dataclass(frozen=True)
class Unreadable:
    """One partition file that cannot be read, and why."""

    table: str
    partition: dict[str, object]
    key: str
    uri: str
    reason: str


def unreadable_files(lake: Lake, spec: TableSpec) -> list[Unreadable]:
    """Every partition file of `spec` that does not read back whole."""
    found = []
    for values in lake.partitions(spec):
        key = lake.partition_key(spec, values)
        try:
            with lake.storage.open_read(key) as handle:
                pq.read_table(handle)
        except FileNotFoundError:
            continue  # replaced or removed meanwhile
        except (OSError, pa.ArrowException, ValueError) as error:
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            found.append(Unreadable(spec.name, values, key, lake.storage.uri(key), reason))
    return found


def quarantine(lake: Lake, key: str, now: datetime | None = None) -> str:
    """Move the file at `key` to `_quarantine/<key>.<UTC stamp>`; returns where it went. Local
    lakes and fsspec object stores (which have `fs` and `path`)."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    target = f"{QUARANTINE_FOLDER}/{key}.{stamp}"
    storage = lake.storage
    if isinstance(storage, LocalStorage):
        destination = storage.path(target)
        storage.make_dirs(destination.parent)
        os.replace(storage.path(key), destination)
    else:
        fs, path = getattr(storage, "fs", None), getattr(storage, "path", None)
        if fs is None or path is None:
            raise NotImplementedError(f"cannot move files aside in {lake.root}: move {key} by hand")
        fs.mv(path(key), path(target))
    return storage.uri(target)
