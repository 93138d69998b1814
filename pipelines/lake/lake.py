"""`Lake`: Hive-partitioned Parquet tables under one root, one file per partition.

Layout: `<root>/<table>/<col>=<value>/.../part-0.parquet` for tables and
`<root>/_models/<model>/*.parquet` for materialised SQL models (`part-0.parquet`, or one file per
day or month of a partitioned mart). A partition is written whole and atomically; writing it
again replaces it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.lake.conform import check_primary_key_file, checks_key, conform
from pipelines.lake.errors import LakeError
from pipelines.lake.spec import MODELS_FOLDER, TableSpec
from pipelines.lake.storage import LocalStorage, Storage, open_storage

PART_FILE = "part-0.parquet"
# Called with the new file's row count before it replaces the old one; raising keeps the old file.
BeforeReplace = Callable[[int], None]
COMPRESSION = "zstd"


def _parquet_options(spec: TableSpec) -> dict[str, Any]:
    """zstd; dictionary encoding except for the spec's `plain_columns`."""
    dictionary: bool | list[str] = spec.dictionary_columns if spec.plain_columns else True
    return {"compression": COMPRESSION, "use_dictionary": dictionary}


@dataclass(frozen=True)
class WriteResult:
    """Where a write landed (absolute path or URI), how many rows and bytes it holds, and whether
    the write verified the partition's primary key (no NULL, no repeat) on what it wrote."""

    path: str
    rows: int
    bytes: int
    key_verified: bool = False


