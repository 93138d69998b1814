"""`soracom-lake demo`: the whole pipeline, end to end, in one command.

Without `--real` it starts the local sandbox (a synthetic operator) on a free loopback
port and points the resources at it; with `--real` it uses the Soracom credentials in the
environment (`SORACOM_AUTH_KEY_ID`/`SORACOM_AUTH_KEY`, ...). Then it materializes, through
Dagster, the last N closed UTC days of every daily source, the audit-log hours Soracom
still holds, the previous and current billing months, and the catalog; and prints what
landed where.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg

from assets import quarantine
from assets.billing import billing_months
from assets.catalog import catalog
from assets.models import CATALOG_AFTER_MODELS, MODEL_ASSETS
from assets.partitions import day_start, last_days, window_for
from assets.resources import resources_from_env
from assets.retention import API_AUDIT
from assets.tables import SOURCES, TABLE_SPECS, source
from pipelines import report as usage_report
from pipelines import settings
from pipelines.failures import cause_of
from pipelines.instance import (
    DATA_DIR_MODE,
    install_instance_config,
    make_private_dir,
    restrict_umask,
)
from pipelines.jobs import DAILY_ASSETS, HOURLY_ASSETS, MONTHLY_ASSETS, SNAPSHOT_ASSETS
from pipelines.lake import Lake, LakeError, open_catalog
from pipelines.lake.storage import check_root, url_scheme
from pipelines.progress_view import live_progress
from pipelines.runs import guarded_load, owner_tags, run_failure_message, slot_wait_limit
from pipelines.soracom import check_setup
from pipelines.stopping import LoadStopped, StopOnSignal

AUDIT_MARGIN = timedelta(hours=1)  # leave out audit hours that age out sooner than this
RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
EXAMPLE_QUERY = (
    "SELECT date, count(DISTINCT imsi) AS sims, round(sum(download_bytes + upload_bytes) / 1e6, 1) AS mb "
    "FROM air_traffic_daily GROUP BY date ORDER BY date"
)


def _at_least_one(text: str) -> int:
    """argparse type of counts: a whole number from 1 (argparse turns the error into one line)."""
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"{number} is not allowed: give 1 or more")
    return number


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--real", action="store_true", help="load the real account in the environment")
    parser.add_argument("--sims", type=_at_least_one, default=200, help="sandbox SIMs (default: 200)")
    parser.add_argument("--seed", type=int, default=42, help="sandbox seed (default: 42)")
    parser.add_argument(
        "--coverage", choices=("jp", "g", "both"), default="jp", help="sandbox coverages (default: jp)"
    )
    parser.add_argument("--days", type=_at_least_one, default=7, help="closed UTC days to load (default: 7)")
    parser.add_argument(
        "--data-dir",
        default=None,
        help="put the lake, catalog and Dagster run history here (default: SORACOM_LAKE_ROOT and "
        "SORACOM_CATALOG_PATH, else ./data)",
    )
    parser.add_argument("--skip-audit", action="store_true", help="do not load the audit-log hours")
    parser.add_argument("--skip-billing", action="store_true", help="do not load the billing months")


def _say(message: str) -> None:
    print(message, flush=True)


@contextlib.contextmanager
def _sandbox(args: argparse.Namespace) -> Iterator[dict[str, str]]:
    """Start the sandbox in a child process; yield the env that points the resources at it."""
    from sandbox.process import start_sandbox_process

    now = settings.now_setting()  # SORACOM_NOW: the sandbox serves the same moment as the pipeline's clock
    with start_sandbox_process(sims=args.sims, seed=args.seed, coverage=args.coverage, now=now) as box:
        coverages = ("jp", "g") if args.coverage == "both" else (args.coverage,)
        env = {
            # The sandbox serves one fixed moment (the minute it started, without SORACOM_NOW): the
            # pipeline's clock is that moment too, or a demo crossing midnight UTC would plan a
            # day before it and have that day's snapshot refused as too old after it.
            settings.NOW: box.info["now"],
            settings.AUTH_KEY_ID: box.credentials["authKeyId"],
            settings.AUTH_KEY: box.credentials["authKey"],
            settings.COVERAGES: ",".join(coverages),
            **{settings.ENDPOINT_JP if c == "jp" else settings.ENDPOINT_G: box.url_for(c) for c in coverages},
        }
        _say(f"sandbox: {args.sims} SIMs, coverage {args.coverage}, serving {box.url} (pid {box.pid})")
        yield env


@contextlib.contextmanager
def _patched_env(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@dataclass(frozen=True)
class PlannedRun:
    """One Dagster run: some assets over one partition or an inclusive range of partitions."""

    label: str
    assets: list[Any]
    first: str
    last: str

    @property
    def tags(self) -> dict[str, str]:
        if self.first == self.last:
            return {}
        return {RANGE_START: self.first, RANGE_END: self.last}


@dataclass
class RunOutcome:
    run: PlannedRun
    success: bool
    rows: int
    errors: list[str]
    skipped: bool = False  # not run: the models, when a load before them failed


def plan_runs(now: datetime, days: int, audit: bool = True, billing: bool = True) -> list[PlannedRun]:
    """The demo's runs: the last `days` closed UTC days of the daily sources (one range run),
    today's snapshots (filed under the latest closed day), the audit-log hours Soracom still
    holds an hour from now (one range run: an hour that ages out while the demo runs would
    fail its retention guard), and the previous and current billing months (one range run)."""
    day_keys = last_days(now, days)
    runs = [
        PlannedRun(f"days {day_keys[0]}...{day_keys[-1]}", DAILY_ASSETS, day_keys[0], day_keys[-1]),
        PlannedRun(f"snapshot {day_keys[-1]}", SNAPSHOT_ASSETS, day_keys[-1], day_keys[-1]),
    ]
    if audit:
        hourly = HOURLY_ASSETS[0].partitions_def
        oldest = API_AUDIT.oldest_start(now + AUDIT_MARGIN)
        keys = hourly.get_partition_keys(current_time=now)
        hours = [k for k in keys[-26:] if window_for(hourly, k).start >= oldest]
        runs.append(PlannedRun(f"hours {hours[0]}...{hours[-1]}", HOURLY_ASSETS, hours[0], hours[-1]))
    if billing:
        months = billing_months(now)
        runs.append(
            PlannedRun(f"months {months[0][:7]}...{months[-1][:7]}", MONTHLY_ASSETS, months[0], months[-1])
        )
    return runs


def execute_runs(
    runs: Sequence[PlannedRun],
    resources: dict[str, Any],
    instance: dg.DagsterInstance,
    report: Callable[[int, RunOutcome], None] | None = None,
    stop: Callable[[], None] = lambda: None,
) -> list[RunOutcome]:
    """Materialize each planned run in process, then the catalog; a failed run does not stop the
    rest, a stop request does: `stop` raises (`pipelines.stopping.LoadStopped`) before each run
    and after it, and what the interrupted run held is freed first."""
    outcomes = []
    for index, planned in enumerate(runs, 1):
        stop()
        result = dg.materialize(
            planned.assets,
            partition_key=planned.first if planned.first == planned.last else None,
            resources=resources,
            instance=instance,
            run_config=QUIET,
            raise_on_error=False,
            tags={"soracom-lake/demo": "true", **owner_tags(), **planned.tags},
        )
        try:
            stop()
        finally:
            if not result.success:  # interrupted or failed: its queued claims are no one's
                instance.event_log_storage.free_concurrency_slots_for_run(result.run_id)
        rows = 0  # each partition's materialization reports its own rows, also in a range run
        for event in result.get_asset_materialization_events():
            metadata = event.materialization.metadata
            if "rows" in metadata:
                rows += int(metadata["rows"].value)
        errors = [
            f"{e.step_key}: {cause_of(e.step_failure_data.error)}"
            for e in result.all_events
            if e.is_step_failure and e.step_failure_data and e.step_failure_data.error
        ]
        if not result.success and not errors:  # failed outside a step (e.g. waited too long for a slot)
            errors = [run_failure_message(instance, result.run_id) or "the run failed (see its event log)"]
        outcome = RunOutcome(planned, result.success, rows, errors)
        outcomes.append(outcome)
        if report:
            report(index, outcome)
    stop()
    outcome = _build_models(outcomes, resources, instance)
    if report:
        report(len(outcomes) + 1, outcome)
    return [*outcomes, outcome]


def _build_models(
    outcomes: list[RunOutcome], resources: dict[str, Any], instance: dg.DagsterInstance
) -> RunOutcome:
    """The SQL models (assets/models.py), then the catalog that exposes them; only when every load
    passed: a mart built over a day that failed to load would be wrong, not just incomplete. With a
    failed load only the catalog is rebuilt, and the marts keep their last build."""
    failed = [o.run.label for o in outcomes if not o.success]
    assets = [catalog] if failed else [*MODEL_ASSETS, CATALOG_AFTER_MODELS]
    planned = PlannedRun("models and catalog" if not failed else "catalog", assets, "", "")

    def build() -> dg.ExecuteInProcessResult:
        return dg.materialize(
            assets,
            resources=resources,
            instance=instance,
            run_config=QUIET,
            raise_on_error=False,
            tags={"soracom-lake/demo": "true", **owner_tags()},
        )

    result, notes = build(), []
    if not result.success and not failed:  # a corrupt file? name it; move it aside if it is past reloading
        lake = resources["lake"].process_config_and_initialize().lake()
        now = resources["clock"].process_config_and_initialize().now()
        notes, moved = quarantine.sweep(lake, SOURCES, now)
        if moved:
            result = build()
    errors = [*notes]
    errors += [
        f"{e.step_key}: {cause_of(e.step_failure_data.error)}"
        for e in result.all_events
        if e.is_step_failure and e.step_failure_data and e.step_failure_data.error
    ]
    if failed:
        errors.insert(
            0, f"models not rebuilt: {len(failed)} load run(s) failed; the marts keep their last build"
        )
    return RunOutcome(planned, result.success, 0, errors, skipped=bool(failed))


def missing_partitions(runs: Sequence[PlannedRun], lake: Lake) -> list[str]:
    """`table: key, key, ...` for every planned partition the lake does not hold."""
    lines = []
    for planned in runs:
        for asset in planned.assets:
            table = source(asset.key.to_user_string())
            keys = table.partitions_def.get_partition_keys_in_range(
                dg.PartitionKeyRange(planned.first, planned.last)
            )
            absent = [k for k in keys if not lake.has_partition(table.spec, table.lake_partition_of(k))]
            if absent:
                lines.append(f"{table.name}: {', '.join(absent)}")
    return lines


def _summary(catalog_path: Path) -> list[tuple[str, int]]:
    con = open_catalog(catalog_path)  # read-only; reads an object-store lake too
    try:
        return [(s.name, con.execute(f'SELECT count(*) FROM "{s.name}"').fetchone()[0]) for s in TABLE_SPECS]
    finally:
        con.close()


def _paths(args: argparse.Namespace) -> tuple[dict[str, str], Path]:
    """Lake root and catalog path (env, unless --data-dir is given), and the Dagster home."""
    if args.data_dir:
        data_dir = Path(args.data_dir).resolve()
        lake_root, catalog_path = data_dir / "lake", data_dir / "soracom.duckdb"
    else:
        root = check_root(settings.setting(settings.LAKE_ROOT))  # refuses URLs the lake cannot serve
        lake_root = root if url_scheme(root) is not None else Path(root).resolve()
        catalog_path = Path(settings.setting(settings.CATALOG_PATH)).resolve()
    paths = {settings.LAKE_ROOT: str(lake_root), settings.CATALOG_PATH: str(catalog_path)}
    return paths, catalog_path.parent / ".dagster"


def _print_summary(catalog_path: Path, lake_root: str) -> None:
    _say(f"lake:    {lake_root}")
    _say(f"catalog: {catalog_path}\n")
    for name, count in _summary(catalog_path):
        _say(f"  {name:<20} {count:>10,} rows")
    _say("\ntry (DuckDB CLI, or Python):")
    _say(f'  duckdb -readonly {catalog_path} "{EXAMPLE_QUERY}"')
    _say(f"  {sys.executable} -c \"import duckdb; duckdb.connect('{catalog_path}', read_only=True).sql(")
    _say(f"      '{EXAMPLE_QUERY}').show()\"")


def settings_problems(real: bool) -> list[str]:
    """What is wrong with the settings, one line each. Without --real the sandbox brings its own
    credentials, so a half-given auth key pair in the environment does not matter."""
    env = dict(os.environ)
    if not real:
        for name in (settings.AUTH_KEY_ID, settings.AUTH_KEY):
            env.pop(name, None)
    return settings.validate_all(env)


def run(args: argparse.Namespace) -> int:
    """The demo; SIGTERM/SIGINT stop it (exit 143/130) with what its runs held freed."""
    restrict_umask()  # the data dir, Dagster home and logs: never writable by others
    problems = settings_problems(args.real)
    if problems:  # every bad setting at once, before the sandbox or any run starts
        for problem in problems:
            _say(f"error: {problem}")
        return 2
    try:
        paths, dagster_home = _paths(args)
    except LakeError as error:
        _say(f"error: {error}")
        return 2
    make_private_dir(dagster_home.parent, DATA_DIR_MODE)
    install_instance_config(dagster_home)
    with StopOnSignal() as stopper:
        try:
            return _load(args, paths, dagster_home, stopper)
        except LoadStopped as stopped:
            _say(f"\n{stopped}: the load ended early; the next load redoes what it did not finish")
            return stopped.exit_code


def _load(args: argparse.Namespace, paths: dict[str, str], dagster_home: Path, stopper: StopOnSignal) -> int:
    source = contextlib.nullcontext({}) if args.real else _sandbox(args)
    started = time.monotonic()
    with source as sandbox_env, _patched_env({**sandbox_env, **paths}):
        resources = resources_from_env()
        try:
            soracom = resources["soracom"].process_config_and_initialize()  # resolves the EnvVars
            soracom.credentials()
            _say(f"loading {soracom.describe()}")
            slot_wait_limit()  # a bad SORACOM_SLOT_WAIT_S is said before anything runs
            check_setup(soracom.client(c) for c in soracom.coverage_list())  # fails fast, one line
        except Exception as error:
            _say(f"error: {error}")
            return 2
        now = resources["clock"].process_config_and_initialize().now()
        runs = plan_runs(now, args.days, not args.skip_audit, not args.skip_billing)
        instance = dg.DagsterInstance.local_temp(
            tempdir=str(dagster_home), overrides={"telemetry": {"enabled": False}}
        )

        def report(index: int, outcome: RunOutcome) -> None:
            status = "ok" if outcome.success else "FAILED"
            _say(
                f"[{index}/{len(runs) + 1}] {outcome.run.label}: {len(outcome.run.assets)} assets, "
                f"{outcome.rows} rows, {status}"
            )
            for error in outcome.errors:
                _say(f"    {error}")

        try:  # a killed earlier load must not block this one; a wait for the API slot is bounded
            with guarded_load(instance, _say, stopper.check), live_progress():
                outcomes = execute_runs(runs, resources, instance, report, stopper.check)
        finally:
            instance.dispose()
    failures = sum(not o.success for o in outcomes)
    _say(f"\nloaded in {time.monotonic() - started:.0f} s (today is {day_start(now):%Y-%m-%d} UTC)")
    _print_summary(Path(paths[settings.CATALOG_PATH]), paths[settings.LAKE_ROOT])
    _say("")
    try:  # the usage and cost report (pipelines/report.py), as `soracom-lake report` prints it
        usage_report.print_report(Path(paths[settings.CATALOG_PATH]), None, 10, sys.stdout)
    except usage_report.ReportError as error:
        _say(f"report: {error}")
    missing = missing_partitions(runs, Lake(paths[settings.LAKE_ROOT]))
    if missing:  # what the marts and the report above lack, so nobody reads them as complete
        _say("\nmissing partitions (their load failed; the next load retries them):")
        for line in missing:
            _say(f"  {line}")
    _say(f"\nrun history and instance config (pool limits): DAGSTER_HOME={dagster_home} dagster dev")
    if failures:
        _say(f"\n{failures} run(s) failed (see above)")
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="soracom-lake demo", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))
