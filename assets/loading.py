"""The one way a source asset loads a partition: guard retention, fetch every coverage,
type the rows, write one lake partition atomically, report what happened.

Each source module supplies only a `fetch` coroutine (client + window -> typed frame); this
module owns the asyncio loop, coverages, lineage columns, the write and the metadata.
"""

import asyncio
import contextlib
import ctypes
import gc
import time
import warnings
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import dagster as dg
import polars as pl
from dagster import AssetExecutionContext
from dagster._core.errors import DagsterExecutionInterruptedError

from assets import step_stop
from assets.check_rules import source_check_results, source_check_specs
from assets.describe import OWNERS, arrow_columns, column_schema
from assets.expected_rows import nearest_loaded_rows
from assets.frames import add_lineage, table_columns
from assets.partitions import Window, window_for
from assets.progress import Step, report
from assets.resources import ClockResource, LakeResource, SoracomResource
from assets.retention import Retention
from assets.shrink_guard import ShrinkPolicy, ShrinkRefused, guard
from pipelines.lake import Lake, TableSpec, WriteResult
from pipelines.lake.lake import BeforeReplace
from pipelines.soracom import SoracomClient, SoracomRetryError, SoracomSetupError

_T = TypeVar("_T")
# Every source asset is in the pool `soracom_api.<family>` (its Source's `pool`: the Soracom API
# family it calls); the pools' limit is in pipelines/dagster_instance.yaml.
API_POOL = "soracom_api"
# A step whose API stayed down past the client's own budget (max_retry_seconds) is run again by
# Dagster: audit logs are kept 24 h, so a lost hour is lost for good. Raised as RetryRequested
# for transient errors only, not as a `retry_policy`: in Dagster 1.13 a retry policy turns a
# SIGTERM of the step into a retry (`op_execution_error_boundary`), so a stopped run went on.
TRANSIENT_RETRIES = 2
TRANSIENT_RETRY_WAIT_S = 60.0


@dataclass(frozen=True)
class Batches:
    """Rows too big to hold at once (a day of 5-minute traffic of a big fleet): `read()` yields
    them as typed frames, and the lake writes each as it comes, in the order given (no sort)."""

    read: Callable[[], Iterator[pl.DataFrame]]


@dataclass
class Fetched:
    """What one coverage's fetch produced: the typed rows and any source-specific metadata."""

    frame: pl.DataFrame | Batches
    metadata: dict[str, Any] = field(default_factory=dict)
    cleanup: Callable[[], None] | None = None  # called once the partition is written (temp files)
    # The API refused this coverage's rows for now (a billing CSV before the month closed):
    # the partition keeps the rows of this coverage already in the lake instead of `frame`.
    keep_loaded: bool = False


Fetch = Callable[[SoracomClient, Window, "Progress"], Awaitable[Fetched]]
LakePartition = Callable[[Window], Mapping[str, object]]


