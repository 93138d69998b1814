"""Retention warnings with a configured horizon: the report, the Dagster check and the sensor
flag exactly the unloaded partitions that age out of Soracom within it, and nothing once
they are loaded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from assets.checks import RETENTION_CHECKS, retention_report, warn_horizon
from assets.resources import ClockResource, LakeResource, SoracomResource
from assets.tables import SOURCES, source
from pipelines import settings
from pipelines.definitions import defs
from pipelines.lake import Lake
from pipelines.sensors import AT_RISK_TAG, retention_sensor

pytestmark = pytest.mark.reliability

NOW = datetime(2026, 11, 30, 3, 30, tzinfo=UTC)
WINDOWED = [t for t in SOURCES if not t.retention.snapshot]
ENV_NAMES = [
    settings.RETENTION_WARN_DAYS,
    settings.RETENTION_WARN_HOURS,
    *(settings.RETENTION_WARN_PREFIX + t.spec.name.upper() for t in SOURCES),
]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)


def _write_empty(lake: Lake, table: str, key: str) -> None:
    spec = source(table).spec
    lake.write_partition(spec, source(table).lake_partition_of(key), spec.schema.empty_table())


# --- the horizon setting ------------------------------------------------------------------------


def test_horizon_defaults_are_three_days_and_six_hours() -> None:
    assert warn_horizon(source("session_events")) == timedelta(days=3)
    assert warn_horizon(source("bills")) == timedelta(days=3)
    assert warn_horizon(source("api_audit_logs")) == timedelta(hours=6)


def test_horizon_comes_from_the_environment_with_per_source_overrides() -> None:
    env = {
        settings.RETENTION_WARN_DAYS: "5",
        settings.RETENTION_WARN_HOURS: "2.5",
        "SORACOM_RETENTION_WARN_HARVEST_ENTRIES": "10d",
        "SORACOM_RETENTION_WARN_NAPTER_AUDIT_LOGS": "12H",
    }
    horizon = settings.retention_warn_horizon
    assert horizon("session_events", False, env) == timedelta(days=5)
    assert horizon("api_audit_logs", True, env) == timedelta(hours=2.5)
    assert horizon("harvest_entries", False, env) == timedelta(days=10)
    assert horizon("napter_audit_logs", True, env) == timedelta(hours=12)


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        (settings.RETENTION_WARN_DAYS, "three", "positive number of days"),
        (settings.RETENTION_WARN_DAYS, "-1", "positive number of days"),
        (settings.RETENTION_WARN_HOURS, "0", "positive number of hours"),
        ("SORACOM_RETENTION_WARN_SESSION_EVENTS", "10", "'10d' or '12h'"),
        ("SORACOM_RETENTION_WARN_SESSION_EVENTS", "xd", "positive number of days"),
    ],
)
def test_a_bad_horizon_is_refused_naming_the_variable(name: str, value: str, expected: str) -> None:
    with pytest.raises(ValueError, match=name) as caught:
        settings.retention_warn_horizon("session_events", name.endswith("HOURS"), {name: value})
    assert expected in str(caught.value)


# --- the report with a configured horizon ---------------------------------------------------------


def test_configured_days_flag_exactly_the_days_aging_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(settings.RETENTION_WARN_DAYS, "5")
    lake = Lake(tmp_path)
    table = source("session_events")
    # Held whole at NOW: days from 2026-10-30 (NOW - 32 d = 10-29 03:30). Within 5 days of aging
    # out: those starting before 2026-11-03 03:30.
    report = retention_report(table, lake, NOW)
    assert report["at_risk"] == ["2026-10-30", "2026-10-31", "2026-11-01", "2026-11-02", "2026-11-03"]
    _write_empty(lake, "session_events", "2026-11-01")
    assert retention_report(table, lake, NOW)["at_risk"] == [
        "2026-10-30",
        "2026-10-31",
        "2026-11-02",
        "2026-11-03",
    ]
    assert retention_report(table, lake, NOW, timedelta(days=1))["at_risk"] == ["2026-10-30"]


def test_configured_hours_and_an_override_flag_exactly_the_hours_aging_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(settings.RETENTION_WARN_HOURS, "2")
    monkeypatch.setenv("SORACOM_RETENTION_WARN_NAPTER_AUDIT_LOGS", "3h")
    lake = Lake(tmp_path)
    # Held whole at NOW: hours from 2026-11-29 04:00 (NOW - 24 h = 03:30).
    assert retention_report(source("api_audit_logs"), lake, NOW)["at_risk"] == [
        "2026-11-29-04:00",
        "2026-11-29-05:00",
    ]
    assert retention_report(source("napter_audit_logs"), lake, NOW)["at_risk"] == [
        "2026-11-29-04:00",
        "2026-11-29-05:00",
        "2026-11-29-06:00",
    ]


# --- the check and the sensor, in Dagster -----------------------------------------------------------


def _expected_counts(days: int, hours: int) -> dict[str, int]:
    """With a horizon of `days` (`hours` for the audit logs), exactly that many day (hour)
    partitions start within it, and one month: the oldest one held."""
    counts = {}
    for table in WINDOWED:
        if table.retention.hours is not None:
            counts[table.spec.name] = hours
        elif table.retention.months_of_bills is not None:
            counts[table.spec.name] = 1
        else:
            counts[table.spec.name] = days
    return counts


def test_retention_check_uses_the_configured_horizon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(settings.RETENTION_WARN_DAYS, "5")
    monkeypatch.setenv(settings.RETENTION_WARN_HOURS, "2")
    assets = [t.asset for t in WINDOWED]
    check_defs = dg.Definitions(
        assets=assets,
        asset_checks=RETENTION_CHECKS,
        resources={
            "lake": LakeResource(root=str(tmp_path / "lake")),
            "soracom": SoracomResource(),
            "clock": ClockResource(),
        },
        jobs=[dg.define_asset_job("checks", selection=dg.AssetSelection.checks(*RETENTION_CHECKS))],
    )
    result = check_defs.resolve_job_def("checks").execute_in_process()
    evaluations = {e.asset_key.to_user_string(): e for e in result.get_asset_check_evaluations()}
    counts = {name: e.metadata["at_risk_count"].value for name, e in evaluations.items()}
    assert counts == _expected_counts(5, 2)
    assert all(not e.passed and e.severity == dg.AssetCheckSeverity.WARN for e in evaluations.values())
    assert evaluations["session_events"].metadata["warn_horizon_hours"].value == 120
    assert evaluations["api_audit_logs"].metadata["warn_horizon_hours"].value == 2
    assert "within 5 days" in evaluations["session_events"].description


def test_retention_sensor_reports_the_partitions_at_risk_then_skips_once_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(settings.RETENTION_WARN_DAYS, "2")
    monkeypatch.setenv(settings.RETENTION_WARN_HOURS, "1")
    lake_resource = LakeResource(root=str(tmp_path / "lake"))
    before = datetime.now(UTC)
    request = retention_sensor(
        dg.build_sensor_context(resources={"lake": lake_resource, "clock": ClockResource()})
    )
    after = datetime.now(UTC)
    assert isinstance(request, dg.RunRequest), request
    expected = _expected_counts(2, 1)
    assert request.tags[AT_RISK_TAG] == ",".join(f"{name}:{n}" for name, n in expected.items())
    assert request.run_key and request.run_key.startswith("retention-")

    # Load exactly the partitions the report names (as of either instant the sensor may have used).
    lake = Lake(tmp_path / "lake")
    for table in WINDOWED:
        for moment in (before, after):
            for key in retention_report(table, lake, moment)["at_risk"]:
                _write_empty(lake, table.spec.name, key)
    skipped = retention_sensor(
        dg.build_sensor_context(resources={"lake": lake_resource, "clock": ClockResource()})
    )
    assert isinstance(skipped, dg.SkipReason), skipped
    assert "no unloaded partition" in (skipped.skip_message or "")


def test_retention_sensor_is_in_the_code_location_and_off_by_default() -> None:
    sensor = defs.resolve_sensor_def("retention_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.STOPPED
    assert sensor.job_name == "retention_check_job"
    assert sensor.minimum_interval_seconds == 3600


def test_reaper_interval_setting() -> None:
    name = settings.REAPER_INTERVAL_S
    assert settings.reaper_interval_s({}) == 60
    assert settings.reaper_interval_s({name: "15"}) == 15
    assert settings.reaper_interval_s({name: "1"}) == 10
    with pytest.raises(ValueError, match=name):
        settings.reaper_interval_s({name: "often"})


def test_sensor_interval_setting() -> None:
    name = settings.RETENTION_SENSOR_INTERVAL_S
    assert settings.retention_sensor_interval_s({name: "900"}) == 900
    assert settings.retention_sensor_interval_s({name: "1"}) == 30
    with pytest.raises(ValueError, match=name):
        settings.retention_sensor_interval_s({name: "hourly"})
