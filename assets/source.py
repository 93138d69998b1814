"""`Source`: everything about one source table, declared once in its module.

A source module defines one `Source(...)` per table (lake spec, fetch, partitions, lake
partition, retention, asset group, load job, API pool) and `assets/tables.py` registers it
with one line; the asset, the load jobs, the definitions, the retention checks, the docs
table and the tests all derive from that registry (see docs/ingestion.md, "Adding a source").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

import dagster as dg

from assets.loading import API_POOL, Fetch, LakePartition, define_source_asset
from assets.partitions import window_for
from assets.retention import Retention
from pipelines.lake import TableSpec

# The load job a source belongs to, by how it is partitioned and how often it runs
# (the jobs themselves are defined in pipelines/jobs.py).
LoadJob = Literal["daily", "snapshot", "hourly", "billing"]
LOAD_JOBS: tuple[LoadJob, ...] = ("daily", "snapshot", "hourly", "billing")
POOL_NAME = re.compile(r"[a-z0-9_]+")  # the family part of a pool name (Dagster's own rule: no spaces)


@dataclass(frozen=True)
class Source:
    """One source table. `asset` is built from the other fields when the object is created."""

    spec: TableSpec
    fetch: Fetch
    partitions_def: dg.TimeWindowPartitionsDefinition
    lake_partition: LakePartition
    retention: Retention
    group: str
    job: LoadJob
    # The Soracom API family it calls (`sims`, `exports`, ...): its asset's Dagster pool is
    # `soracom_api.<pool>`. Soracom rate-limits per operator and operation, so sources calling
    # a common operation must name the same family; sources of different families run at once.
    pool: str
    sort_by: tuple[str, ...] = ()
    api: str = ""  # the API operation(s) and path(s) it reads, for the docs table
    asset: dg.AssetsDefinition = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.job not in LOAD_JOBS:
            raise ValueError(f"source {self.spec.name}: job {self.job!r} is not one of {LOAD_JOBS}")
        if not POOL_NAME.fullmatch(self.pool):
            raise ValueError(
                f"source {self.spec.name}: pool {self.pool!r} is not an API family like 'sims' ([a-z0-9_])"
            )
        asset = define_source_asset(
            spec=self.spec,
            retention=self.retention,
            partitions_def=self.partitions_def,
            lake_partition=self.lake_partition,
            fetch=self.fetch,
            group=self.group,
            pool=self.pool,
            sort_by=list(self.sort_by) or None,
        )
        object.__setattr__(self, "asset", asset)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def pool_key(self) -> str:
        """The Dagster pool of its asset's steps (`soracom_api.<pool>`)."""
        return f"{API_POOL}.{self.pool}"

    def lake_partition_of(self, key: str) -> dict[str, object]:
        """Typed lake partition values of a Dagster partition key."""
        return self.spec.partition_values(self.lake_partition(window_for(self.partitions_def, key)))