class Progress:
    """Progress lines for long partitions, tagged with the coverage; `now` is the run's instant
    from the clock resource (None outside a run), for fetches that depend on it (billing).
    Counted work (`every`, `add_rows`) also goes to the live progress sinks (assets/progress.py)."""

    def __init__(
        self,
        log: Any,
        coverage: str,
        now: datetime | None = None,
        source: str = "",
        partition: str = "",
        expected_rows: Callable[[], int | None] | None = None,
    ) -> None:
        self._log = log
        self.coverage = coverage
        self.now = now
        self.source = source
        self.partition = partition
        self._expected_rows = expected_rows
        self.rows = 0
        self._last: tuple[int, int, str] | None = None  # done, total, what of the last `every`

    def run_now(self) -> datetime:
        if self.now is None:
            raise RuntimeError("this fetch needs the run's now: pass Progress(log, coverage, now)")
        return self.now

    def expected_rows(self) -> int | None:
        """Rows this partition is expected to hold, from the table's nearest loaded partition
        (`assets/expected_rows.py`); None when unknown. Asked only by fetches that use it."""
        return self._expected_rows() if self._expected_rows is not None else None

    def info(self, message: str) -> None:
        self._log.info(f"[{self.coverage}] {message}")

    def warning(self, message: str) -> None:
        self._log.warning(f"[{self.coverage}] {message}")

    def every(self, done: int, total: int, step: int, what: str, growing: bool = False) -> None:
        """Log `done/total what` every `step` items and at the end; tell the live sinks always
        (their plain lines come every `step` items, and the last one when the fetch ends).
        `growing`: the total may still grow (its list is still coming), so done == total is not
        the end yet."""
        if total and (done % step == 0 or (done == total and not growing)):
            self.info(f"{done}/{total} {what}")
        self._last = (done, total, what)
        self._report(milestone=bool(total) and done % step == 0 and done < total)

    def add_rows(self, rows: int) -> None:
        """Rows decoded so far grew by `rows` (shown with the counts of the last `every`)."""
        self.rows += rows
        self._report(milestone=False)

    def finish(self) -> None:
        """The fetch ended: a last report with its final counts, if it counted anything."""
        self._report(milestone=True, final=True)

    def _report(self, milestone: bool, final: bool = False) -> None:
        if self._last is None:
            return
        done, total, what = self._last
        coverage, rows = self.coverage, self.rows
        report(Step(self.source, self.partition, coverage, what, done, total, rows, milestone, final))


async def _fetch_tracked(fetch: Fetch, client: SoracomClient, window: Window, progress: Progress) -> Fetched:
    """One coverage's fetch, then its last progress report (the final counts and rows)."""
    fetched = await fetch(client, window, progress)
    progress.finish()
    return fetched


@dataclass
class PartitionLoad:
    """What loading one partition did."""

    window: Window
    rows: int
    bytes: int
    path: str
    api_calls: int
    metadata: dict[str, Any]
    key_verified: bool = False  # the write proved the primary key unique (no second scan)


def _frame_of(
    results: list[tuple[str, Fetched]], loaded_at: datetime, sort_by: list[str] | None
) -> pl.DataFrame:
    frames = [
        fetched.frame
        if "_loaded_at" in fetched.frame.columns
        else add_lineage(fetched.frame, coverage, loaded_at)
        for coverage, fetched in results
    ]
    # One contiguous copy, and the fetched originals let go before sorting: sorting a frame of
    # many chunks (one per fetched batch) took 3-4x the frame's size in memory.
    frame = pl.concat(frames, how="diagonal_relaxed", rechunk=True) if frames else pl.DataFrame()
    del frames
    for _, fetched in results:
        fetched.frame = frame.clear()
    if sort_by and frame.height:
        frame = frame.sort(sort_by, nulls_last=True, maintain_order=True)
    return frame


def _loaded_rows(lake: Lake, spec: TableSpec, partition: Mapping[str, object], coverage: str) -> pl.DataFrame:
    """The rows of one coverage already in a partition, with their own lineage (none: empty)."""
    if lake.has_partition(spec, partition):
        rows = lake.read(spec, partition).filter(pl.col("coverage") == coverage)
    else:
        rows = pl.DataFrame(pl.from_arrow(spec.schema.empty_table()))
    return rows.drop([c for c in spec.partition_by if c in rows.columns])


# A fetch of at least this many calls has its garbage collected before the write. A full
# collection walks every object of the process (Dagster's included): 0.13-0.3 s of CPU, paid
# by every step when it ran always (a fifth of the CPU of the 1,000-SIM nightly's steps, by
# py-spy) though only a big fan-out leaves garbage worth it.
COLLECT_AFTER_CALLS = 1000


