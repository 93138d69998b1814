"""Run retries and run monitoring are on in both shipped instance files, as loaded by Dagster
(not just written in the YAML): the daemon retries a run lost outside its steps, and marks
runs stuck starting as failed."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from tests.reliability.instances import install_home, pg_env


def assert_policies(instance: dg.DagsterInstance) -> None:
    assert instance.run_retries_enabled
    assert instance.run_retries_max_retries == 2
    assert instance.run_retries_retry_on_asset_or_op_failure is False  # the client retries inside steps
    assert instance.run_monitoring_enabled
    assert instance.run_monitoring_start_timeout_seconds == 300
    assert instance.run_monitoring_max_resume_run_attempts == 0  # the default launcher cannot resume


def test_the_sqlite_instance_retries_lost_runs_and_monitors_them(tmp_path: Path) -> None:
    home = install_home(tmp_path / "home")
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        assert_policies(instance)
    finally:
        instance.dispose()


@pytest.mark.integration
def test_the_postgres_instance_retries_lost_runs_and_monitors_them(postgres_url: str, tmp_path: Path) -> None:
    home = install_home(tmp_path / "home", postgres_url)
    with pg_env(postgres_url):
        instance = dg.DagsterInstance.from_config(str(home))
        try:
            assert_policies(instance)
        finally:
            instance.dispose()
