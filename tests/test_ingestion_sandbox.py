"""End to end: real Dagster materializations against the sandbox on loopback, into a real
Parquet lake and DuckDB catalog, compared table by table with the World's ground truth for
the same windows: after a first run, after a re-run, and after a run with faults on. The first
run and the re-run go to a local lake and to an S3 lake (a moto_server started by the tests).

The faults run talks to a sandbox in a child process, not a thread of the test process: a
thread shares the GIL and Polars' thread pool with the pipeline under test (the sandbox
renders CSV exports with Polars), so under CPU pressure the two starve or block each other
in ways production never sees - the cause of this test's rare stalls and of export polls
answered 500 for a whole retry budget.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import s3fs

from assets.partitions import Window, window_for
from assets.resources import ClockResource, LakeResource, SoracomResource
from assets.tables import SOURCES, source
from pipelines.demo import PlannedRun, execute_runs, plan_runs
from pipelines.jobs import DAILY_ASSETS, HOURLY_ASSETS, MONTHLY_ASSETS
from pipelines.lake import Lake, LocalStorage, open_catalog
from sandbox.process import ProcessSandbox, start_sandbox_process
from sandbox.testing import SandboxHandle, start_sandbox
from tests.assets import truth
from tests.reliability.harness import world_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

COVERAGES = ("jp", "g")
SECRET = "s3cr3t-key-that-must-never-be-logged"


@pytest.fixture(scope="module")
def box() -> Iterator[SandboxHandle]:
    """The module's sandbox; its `world.now` is the module's one instant: the days the tests load
    are counted from it and the pipeline's clock is fixed at it, so a run that crosses midnight
    UTC does not load a snapshot day that a wall clock already calls too old."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    with start_sandbox(sims=60, seed=7, now=now, coverage="both", auth_key=SECRET) as handle:
        yield handle


def resources_for(
    box: SandboxHandle | ProcessSandbox, root: Path, now: datetime, lake_root: str | None = None
) -> dict[str, dg.ConfigurableResource]:
    """Resources loading into `lake_root` (default `root/lake`), the catalog in `root`, the
    pipeline's clock fixed at `now` (the sandbox's)."""
    return {
        "soracom": SoracomResource(
            auth_key_id=box.credentials["authKeyId"],
            auth_key=box.credentials["authKey"],
            endpoint_jp=box.url_for("jp"),
            endpoint_g=box.url_for("g"),
            coverages="jp,g",
        ),
        "lake": LakeResource(root=lake_root or str(root / "lake"), catalog_path=str(root / "soracom.duckdb")),
        "clock": ClockResource(now_setting=now.isoformat()),
    }


def load(
    box: SandboxHandle | ProcessSandbox,
    root: Path,
    now: datetime,
    days: int = 2,
    lake_root: str | None = None,
) -> list[PlannedRun]:
    """The demo's runs of the last `days` closed days before `now`, the pipeline's clock at `now`."""
    runs = plan_runs(now, days)
    outcomes = execute_runs(runs, resources_for(box, root, now, lake_root), dg.DagsterInstance.ephemeral())
    failed = [(o.run.label, o.errors) for o in outcomes if not o.success]
    assert not failed, failed
    return runs


def windows_of(run: PlannedRun) -> list[Window]:
    partitions_def = run.assets[0].partitions_def
    keys = partitions_def.get_partition_keys_in_range(dg.PartitionKeyRange(run.first, run.last))
    return [window_for(partitions_def, k) for k in keys]


def run_for(runs: list[PlannedRun], assets: list) -> PlannedRun:
    return next(r for r in runs if r.assets == assets)


