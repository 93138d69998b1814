"""A range run (backfill) records each partition's own figures, not the range's totals."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq

from assets.tables import source
from pipelines.lake import Lake
from tests.reliability import harness


def test_a_range_run_records_each_partitions_own_rows_bytes_path_and_calls(
    sandbox, sandbox_now, tmp_path: Path
) -> None:
    table = source("air_traffic_daily")
    days = [(sandbox_now - timedelta(days=n)).strftime("%Y-%m-%d") for n in (3, 2, 1)]
    res = harness.resources({"jp": sandbox.url_for("jp")}, sandbox.credentials, tmp_path, now=sandbox_now)
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        [table.asset],
        tags={"dagster/asset_partition_range_start": days[0], "dagster/asset_partition_range_end": days[-1]},
        resources=res,
        instance=instance,
        run_config=harness.QUIET,
    )
    assert result.success
    events = {m.partition: m.metadata for m in result.asset_materializations_for_node(table.name)}
    assert sorted(events) == days
    lake = Lake(tmp_path / "lake")
    for day, metadata in events.items():
        file = lake.storage.uri(lake.partition_key(table.spec, table.lake_partition_of(day)))
        assert metadata["rows"].value == pq.ParquetFile(file).metadata.num_rows, day
        assert metadata["dagster/row_count"].value == metadata["rows"].value
        assert metadata["path"].value == file
        assert metadata["window_start"].value.startswith(day)
        assert metadata["bytes"].value > 0 and metadata["api_calls"].value > 0
        assert metadata["run_partitions"].value == 3
    assert len({m["path"].value for m in events.values()}) == 3
    assert len({m["rows"].value for m in events.values()}) > 1, "days must differ to tell them apart"