def _return_free_memory(collect: bool = True) -> None:
    """Hand freed heap back to the OS (glibc keeps it otherwise), after collecting garbage when
    `collect`: a fan-out of 75k calls leaves ~100 MB of freed, fragmented heap that the write
    would add to. The trim alone costs next to nothing."""
    if collect:
        gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _write(
    lake: Lake,
    spec: TableSpec,
    partition: Mapping[str, object],
    results: list[tuple[str, Fetched]],
    loaded_at: datetime,
    sort_by: list[str] | None,
    before_replace: BeforeReplace | None = None,
    fetch_calls: int = COLLECT_AFTER_CALLS,
) -> WriteResult:
    """One partition from every coverage's rows. `Batches` (exports too big for memory) stream
    to the file batch by batch, in the order the source gave them (an export's order is fixed).
    `before_replace` (the shrink guard) may refuse the new file, keeping the old one."""
    # the fetch's page objects are garbage now; the write needs room
    _return_free_memory(collect=fetch_calls >= COLLECT_AFTER_CALLS)
    for coverage, one in results:
        if one.keep_loaded:
            one.frame = _loaded_rows(lake, spec, partition, coverage)
    if not any(isinstance(one.frame, Batches) for _, one in results):
        frame = table_columns(_frame_of(results, loaded_at, sort_by), spec.schema, spec.partition_by)
        return lake.write_partition(spec, partition, frame, before_replace)

    def batches() -> Iterator[pl.DataFrame]:
        for coverage, one in results:
            parts = one.frame.read() if isinstance(one.frame, Batches) else iter([one.frame])
            for part in parts:
                yield table_columns(add_lineage(part, coverage, loaded_at), spec.schema, spec.partition_by)

    return lake.write_partition_batches(spec, partition, batches(), before_replace)


async def _load_windows(
    context: AssetExecutionContext,
    *,
    spec: TableSpec,
    windows: list[Window],
    lake_partition: Callable[[Window], Mapping[str, object]],
    soracom: SoracomResource,
    lake: LakeResource,
    fetch: Fetch,
    sort_by: list[str] | None,
    now: datetime,
    shrink: ShrinkPolicy,
) -> tuple[list[PartitionLoad], dict[str, dict[str, Any]]]:
    """Fetch and write each window in turn, with one authenticated client per coverage. A window
    the shrink guard refuses keeps its old file and the others still load; the step then fails
    naming every refused partition."""
    coverages = soracom.coverage_list()
    the_lake = lake.lake()
    loads: list[PartitionLoad] = []
    refused: list[str] = []
    async with contextlib.AsyncExitStack() as stack:
        clients = {c: await stack.enter_async_context(soracom.client(c)) for c in coverages}
        for window in windows:
            calls_before = sum(client.stats.calls for client in clients.values())
            loaded_at = now
            partition = lake_partition(window)

            def expected(partition: Mapping[str, object] = partition) -> int | None:
                return nearest_loaded_rows(the_lake, spec, partition)

            progress = {c: Progress(context.log, c, now, spec.name, window.key, expected) for c in coverages}
            fetched = await asyncio.gather(
                *(_fetch_tracked(fetch, clients[c], window, progress[c]) for c in coverages)
            )
            results = list(zip(coverages, fetched, strict=True))
            check = guard(the_lake, spec, partition, window.key, shrink)
            fetch_calls = sum(client.stats.calls for client in clients.values()) - calls_before
            try:
                written = _write(the_lake, spec, partition, results, loaded_at, sort_by, check, fetch_calls)
            except ShrinkRefused as error:
                context.log.error(str(error))
                refused.append(str(error))
                continue
            finally:
                for one in fetched:
                    if one.cleanup is not None:
                        one.cleanup()
            metadata: dict[str, Any] = {}
            for coverage, one in results:
                for key, value in one.metadata.items():
                    metadata[f"{key}_{coverage}" if len(results) > 1 else key] = value
            load = PartitionLoad(
                window=window,
                rows=written.rows,
                bytes=written.bytes,
                path=written.path,
                api_calls=sum(client.stats.calls for client in clients.values()) - calls_before,
                metadata=metadata,
                key_verified=written.key_verified,
            )
            loads.append(load)
            context.log.info(
                f"{spec.name} {window.key}: {load.rows} rows, {load.api_calls} API calls, "
                f"{load.bytes} bytes -> {load.path}"
            )
        stats = {c: client.stats.as_dict() for c, client in clients.items()}
    if refused:
        raise ShrinkRefused("; ".join(refused))
    return loads, stats


