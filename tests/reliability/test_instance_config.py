"""The shipped Dagster instance config (`pipelines/dagster_instance.yaml`) is valid for the
installed Dagster and sets the limits the docs promise; the demo installs it without ever
replacing a user's own `dagster.yaml`. (That the pool really serialises two runs of one
partition is `test_crash_and_outage.py::test_two_runs_of_one_partition_at_once...`.)"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from assets.loading import API_POOL
from assets.tables import SOURCES
from pipelines.instance import (
    PG_URL_ENV,
    POSTGRES_TEMPLATE,
    SQLITE_TEMPLATE,
    InstanceConfigError,
    install_instance_config,
)
from pipelines.jobs import JOBS, RUN_KIND_TAG
from pipelines.slots import LockedPostgresEventLogStorage, LockedSqliteEventLogStorage, SoracomInstance
from tests.reliability.instances import install_home, pg_env

pytestmark = pytest.mark.reliability


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_the_shipped_config_loads_and_limits_the_api_pool_and_runs(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Both shipped files (SQLite; Postgres on a real server from `DAGSTER_PG_URL`): the same
    limits, the run queue and its retries, and the storage whose slot claims hold a lock."""
    pg_url = request.getfixturevalue("postgres_url") if backend == "postgres" else None
    install_home(tmp_path, pg_url)
    with pg_env(pg_url) if pg_url else contextlib.nullcontext():
        instance = dg.DagsterInstance.from_config(str(tmp_path))
    try:
        locked = LockedPostgresEventLogStorage if pg_url else LockedSqliteEventLogStorage
        assert isinstance(instance.event_log_storage, locked)
        assert isinstance(instance, SoracomInstance)
        config = instance.get_concurrency_config()
        assert config.pool_config.default_pool_limit == 1
        assert config.pool_config.pool_granularity.value == "op"
        limits = {
            (limit["key"], str(limit.get("value"))): limit["limit"]
            for limit in config.run_queue_config.tag_concurrency_limits
        }
        per_value = str({"applyLimitPerUniqueValue": True})
        assert limits == {("dagster/partition", per_value): 1, (RUN_KIND_TAG, per_value): 1}
        # a run dequeued while the code server is unreachable goes back in the queue (docs/deploy.md)
        assert config.run_queue_config.max_user_code_failure_retries == 5
        assert config.run_queue_config.user_code_failure_retry_delay == 60
        assert "QueuedRunCoordinator" in type(instance.run_coordinator).__name__
    finally:
        instance.dispose()


def test_every_api_pool_exists_before_any_run_claims_it(tmp_path: Path) -> None:
    """Every source's pool is created from the default limit at install, so two runs starting
    together on a fresh instance cannot both claim before its slots exist; a second install
    leaves a limit set by hand as it is."""
    pools = {s.pool_key for s in SOURCES}
    assert len(pools) > 1 and all(p.startswith(f"{API_POOL}.") for p in pools)
    install_instance_config(tmp_path)
    instance = dg.DagsterInstance.from_config(str(tmp_path))
    try:
        storage = instance.event_log_storage
        limits = {p.name: (p.limit, p.from_default) for p in storage.get_pool_limits()}
        assert limits == dict.fromkeys(pools, (1, True))
        assert {pool: storage.get_concurrency_info(pool).slot_count for pool in pools} == dict.fromkeys(
            pools, 1
        )
        raised = sorted(pools)[0]
        storage.set_concurrency_slots(raised, 3)
    finally:
        instance.dispose()
    install_instance_config(tmp_path)
    instance = dg.DagsterInstance.from_config(str(tmp_path))
    try:
        assert instance.event_log_storage.get_concurrency_info(raised).slot_count == 3
    finally:
        instance.dispose()


def test_the_pool_command_creates_the_missing_pools(tmp_path: Path) -> None:
    """`python -m pipelines.instance` (README): the slots of every API pool on $DAGSTER_HOME's
    instance, e.g. after an upgrade added a pool to an installed home."""
    shutil.copy(SQLITE_TEMPLATE, tmp_path / "dagster.yaml")
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    command = [sys.executable, "-m", "pipelines.instance"]
    first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=True)
    pools = sorted({s.pool_key for s in SOURCES})
    assert first.stdout.splitlines() == [f"{pool}: 1 slot(s) (created)" for pool in pools]
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=True)
    assert again.stdout.splitlines() == [f"{pool}: 1 slot(s)" for pool in pools]


def test_every_load_job_carries_the_tag_the_run_limits_use() -> None:
    tagged = {job.name for job in JOBS if RUN_KIND_TAG in (job.tags or {})}
    assert {"daily_load_job", "snapshot_job", "audit_log_job", "billing_job"} <= tagged


def test_the_postgres_file_says_what_to_set_when_the_url_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(PG_URL_ENV, raising=False)
    with pytest.raises(InstanceConfigError, match=f"{PG_URL_ENV}.*not set.*export {PG_URL_ENV}="):
        install_instance_config(tmp_path, POSTGRES_TEMPLATE)
    assert not (tmp_path / "dagster.yaml").exists()


def test_install_never_replaces_a_users_config(tmp_path: Path) -> None:
    own = tmp_path / "dagster.yaml"
    own.write_text("telemetry:\n  enabled: false\n")
    install_instance_config(tmp_path)
    assert own.read_text() == "telemetry:\n  enabled: false\n"
    fresh = tmp_path / "fresh"
    assert install_instance_config(fresh).read_text() == SQLITE_TEMPLATE.read_text()
