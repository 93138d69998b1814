"""Shared pieces of the reliability tests: resources pointed at a sandbox, Dagster runs,
ground-truth comparisons of whole loads, and file snapshots to prove "untouched".

Everything is real: a sandbox on loopback (in a thread or a child process), Dagster
materializations, the Parquet lake and the DuckDB catalog.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
from pydantic import Field

from assets.partitions import Window, window_for
from assets.resources import ClockResource, LakeResource, SoracomResource
from assets.tables import SOURCES
from pipelines.demo import PlannedRun
from pipelines.jobs import DAILY_ASSETS, HOURLY_ASSETS, MONTHLY_ASSETS, SNAPSHOT_ASSETS
from pipelines.lake import Lake
from pipelines.soracom import ClientSettings
from tests.assets import truth

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


class FastRetrySoracomResource(SoracomResource):
    """The production resource with short retry and export waits, so a test that *expects*
    a call to keep failing gets its clear error in seconds instead of minutes."""

    backoff_base_s: float = Field(default=0.02)
    backoff_max_s: float = Field(default=0.5)
    max_attempts: int = Field(default=4)
    export_timeout_s: float = Field(default=6.0)

    def client_settings(self) -> ClientSettings:
        return ClientSettings(
            max_concurrency=self.max_concurrency,
            max_attempts=self.max_attempts,
            backoff_base_s=self.backoff_base_s,
            backoff_max_s=self.backoff_max_s,
            max_retry_seconds=60.0,
            export_timeout_s=self.export_timeout_s,
            export_poll_initial_s=0.1,
            export_poll_max_s=0.5,
            export_sync_max_rows=self.export_sync_max_rows,
        )


def resources(
    urls: dict[str, str],
    credentials: dict[str, str],
    root: Path,
    *,
    fast: bool = True,
    now: datetime | None = None,
    **soracom_fields: Any,
) -> dict[str, dg.ConfigurableResource]:
    """`soracom` + `lake` + `clock` resources: coverages = the keys of `urls` (coverage -> base URL);
    `now` fixes the pipeline's clock (default: the wall clock)."""
    cls = FastRetrySoracomResource if fast else SoracomResource
    fields = {f"endpoint_{c}": url for c, url in urls.items()}
    return {
        "soracom": cls(
            auth_key_id=credentials["authKeyId"],
            auth_key=credentials["authKey"],
            coverages=",".join(urls),
            **fields,
            **soracom_fields,
        ),
        "lake": LakeResource(root=str(root / "lake"), catalog_path=str(root / "soracom.duckdb")),
        "clock": ClockResource(now_setting=now.isoformat()) if now else ClockResource(),
    }


def materialize(
    assets: Sequence[Any],
    key: str | None,
    res: dict[str, Any],
    instance: dg.DagsterInstance | None = None,
    last: str | None = None,
) -> dg.ExecuteInProcessResult:
    """One run of `assets` over partition `key` (or the range key..last), never raising."""
    tags = {}
    if key is not None and last is not None and last != key:
        tags = {"dagster/asset_partition_range_start": key, "dagster/asset_partition_range_end": last}
    return dg.materialize(
        list(assets),
        partition_key=None if tags else (key or None),
        resources=res,
        instance=instance or dg.DagsterInstance.ephemeral(),
        run_config=QUIET,
        raise_on_error=False,
        tags=tags,
    )


def failure_messages(result: dg.ExecuteInProcessResult) -> list[str]:
    """Each failed step's error message, with its cause chain (what the UI shows)."""
    out = []
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data and event.step_failure_data.error:
            error = event.step_failure_data.error
            parts = []
            while error is not None:
                parts.append(error.message.strip())
                error = error.cause
            out.append(f"{event.step_key}: " + " <- ".join(parts))
    return out


def windows_of(run: PlannedRun) -> list[Window]:
    partitions_def = run.assets[0].partitions_def
    keys = partitions_def.get_partition_keys_in_range(dg.PartitionKeyRange(run.first, run.last))
    return [window_for(partitions_def, k) for k in keys]


def run_for(runs: Sequence[PlannedRun], assets: list[Any]) -> PlannedRun | None:
    return next((r for r in runs if r.assets == assets), None)


DAILY_TABLES = (
    ("session_events", truth.SESSION_COLUMNS, truth.expected_session_events),
    ("air_traffic_daily", truth.AIR_DAILY_COLUMNS, truth.expected_air_daily),
    ("air_traffic_5min", truth.AIR_MINUTES_COLUMNS, truth.expected_air_minutes),
    ("harvest_entries", truth.HARVEST_COLUMNS, truth.expected_harvest),
    ("error_logs", truth.ERROR_LOG_COLUMNS, truth.expected_error_logs),
)
SNAPSHOT_TABLES = (
    ("sims", truth.SIMS_COLUMNS, truth.expected_sims),
    ("groups", truth.GROUPS_COLUMNS, truth.expected_groups),
    ("billing_summaries", truth.SUMMARY_COLUMNS, truth.expected_summaries),
)


