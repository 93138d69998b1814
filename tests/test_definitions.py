"""The code location: it validates with the real Dagster CLI, shows every asset, wires jobs,
schedules (all stopped) and checks, and feeds resources from the environment by name only."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest

from assets.resources import ClockResource, resources_from_env
from assets.tables import SOURCES
from pipelines import settings

ROOT = Path(__file__).resolve().parent.parent
TABLES = {s.spec.name for s in SOURCES}  # the registry; the graph itself is in tests/snapshots


def _dagster(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "DAGSTER_HOME": "", **(env or {})},
    )


@pytest.mark.slow
def test_dagster_definitions_validate_passes_with_the_cli() -> None:
    result = _dagster("definitions", "validate", "-w", "workspace.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Validation successful" in result.stdout + result.stderr


@pytest.mark.slow
def test_definitions_validate_fails_on_a_bad_coverage_setting_only_at_run_time() -> None:
    # Settings are resolved when a run starts, so a bad value never breaks loading the UI.
    result = _dagster("definitions", "validate", "-w", "workspace.yaml", env={settings.COVERAGES: "mars"})
    assert result.returncode == 0, result.stdout + result.stderr


def _defs() -> dg.Definitions:
    from pipelines.definitions import defs

    return defs


def test_every_source_table_and_the_catalog_are_assets() -> None:
    keys = {k.to_user_string() for k in _defs().resolve_asset_graph().get_all_asset_keys()}
    assert TABLES | {"catalog"} <= keys


def test_catalog_is_downstream_of_every_table_and_in_every_load_job() -> None:
    graph = _defs().resolve_asset_graph()
    parents = {k.to_user_string() for k in graph.get(dg.AssetKey("catalog")).parent_keys}
    assert parents >= TABLES
    for name in ("daily_load_job", "snapshot_job", "audit_log_job", "billing_job"):
        job = _defs().resolve_job_def(name)
        assert dg.AssetKey("catalog") in job.asset_layer.selected_asset_keys, name


def test_load_check_and_catalog_jobs_run_their_steps_in_the_run_process() -> None:
    """A process per step cost each step a Python start-up and the code location's imports; the
    loads run in the run's process (the steps of different API pools in threads, at once), the
    models one step after another in it, and so do runs of an asset selection without a job (the
    models_automation sensor's)."""
    from pipelines.executor import overlapping_in_process_executor

    for name in (
        "daily_load_job",
        "snapshot_job",
        "audit_log_job",
        "billing_job",
        "retention_check_job",
        "catalog_job",
    ):
        assert _defs().resolve_job_def(name).executor_def is overlapping_in_process_executor, name
    assert _defs().resolve_job_def("models_job").executor_def is dg.in_process_executor
    assert _defs().resolve_implicit_global_asset_job_def().executor_def is dg.in_process_executor


def test_every_windowed_table_has_a_retention_check() -> None:
    checked = {
        k.asset_key.to_user_string()
        for k in _defs().resolve_asset_graph().asset_check_keys
        if k.name == "retention_risk"
    }
    windowed = {s.spec.name for s in SOURCES if not s.retention.snapshot}
    assert checked == windowed


def test_schedules_are_stopped_by_default() -> None:
    schedules = {s.name: s for s in _defs().schedules or []}
    for schedule in schedules.values():
        assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED, schedule.name


def test_nightly_schedule_runs_the_latest_closed_day() -> None:
    schedule = next(s for s in _defs().schedules if s.name == "nightly_schedule")
    at = datetime(2026, 11, 30, 0, 30, tzinfo=UTC)
    repository = _defs().get_repository_def()
    with dg.build_schedule_context(
        scheduled_execution_time=at, resources={"clock": ClockResource()}, repository_def=repository
    ) as context:
        request = schedule.evaluate_tick(context).run_requests[0]
    assert request.partition_key == "2026-11-29"


def test_billing_schedule_reloads_the_previous_month_until_it_is_closed(tmp_path: Path) -> None:
    from assets.billing import BILLS_SPEC
    from assets.resources import LakeResource
    from pipelines.lake import Lake
    from pipelines.schedules import daily_billing_schedule

    lake = LakeResource(root=str(tmp_path))
    at = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)

    def months() -> list[str]:
        with dg.build_schedule_context(
            scheduled_execution_time=at,
            resources={"lake": lake, "clock": ClockResource()},
            repository_def=_defs().get_repository_def(),
        ) as context:
            return sorted(r.partition_key for r in daily_billing_schedule.evaluate_tick(context).run_requests)

    assert months() == ["2026-11-01", "2026-12-01"]  # November not loaded yet
    row = {
        "coverage": "jp",
        "year_month": "202611",
        "amount": None,
        "state": "temporary",
        "preliminary": True,
    }
    import polars as pl

    frame = pl.DataFrame([row]).with_columns(pl.col("amount").cast(pl.Decimal(38, 12)))
    full = pl.from_arrow(BILLS_SPEC.schema.empty_table()).drop("month")
    Lake(tmp_path).write_partition(
        BILLS_SPEC, {"month": "2026-11"}, pl.concat([full, frame], how="diagonal_relaxed")
    )
    assert months() == ["2026-11-01", "2026-12-01"]  # still temporary
    closed = frame.with_columns(pl.lit("closed").alias("state"), pl.lit(False).alias("preliminary"))
    Lake(tmp_path).write_partition(
        BILLS_SPEC, {"month": "2026-11"}, pl.concat([full, closed], how="diagonal_relaxed")
    )
    assert months() == ["2026-12-01"]


def test_resources_carry_environment_variable_names_not_secret_values() -> None:
    env = {
        settings.AUTH_KEY_ID: "keyId-visible",
        settings.AUTH_KEY: "the-secret-value",
        settings.COVERAGES: "jp,g",
        settings.LAKE_ROOT: "/somewhere/lake",
    }
    resources = resources_from_env(env)
    soracom = resources["soracom"]
    assert soracom.auth_key == settings.AUTH_KEY  # an EnvVar: the name, resolved at run time
    assert "the-secret-value" not in repr(soracom) + repr(resources["lake"])
    assert resources["lake"].root == settings.LAKE_ROOT
    unset = resources_from_env({})
    assert unset["soracom"].auth_key is None and unset["lake"].root == "data/lake"


def test_a_bad_coverage_is_refused_with_the_accepted_values() -> None:
    with pytest.raises(ValueError, match="jp and/or g"):
        settings.parse_coverages("jp,mars")
    assert settings.parse_coverages(" G , jp,g") == ("g", "jp")


def test_the_code_location_freezes_its_objects_out_of_the_collector() -> None:
    """Imported once per process, they live as long as it does: no full collection and no exit
    walks them (bench/README.md, "Ours against dlt": 0.7-1.9 s of exit cut to 0.2-0.35 s)."""
    import gc

    import pipelines.definitions  # noqa: F401  (imported by this module's tests anyway)

    assert gc.get_freeze_count() > 100_000, "Dagster and the assets alone are 180,000 objects"
