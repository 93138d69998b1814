"""A partition write collects garbage only after a big fan-out (the one fetch that leaves
garbage worth a full collection); after a small fetch (an export's one call) it does not, since
a full collection walks every object of the process, Dagster's included."""

from __future__ import annotations

import gc
from datetime import UTC, datetime

import polars as pl
import pytest

from assets import loading
from assets.loading import COLLECT_AFTER_CALLS, Fetched
from assets.tables import source
from pipelines.lake import Lake

LOADED_AT = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(("calls", "collected"), [(1, False), (COLLECT_AFTER_CALLS, True)])
def test_garbage_is_collected_only_after_a_big_fetch(tmp_path, monkeypatch, calls, collected):
    collections: list[object] = []
    monkeypatch.setattr(gc, "collect", lambda *args: collections.append(args) or 0)
    table = source("error_logs")
    spec = table.spec
    frame = pl.from_arrow(spec.schema.empty_table()).drop(["coverage", "_loaded_at", *spec.partition_by])
    partition = table.lake_partition_of("2026-11-28")
    written = loading._write(
        Lake(tmp_path), spec, partition, [("jp", Fetched(frame))], LOADED_AT, None, fetch_calls=calls
    )
    assert written.rows == 0
    assert bool(collections) is collected