def _run_metadata(windows: list[Window], stats: dict[str, dict[str, Any]], seconds: float) -> dict[str, Any]:
    """What the run did as a whole (its window, API stats, time): recorded on every partition's
    materialization; each partition's own figures come from `_partition_metadata`."""
    metadata: dict[str, Any] = {
        "run_window_start": dg.MetadataValue.text(windows[0].start.isoformat()),
        "run_window_end": dg.MetadataValue.text(windows[-1].end.isoformat()),
        "run_partitions": dg.MetadataValue.int(len(windows)),
        "coverages": dg.MetadataValue.text(",".join(stats)),
        "seconds": dg.MetadataValue.float(round(seconds, 3)),
        "api_stats": dg.MetadataValue.json(
            {c: {k: v for k, v in s.items() if k != "pages_by_operation"} for c, s in stats.items()}
        ),
    }
    return metadata


def _partition_metadata(load: PartitionLoad) -> dict[str, Any]:
    """One partition's own rows, bytes, file and API calls (a range run records each partition
    apart, not the range's totals)."""
    return {
        "rows": dg.MetadataValue.int(load.rows),
        "dagster/row_count": dg.MetadataValue.int(load.rows),
        "api_calls": dg.MetadataValue.int(load.api_calls),
        "bytes": dg.MetadataValue.int(load.bytes),
        "path": dg.MetadataValue.path(load.path),
        "window_start": dg.MetadataValue.text(load.window.start.isoformat()),
        "window_end": dg.MetadataValue.text(load.window.end.isoformat()),
        **load.metadata,
    }


def load_partitions(
    context: AssetExecutionContext,
    *,
    spec: TableSpec,
    retention: Retention,
    lake_partition: Callable[[Window], Mapping[str, object]],
    soracom: SoracomResource,
    lake: LakeResource,
    clock: ClockResource,
    fetch: Fetch,
    sort_by: list[str] | None = None,
) -> dg.MaterializeResult:
    """Load the run's partition(s) of one source from every configured coverage, one lake
    partition per Dagster partition, then run the table's checks in this step. A range run
    (backfill) checks every partition against the retention window before loading any."""
    asset = context.asset_key.to_user_string()
    partitions_def = context.assets_def.partitions_def
    if not isinstance(partitions_def, dg.TimeWindowPartitionsDefinition):
        raise TypeError(f"{asset} must have time-window partitions, got {partitions_def}")
    windows = [window_for(partitions_def, key) for key in context.partition_keys]
    now = clock.now()
    for window in windows:
        retention.guard(asset, window, now)
    try:
        shrink = ShrinkPolicy.from_env()
    except ValueError as error:
        raise dg.Failure(description=str(error), allow_retries=False) from None
    started = time.monotonic()
    span = f"{windows[0].key}" if len(windows) == 1 else f"{windows[0].key}...{windows[-1].key}"
    context.log.info(f"loading {asset} {span} ({len(windows)} partition(s)) from {soracom.describe()}")
    load = _load_windows(
        context,
        spec=spec,
        windows=windows,
        lake_partition=lake_partition,
        soracom=soracom,
        lake=lake,
        fetch=fetch,
        sort_by=sort_by,
        now=now,
        shrink=shrink,
    )
    with _transient_errors_retried(context):
        loads, stats = run_stoppable(load)
    for one in loads:
        context.add_asset_metadata(_partition_metadata(one), partition_key=one.window.key)
    metadata = _run_metadata(windows, stats, time.monotonic() - started)

    def partition_of(key: str) -> Mapping[str, object]:
        return spec.partition_values(lake_partition(window_for(partitions_def, key)))

    loaded = {one.window.key: one.rows for one in loads}
    verified = [one.window.key for one in loads if one.key_verified]
    checks = source_check_results(context, lake.lake(), spec, partition_of, loaded, verified)
    return dg.MaterializeResult(metadata=metadata, check_results=checks)


