"""Retention: partitions Soracom no longer holds are refused with a clear message, and the
retention-risk check names unloaded partitions about to age out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from assets.checks import RETENTION_CHECKS, retention_report
from assets.partitions import daily_partitions, hourly_partitions, monthly_partitions, window_for
from assets.resources import ClockResource, LakeResource, SoracomResource
from assets.retention import API_AUDIT, BILLS, SESSION_EVENTS, SIM_INVENTORY, months_before
from assets.tables import source
from pipelines.lake import Lake

NOW = datetime(2026, 11, 30, 3, 30, tzinfo=UTC)


def test_old_day_is_refused_saying_soracom_no_longer_holds_it() -> None:
    window = window_for(daily_partitions, "2026-10-29")  # starts 32 d 3.5 h before NOW: partly gone
    with pytest.raises(dg.Failure, match="no longer held by Soracom") as caught:
        SESSION_EVENTS.guard("session_events", window, NOW)
    assert "32 days" in caught.value.description
    assert not caught.value.allow_retries
    SESSION_EVENTS.guard("session_events", window_for(daily_partitions, "2026-10-30"), NOW)


def test_audit_log_hours_older_than_24_hours_are_refused() -> None:
    API_AUDIT.guard("api_audit_logs", window_for(hourly_partitions, "2026-11-29-04:00"), NOW)
    with pytest.raises(dg.Failure, match="24 hours"):
        API_AUDIT.guard("api_audit_logs", window_for(hourly_partitions, "2026-11-29-03:00"), NOW)


def test_bills_keep_the_current_month_and_17_before() -> None:
    BILLS.guard("bills", window_for(monthly_partitions, "2025-06-01"), NOW)
    with pytest.raises(dg.Failure, match="no longer held"):
        BILLS.guard("bills", window_for(monthly_partitions, "2025-05-01"), NOW)


def test_a_snapshot_of_a_past_day_is_refused() -> None:
    SIM_INVENTORY.guard("sims", window_for(daily_partitions, "2026-11-29"), NOW)
    with pytest.raises(dg.Failure, match="does not keep past states"):
        SIM_INVENTORY.guard("sims", window_for(daily_partitions, "2026-11-28"), NOW)


def test_a_future_partition_is_refused() -> None:
    with pytest.raises(dg.Failure, match="in the future"):
        BILLS.guard("bills", window_for(monthly_partitions, "2026-12-01"), NOW)


def test_months_before_clamps_the_day() -> None:
    assert months_before(datetime(2026, 3, 31, tzinfo=UTC), 1) == datetime(2026, 2, 28, tzinfo=UTC)
    assert months_before(datetime(2026, 1, 15, tzinfo=UTC), 18) == datetime(2024, 7, 15, tzinfo=UTC)


def test_materializing_an_aged_out_partition_fails_before_any_api_call(tmp_path: Path) -> None:
    # The endpoint is unroutable: the guard must fail the run before the client is even built.
    result = dg.materialize(
        [source("session_events").asset],
        partition_key="2025-01-01",
        resources={
            "soracom": SoracomResource(auth_key_id="k", auth_key="s", endpoint="http://127.0.0.1:9"),
            "lake": LakeResource(root=str(tmp_path / "lake"), catalog_path=str(tmp_path / "c.duckdb")),
            "clock": ClockResource(),
        },
        raise_on_error=False,
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "no longer held by Soracom" in failure.step_failure_data.error.message
    assert not (tmp_path / "lake").exists()


def _write_empty(lake: Lake, table: str, key: str) -> None:
    spec = source(table).spec
    lake.write_partition(spec, source(table).lake_partition_of(key), spec.schema.empty_table())


def test_report_names_unloaded_partitions_about_to_age_out(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    table = source("session_events")
    report = retention_report(table, lake, NOW)
    # Held whole: days starting at or after NOW - 32 d (2026-10-30 ... 2026-11-29), none loaded.
    assert report["missing"][0] == "2026-10-30" and report["missing"][-1] == "2026-11-29"
    assert len(report["missing"]) == 31
    # Aging out within 3 days (before 2026-12-03 03:30): those starting before 2026-11-01 03:30.
    assert report["at_risk"] == ["2026-10-30", "2026-10-31", "2026-11-01"]
    for key in report["at_risk"]:
        _write_empty(lake, "session_events", key)
    again = retention_report(table, lake, NOW)
    assert again["at_risk"] == [] and len(again["missing"]) == 28


def test_audit_log_report_looks_six_hours_ahead(tmp_path: Path) -> None:
    report = retention_report(source("napter_audit_logs"), Lake(tmp_path), NOW)
    assert len(report["missing"]) == 23  # 04:00 yesterday ... 02:00 today
    assert report["at_risk"] == [f"2026-11-29-{h:02d}:00" for h in range(4, 10)]


TWO = ("session_events", "air_traffic_daily")


def test_retention_checks_run_in_dagster_and_warn(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    recent = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%d")
    _write_empty(lake, "air_traffic_daily", recent)
    defs = dg.Definitions(
        assets=[source(name).asset for name in TWO],
        asset_checks=[c for c in RETENTION_CHECKS if {k.name for k in c.check_keys} & {"retention_risk"}],
        resources={
            "lake": LakeResource(root=str(tmp_path / "lake")),
            "soracom": SoracomResource(),
            "clock": ClockResource(),
        },
        jobs=[
            dg.define_asset_job(
                "checks",
                # the retention checks only (the tables' own checks run in their load step)
                selection=dg.AssetSelection.checks(
                    *(
                        c
                        for c in RETENTION_CHECKS
                        if next(iter(c.check_keys)).asset_key.to_user_string() in TWO
                    )
                ),
            )
        ],
    )
    result = defs.resolve_job_def("checks").execute_in_process()
    evaluations = {e.asset_key.to_user_string(): e for e in result.get_asset_check_evaluations()}
    sessions = evaluations["session_events"]
    assert not sessions.passed and sessions.severity == dg.AssetCheckSeverity.WARN
    assert sessions.metadata["at_risk_count"].value >= 3
    assert "age out of Soracom" in sessions.description
    daily = evaluations["air_traffic_daily"]
    assert not daily.passed  # 18 months held, only one day loaded: the oldest days are at risk
    assert recent not in daily.metadata["missing_within_retention"].value