def assert_lake_matches_world(world: Any, lake: Lake | truth.ReadOnce, runs: list[PlannedRun]) -> None:
    days = windows_of(run_for(runs, DAILY_ASSETS))
    hours = windows_of(run_for(runs, HOURLY_ASSETS))
    months = windows_of(run_for(runs, MONTHLY_ASSETS))
    latest_day = days[-1].start.date()
    checked = 0
    tables = truth.read_once(lake)  # each table read once, not once per day and hour
    for coverage in COVERAGES:
        for w in days:
            day = w.start.date()
            pairs = [
                ("session_events", truth.SESSION_COLUMNS, truth.expected_session_events),
                ("air_traffic_daily", truth.AIR_DAILY_COLUMNS, truth.expected_air_daily),
                ("air_traffic_5min", truth.AIR_MINUTES_COLUMNS, truth.expected_air_minutes),
                ("harvest_entries", truth.HARVEST_COLUMNS, truth.expected_harvest),
            ]
            for table, columns, expected in pairs:
                want = expected(world, coverage, w)
                got = truth.lake_rows(tables, table, columns, coverage, date=day)
                assert got == want, (
                    f"{table} {coverage} {day}: {len(got)} rows in the lake, {len(want)} expected"
                )
                checked += len(want)
        for table, columns, expected in (
            ("sims", truth.SIMS_COLUMNS, truth.expected_sims),
            ("groups", truth.GROUPS_COLUMNS, truth.expected_groups),
            ("billing_summaries", truth.SUMMARY_COLUMNS, truth.expected_summaries),
        ):
            want = expected(world, coverage)
            assert truth.lake_rows(tables, table, columns, coverage, date=latest_day) == want, table
            checked += len(want)
        for w in hours:
            # Hours before the sandbox started hold no calls recorded during this test.
            if w.end_ms <= world.now_ms:
                want = truth.expected_api_audit(world, coverage, w)
                got = truth.lake_rows(
                    tables,
                    "api_audit_logs",
                    truth.API_AUDIT_COLUMNS,
                    coverage,
                    date=w.start.date(),
                    hour=w.start.hour,
                )
                assert got == want, f"api_audit_logs {coverage} {w.key}"
            want = truth.expected_napter_audit(world, coverage, w)
            got = truth.lake_rows(
                tables,
                "napter_audit_logs",
                truth.NAPTER_COLUMNS,
                coverage,
                date=w.start.date(),
                hour=w.start.hour,
            )
            assert got == want, f"napter_audit_logs {coverage} {w.key}"
        for w in months:
            month, current = w.start.strftime("%Y-%m"), w.start <= world.now < w.end
            want = truth.expected_bill(world, coverage, w.yyyymm, current)
            assert truth.lake_rows(tables, "bills", truth.BILL_COLUMNS, coverage, month=month) == want
            want = truth.expected_daily_bills(world, coverage, w.yyyymm)
            got = truth.lake_rows(tables, "daily_bills", truth.DAILY_BILL_COLUMNS, coverage, month=month)
            assert got == want
            want = truth.expected_billing_items(world, coverage, w.yyyymm)
            assert truth.lake_rows(tables, "billing_items", truth.ITEM_COLUMNS, coverage, month=month) == want
            checked += len(want)
    assert checked > 1000, "the comparison must cover real data"


def assert_catalog_matches_lake(root: Path, lake: Lake | truth.ReadOnce) -> None:
    con = open_catalog(root / "soracom.duckdb")  # registers an object store's file system
    try:
        for table in SOURCES:
            in_catalog = con.execute(f'SELECT count(*) FROM "{table.spec.name}"').fetchone()[0]
            assert in_catalog == lake.read(table.spec).height, table.spec.name
            assert in_catalog > 0, f"{table.spec.name} loaded no rows"
    finally:
        con.close()


@dataclass(frozen=True)
class FirstLoad:
    root: Path  # the catalog's folder
    lake_root: str  # a folder, or s3://bucket/lake
    runs: list[PlannedRun]
    days: int  # S3 loads one day, not two: moto answers slower than a disk


