"""One settings module: each setting defined once (`pipelines/settings.py`), read the same way by
the CLI and the Dagster resources, and the README's tables generated from the definitions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assets.resources import ClockResource, LakeResource, SoracomResource, resources_from_env
from pipelines import settings
from tools import docs


def test_the_docs_tables_are_generated_from_the_definitions() -> None:
    for path, names in docs.FILES.items():
        text = path.read_text()
        assert docs.render(text, names) == text, f"{path.name} is out of step: run python -m tools.docs"
    readme = docs.README.read_text()
    for setting in settings.SETTINGS:
        assert f"`{setting.name}`" in readme


def test_the_resources_take_their_defaults_from_the_settings() -> None:
    assert LakeResource().root == settings.DEFAULTS[settings.LAKE_ROOT]
    assert LakeResource().catalog_path == settings.DEFAULTS[settings.CATALOG_PATH]
    assert str(SoracomResource().max_concurrency) == settings.DEFAULTS[settings.MAX_CONCURRENCY]
    assert SoracomResource().coverage_list() == settings.parse_coverages(
        settings.DEFAULTS[settings.COVERAGES]
    )
    assert ClockResource().now_setting == settings.DEFAULTS[settings.NOW]


def test_dagster_runs_honour_the_profile_dir_and_the_coverage_type(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    profile = profiles / "lake.json"
    profile.write_text(json.dumps({"authKeyId": "keyId-from-profile", "authKey": "secret-from-profile"}))
    profile.chmod(0o600)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no ~/.soracom to fall back on
    for name in (settings.AUTH_KEY_ID, settings.AUTH_KEY, settings.COVERAGES, settings.ENDPOINT):
        monkeypatch.delenv(name, raising=False)
    env = {settings.PROFILE: "lake", settings.PROFILE_DIR: str(profiles), settings.COVERAGE_TYPE: "g"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    soracom = resources_from_env()["soracom"].process_config_and_initialize()
    credentials = soracom.credentials()
    assert credentials.auth_key_id == "keyId-from-profile" and str(profiles) in credentials.source
    assert soracom.coverage_list() == ("g",)
    assert soracom.endpoint_for("g").startswith("https://g.api.soracom.io")


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (settings.MAX_CONCURRENCY, "lots", "SORACOM_MAX_CONCURRENCY='lots' is not valid"),
        (settings.NIGHTLY_CRON, "nightly", "give a 5-field cron expression"),
        (settings.SCHEDULE_TIMEZONE, "Mars/Olympus", "give an IANA time zone"),
        (settings.COVERAGE_TYPE, "eu", "give jp or g"),
        (settings.NOW, "soon", "give 'live' or an ISO 8601 instant"),
    ],
)
def test_a_bad_setting_is_refused_naming_the_variable(name: str, value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        settings.value(name, {name: value})