def run_stoppable(work: Coroutine[Any, Any, _T]) -> _T:
    """`asyncio.run(work)`, cancelled at once when the executor stops the step's thread
    (an interrupt or another step's error, `pipelines/executor.py`): what it wrote stays whole
    (each partition is written atomically) and the step ends as interrupted."""
    stop = step_stop.current()
    if stop is None:  # the main thread: Dagster raises the interrupt in the step itself
        return asyncio.run(work)

    async def until_stopped() -> _T:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        assert task is not None

        def cancel() -> None:  # from the executor's thread; the loop may have just closed
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(task.cancel)

        with stop.calling(cancel):
            return await work

    try:
        return asyncio.run(until_stopped())
    except asyncio.CancelledError:
        if stop.requested:
            raise DagsterExecutionInterruptedError("the run was stopped while this step loaded") from None
        raise


@contextlib.contextmanager
def _transient_errors_retried(context: AssetExecutionContext) -> Iterator[None]:
    """Setup errors end the step with their one line and no retry; an API still failing after
    the client's retry budget asks Dagster to run the step again, up to TRANSIENT_RETRIES
    times, then fails with the client's own error."""
    try:
        yield
    except (SoracomSetupError, ShrinkRefused) as error:
        raise dg.Failure(description=str(error), allow_retries=False) from None
    except SoracomRetryError as error:
        transient = error.last_status is None or error.last_status >= 500 or error.last_status == 429
        if not transient:
            raise
        if context.retry_number >= TRANSIENT_RETRIES:
            attempts = f"step attempt {context.retry_number + 1} of {TRANSIENT_RETRIES + 1}"
            raise dg.Failure(description=f"{error} ({attempts})", allow_retries=False) from error
        context.log.warning(f"{error}; running the step again in {TRANSIENT_RETRY_WAIT_S:.0f} s")
        raise dg.RetryRequested(
            max_retries=TRANSIENT_RETRIES, seconds_to_wait=TRANSIENT_RETRY_WAIT_S
        ) from error


def define_source_asset(
    *,
    spec: TableSpec,
    retention: Retention,
    partitions_def: dg.TimeWindowPartitionsDefinition,
    lake_partition: LakePartition,
    fetch: Fetch,
    group: str,
    pool: str,
    sort_by: list[str] | None = None,
) -> dg.AssetsDefinition:
    """The Dagster asset of one source table (named after it).

    Windowed sources take partition ranges in one run (`BackfillPolicy.single_run`, which
    `dagster asset materialize --partition-range` requires); snapshots load one partition
    per run, since only the latest can be taken. `pool` is the Soracom API family it calls: its
    steps share the Dagster pool `soracom_api.<pool>` with the sources calling the same operations.
    """

    def _asset(
        context: AssetExecutionContext, soracom: SoracomResource, lake: LakeResource, clock: ClockResource
    ) -> dg.MaterializeResult:
        return load_partitions(
            context,
            spec=spec,
            retention=retention,
            lake_partition=lake_partition,
            soracom=soracom,
            lake=lake,
            clock=clock,
            fetch=fetch,
            sort_by=sort_by,
        )

    with warnings.catch_warnings():  # backfill_policy is "beta" in Dagster 1.13, and what we need
        warnings.simplefilter("ignore", dg.BetaWarning)
        return dg.asset(
            name=spec.name,
            partitions_def=partitions_def,
            group_name=group,
            kinds={"parquet"},
            owners=OWNERS,
            pool=f"{API_POOL}.{pool}",
            description=spec.description,
            backfill_policy=None if retention.snapshot else dg.BackfillPolicy.single_run(),
            check_specs=source_check_specs(spec),
            metadata={
                "table": spec.name,
                "retention": retention.describe(),
                "dagster/column_schema": column_schema(arrow_columns(spec.schema)),
            },
        )(_asset)