@dataclass
class Comparison:
    """Rows compared per table (all equal, or the assertion failed first)."""

    rows: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def assert_lake_matches_world(
    world: Any, lake: Lake, runs: Sequence[PlannedRun], coverages: Iterable[str], now: datetime | None = None
) -> Comparison:
    """Every table of the planned runs equals the World: same rows, none lost, none doubled.

    API audit hours are compared only if they ended before the sandbox's `now` (later hours
    also hold the calls this very load made, which the World records as they happen). The
    current billing month is the one holding `now`, by default the World's (not the wall
    clock's, which may be in the next month by the time the comparison runs).
    """
    now = now or world.now
    counted: dict[str, int] = {}
    tables = truth.ReadOnce(lake)  # the lake is not written while it is compared

    def check(table: str, got: list, want: list, where: str) -> None:
        assert got == want, f"{table} {where}: {len(got)} rows in the lake, {len(want)} in the World"
        counted[table] = counted.get(table, 0) + len(want)

    daily, snapshot = run_for(runs, DAILY_ASSETS), run_for(runs, SNAPSHOT_ASSETS)
    hourly, monthly = run_for(runs, HOURLY_ASSETS), run_for(runs, MONTHLY_ASSETS)
    for coverage in coverages:
        for w in windows_of(daily) if daily else []:
            for table, columns, expected in DAILY_TABLES:
                got = truth.lake_rows(tables, table, columns, coverage, date=w.start.date())
                check(table, got, expected(world, coverage, w), f"{coverage} {w.key}")
        if snapshot:
            day = windows_of(snapshot)[-1].start.date()
            for table, columns, expected in SNAPSHOT_TABLES:
                got = truth.lake_rows(tables, table, columns, coverage, date=day)
                check(table, got, expected(world, coverage), f"{coverage} {day}")
        for w in windows_of(hourly) if hourly else []:
            where = dict(date=w.start.date(), hour=w.start.hour)
            if w.end_ms <= world.now_ms:
                got = truth.lake_rows(tables, "api_audit_logs", truth.API_AUDIT_COLUMNS, coverage, **where)
                check(
                    "api_audit_logs", got, truth.expected_api_audit(world, coverage, w), f"{coverage} {w.key}"
                )
            got = truth.lake_rows(tables, "napter_audit_logs", truth.NAPTER_COLUMNS, coverage, **where)
            check(
                "napter_audit_logs",
                got,
                truth.expected_napter_audit(world, coverage, w),
                f"{coverage} {w.key}",
            )
        for w in windows_of(monthly) if monthly else []:
            month, current = w.start.strftime("%Y-%m"), w.start <= now < w.end
            got = truth.lake_rows(tables, "bills", truth.BILL_COLUMNS, coverage, month=month)
            check(
                "bills", got, truth.expected_bill(world, coverage, w.yyyymm, current), f"{coverage} {month}"
            )
            got = truth.lake_rows(tables, "daily_bills", truth.DAILY_BILL_COLUMNS, coverage, month=month)
            check("daily_bills", got, truth.expected_daily_bills(world, coverage, w.yyyymm), month)
            got = truth.lake_rows(tables, "billing_items", truth.ITEM_COLUMNS, coverage, month=month)
            check("billing_items", got, truth.expected_billing_items(world, coverage, w.yyyymm), month)
    assert sum(counted.values()) > 0, "the comparison must cover real data"
    return Comparison(counted)


def assert_catalog_opens(catalog: Path, lake: Lake, exact: bool = True) -> dict[str, int]:
    """The catalog opens read-only and every table view reads; with `exact`, the same rows
    as the lake (without: a table that had no files when the catalog was built shows an
    empty view until the next build)."""
    con = duckdb.connect(str(catalog), read_only=True)
    try:
        counts = {}
        for table in SOURCES:
            counts[table.spec.name] = con.execute(f'SELECT count(*) FROM "{table.spec.name}"').fetchone()[0]
            if exact:
                assert counts[table.spec.name] == lake.read(table.spec).height, table.spec.name
        return counts
    finally:
        con.close()


def file_digests(root: Path) -> dict[str, tuple[str, int]]:
    """{relative path: (sha256, mtime_ns)} of every file under `root`."""
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            out[str(path.relative_to(root))] = (digest, path.stat().st_mtime_ns)
    return out


def visible_parquet_files(lake_root: Path) -> list[Path]:
    """What a reader globbing `*.parquet` sees."""
    return sorted(p for p in lake_root.rglob("*.parquet") if p.is_file())


def hidden_temp_files(lake_root: Path) -> list[Path]:
    return sorted(p for p in lake_root.rglob(".*") if p.is_file())


def world_for(info: dict[str, str], sims: int, seed: int) -> Any:
    """The World a `soracom-lake sandbox` child serves (same seed, SIMs, now, coverages)."""
    from sandbox.process import parse_coverages
    from sandbox.testing import parse_now
    from sandbox.world import World

    coverages = parse_coverages(tuple(info.get("coverages", "jp").split(",")))
    return World(
        seed=seed, sims=sims, now=parse_now(info["now"]), coverages=coverages, operator_id=info["operator_id"]
    )


def chmod_tree_report(root: Path) -> list[str]:
    """Paths under `root` (root included) that others may write to."""
    bad = []
    for path in [root, *root.rglob("*")]:
        if path.stat().st_mode & 0o002:
            bad.append(f"{path} {oct(path.stat().st_mode & 0o777)}")
    return bad


def env_without_soracom() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("SORACOM_")}