@pytest.fixture(scope="module", params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def first_load(
    request: pytest.FixtureRequest, box: SandboxHandle, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FirstLoad]:
    root = tmp_path_factory.mktemp(f"lake-first-{request.param}")
    if request.param == "local":
        yield FirstLoad(root, str(root / "lake"), load(box, root, box.world.now), days=2)
        return
    server = request.getfixturevalue("s3_server")
    with pytest.MonkeyPatch.context() as env:
        for name, value in server.env.items():
            env.setenv(name, value)
        env.setenv("SORACOM_LAKE_STAGING", str(tmp_path_factory.mktemp("staging")))
        bucket = f"ingest-{uuid.uuid4().hex[:12]}"
        s3fs.S3FileSystem(skip_instance_cache=True).mkdir(bucket)
        lake_root = f"s3://{bucket}/lake"
        yield FirstLoad(root, lake_root, load(box, root, box.world.now, days=1, lake_root=lake_root), days=1)


def lake_objects(lake: Lake) -> list[str]:
    """Every file (or object) under the lake, as storage keys."""
    if isinstance(lake.storage, LocalStorage):
        return [str(p.relative_to(lake.storage.root)) for p in lake.storage.root.rglob("*") if p.is_file()]
    base = lake.storage.path("") + "/"
    return [o.removeprefix(base) for o in lake.storage.fs.find(lake.storage.path(""))]


def test_first_run_matches_world(box: SandboxHandle, first_load: FirstLoad) -> None:
    tables = truth.ReadOnce(Lake(first_load.lake_root))  # compared twice, read once
    assert_lake_matches_world(box.world, tables, first_load.runs)
    assert_catalog_matches_lake(first_load.root, tables)


def test_rerun_replaces_partitions_without_duplicates(box: SandboxHandle, first_load: FirstLoad) -> None:
    lake = Lake(first_load.lake_root)
    before = {t.spec.name: lake.read(t.spec).height for t in SOURCES}
    objects_before = lake_objects(lake)
    runs = load(box, first_load.root, box.world.now, days=first_load.days, lake_root=first_load.lake_root)
    tables_after = truth.ReadOnce(lake)  # nothing writes from here on: each table read once
    after = {t.spec.name: tables_after.read(t.spec).height for t in SOURCES}
    # The audit log gains the calls of this re-run (in hours the comparison skips); nothing else changes.
    assert {k: v for k, v in after.items() if k != "api_audit_logs"} == {
        k: v for k, v in before.items() if k != "api_audit_logs"
    }
    objects = lake_objects(lake)
    # no temp files or objects left behind, one file per partition, the same partitions (+ new hours);
    # a mart holds one file per day or month, an empty schema file, its build state and the stored
    # carries of its `carried by` inputs (pipelines/lake/carry.py)
    tables = [o for o in objects if not o.startswith("_models/")]
    marts = [o for o in objects if o.startswith("_models/")]
    assert tables and all(o.endswith("/part-0.parquet") for o in tables), tables
    mart_file = re.compile(
        r"_models/[a-z0-9_]+/(part-0\.parquet|_state\.json|[a-z_]+=[0-9-]+\.parquet"
        r"|_carry/[a-z0-9_]+\.(json|rows\.parquet|keys\.parquet))"
    )
    assert marts and all(mart_file.fullmatch(o) for o in marts), marts
    assert set(objects_before) <= set(objects)
    print(f"{lake.root}: {len(objects)} partition files after the re-run ({len(objects_before)} before)")
    assert_lake_matches_world(box.world, tables_after, runs)
    assert_catalog_matches_lake(first_load.root, tables_after)


FAULT_SIMS, FAULT_SEED = 60, 7


@pytest.fixture
def faulty_box() -> Iterator[ProcessSandbox]:
    """A sandbox in its own process (see the module docstring) serving 8% 5xx, 3% dropped
    connections, 0-5 ms jitter and 6-second tokens."""
    now = datetime.now(UTC).replace(microsecond=0)
    with start_sandbox_process(
        sims=FAULT_SIMS,
        seed=FAULT_SEED,
        now=now,
        coverage="both",
        auth_key=SECRET,
        error_rate=0.08,
        drop_rate=0.03,
        jitter_ms=5.0,
        token_ttl=6,
    ) as handle:
        yield handle


def test_run_with_faults_matches_world(faulty_box: ProcessSandbox, tmp_path: Path) -> None:
    world = world_for(faulty_box.info, FAULT_SIMS, FAULT_SEED)
    # Plan from the World's clock and run the pipeline on it, so the windows are the World's
    # closed days and their snapshot is not too old even if the real clock passes midnight UTC.
    runs = load(faulty_box, tmp_path, world.now)
    stats = faulty_box.get_stats()
    injected = stats["errors_injected"] + stats["drops_injected"]
    assert injected > 10, f"the faults must actually have been exercised: {stats}"
    lake = Lake(tmp_path / "lake")
    assert_lake_matches_world(world, lake, runs)
    assert_catalog_matches_lake(tmp_path, lake)


def test_materialization_metadata_and_no_secret_in_event_log(box: SandboxHandle, tmp_path: Path) -> None:
    instance = dg.DagsterInstance.ephemeral()
    key = plan_runs(box.world.now, 1)[0].first
    result = dg.materialize(
        [source("session_events").asset, source("air_traffic_daily").asset],
        partition_key=key,
        resources=resources_for(box, tmp_path, box.world.now),
        instance=instance,
    )
    assert result.success
    for event in result.get_asset_materialization_events():
        metadata = event.materialization.metadata
        for name in ("rows", "api_calls", "bytes", "window_start", "window_end", "path"):
            assert name in metadata, (event.asset_key, name)
        assert metadata["rows"].value > 0 and metadata["api_calls"].value > 0
        assert metadata["window_start"].value.startswith(key)
    session_metadata = result.asset_materializations_for_node("session_events")[0].metadata
    assert session_metadata["sims_fetched_jp"].value + session_metadata["sims_skipped_jp"].value > 0
    everything = " ".join(str(record) for record in instance.all_logs(result.run_id))
    everything += str(instance.get_run_by_id(result.run_id))
    assert SECRET not in everything
    assert box.credentials["authKey"] == SECRET