class Lake:
    """A lake rooted at a folder or an object-store URL (`s3://bucket/prefix`, see `open_storage`)."""

    def __init__(self, root: str | os.PathLike[str], storage: Storage | None = None) -> None:
        self.storage: Storage = storage if storage is not None else open_storage(root)
        self.root: str = self.storage.uri("")

    def __repr__(self) -> str:
        return f"Lake({self.root!r})"

    # -- keys -------------------------------------------------------------------------------------

    def partition_key(self, spec: TableSpec, partition: Mapping[str, object]) -> str:
        """Storage key of a partition's file, e.g. `sessions/date=2024-01-01/part-0.parquet`."""
        values = spec.partition_values(partition)
        return "/".join(p for p in (spec.name, spec.partition_path(values), PART_FILE) if p)

    def table_glob(self, spec: TableSpec) -> str:
        """Absolute glob of every partition file of `spec` (what DuckDB and Polars read)."""
        return "/".join([self.storage.uri(spec.name), *(["*"] * len(spec.partition_by)), "*.parquet"])

    def model_key(self, name: str) -> str:
        return f"{MODELS_FOLDER}/{name}/{PART_FILE}"

    def model_glob(self, name: str) -> str:
        return f"{self.storage.uri(f'{MODELS_FOLDER}/{name}')}/*.parquet"

    def has_model(self, name: str) -> bool:
        return self.storage.exists(self.model_key(name))

    # -- writing ----------------------------------------------------------------------------------

    def write_partition(
        self,
        spec: TableSpec,
        partition: Mapping[str, object],
        data: pa.Table | pl.DataFrame,
        before_replace: BeforeReplace | None = None,
    ) -> WriteResult:
        """Validate `data` against `spec` and replace the partition's file with it, atomically.
        `before_replace(rows)` may raise to keep the old file (e.g. a reload that shrank)."""
        values = spec.partition_values(partition)
        table = conform(spec, values, data)
        key = self.partition_key(spec, values)
        if before_replace is not None:
            before_replace(table.num_rows)
        with self.storage.atomic_write(key) as temp:
            with open(temp, "xb") as handle:
                pq.write_table(table, handle, **_parquet_options(spec))
            size = os.path.getsize(temp)  # what is published: no request to ask the store after
        return WriteResult(
            path=self.storage.uri(key), rows=table.num_rows, bytes=size, key_verified=checks_key(spec)
        )

    def write_partition_batches(
        self,
        spec: TableSpec,
        partition: Mapping[str, object],
        batches: Iterable[pa.Table | pl.DataFrame],
        before_replace: BeforeReplace | None = None,
    ) -> WriteResult:
        """`write_partition` for data too big to hold at once (a day of 5-minute traffic of a big
        fleet): each batch is validated and appended as it comes; the primary key of the whole
        partition is checked on the written file, before it replaces the old one."""
        values = spec.partition_values(partition)
        key = self.partition_key(spec, values)
        rows = 0
        with self.storage.atomic_write(key) as temp:
            with (
                open(temp, "xb") as handle,
                pq.ParquetWriter(handle, spec.data_schema, **_parquet_options(spec)) as writer,
            ):
                for batch in batches:
                    table = conform(spec, values, batch, check_key=False)
                    if table.num_rows:
                        writer.write_table(table)
                        rows += table.num_rows
            check_primary_key_file(spec, values, temp)
            if before_replace is not None:
                before_replace(rows)
            size = os.path.getsize(temp)
        return WriteResult(path=self.storage.uri(key), rows=rows, bytes=size, key_verified=checks_key(spec))

    # -- reading ----------------------------------------------------------------------------------

    def partitions(self, spec: TableSpec, listed: Iterable[str] | None = None) -> list[dict[str, object]]:
        """Typed values of every loaded partition (those with a file, even an empty one), sorted.
        `listed`: the keys under the table as a listing just gave them (else it lists them)."""
        found: list[dict[str, object]] = []
        depth = len(spec.partition_by)
        prefix = spec.name + "/"
        # One listing of the table (one request per 1000 objects on an object store), not a walk.
        for key in self.storage.list_files(spec.name) if listed is None else listed:
            segments = key.removeprefix(prefix).split("/")
            if len(segments) != depth + 1 or segments[-1] != PART_FILE:
                continue
            values = {
                c: spec.parse_segment(c, seg) for c, seg in zip(spec.partition_by, segments, strict=False)
            }
            if all(v is not None for v in values.values()):
                found.append(values)
        return sorted(found, key=lambda v: tuple(v[c] for c in spec.partition_by))

    def has_partition(self, spec: TableSpec, partition: Mapping[str, object]) -> bool:
        return self.storage.exists(self.partition_key(spec, partition))

    def partition_rows(self, spec: TableSpec, partition: Mapping[str, object]) -> int | None:
        """Rows in a partition's file, from its footer; None when the partition has no file."""
        key = self.partition_key(spec, partition)
        try:
            with self.storage.open_read(key) as handle:
                return int(pq.ParquetFile(handle).metadata.num_rows)
        except FileNotFoundError:
            return None

    def read(self, spec: TableSpec, partition: Mapping[str, object] | None = None) -> pl.DataFrame:
        """Rows of the matching partitions (all, or those equal to a full or partial `partition`),
        with partition columns restored and every column typed as `spec.schema` says."""
        wanted = spec.partition_values(partition or {}, partial=True)
        if spec.partition_by and set(wanted) == set(spec.partition_by):  # one partition: no listing
            candidates = [wanted] if self.has_partition(spec, wanted) else []
        else:
            candidates = self.partitions(spec)
        tables = []
        for values in candidates:
            if any(values[c] != v for c, v in wanted.items()):
                continue
            tables.append(self._read_file(spec, values))
        if not tables:
            return pl.from_arrow(spec.schema.empty_table())
        return pl.from_arrow(pa.concat_tables(tables))

    def scan(self, spec: TableSpec) -> pl.LazyFrame:
        """A lazy Polars scan of the whole table (Hive columns typed by the spec), for large reads.
        On an object store it reads through the lake (`read`), with the store's own credentials."""
        if not self.partitions(spec):
            return pl.from_arrow(spec.schema.empty_table()).lazy()
        if not isinstance(self.storage, LocalStorage):
            return self.read(spec).lazy()
        polars_schema = pl.from_arrow(spec.schema.empty_table()).schema
        hive_schema = {c: polars_schema[c] for c in spec.partition_by}
        # The spec's schema, not the first file's: files written before a column was added lack it
        # (read as nulls), files written after a column was dropped from the spec keep it (ignored).
        frame = pl.scan_parquet(
            self.table_glob(spec),
            schema={c: t for c, t in polars_schema.items() if c not in hive_schema},
            hive_partitioning=bool(spec.partition_by),
            hive_schema=hive_schema or None,
            missing_columns="insert",
            extra_columns="ignore",
        )
        return frame.select(spec.schema.names)

    def _read_file(self, spec: TableSpec, values: Mapping[str, object]) -> pa.Table:
        key = self.partition_key(spec, values)
        try:
            # One handle for the whole read: a path-based reader may reopen the file and, if the
            # partition is rewritten meanwhile, mix the old file's footer with the new file's pages.
            with self.storage.open_read(key) as handle:
                stored = pq.read_table(handle)
        except (OSError, pa.ArrowInvalid) as error:
            raise LakeError(f"table {spec.name!r}: cannot read {self.storage.uri(key)}: {error}") from error
        columns = []
        for field in spec.schema:
            if field.name in values:
                columns.append(pa.array([values[field.name]] * stored.num_rows, field.type))
            elif field.name in stored.column_names:
                columns.append(stored.column(field.name).cast(field.type))
            else:  # written before the column was added to the spec
                columns.append(pa.nulls(stored.num_rows, field.type))
        return pa.Table.from_arrays(columns, schema=spec.schema)
