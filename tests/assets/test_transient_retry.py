"""Source steps and the API's failures (issues 17.4, 14.7): a step whose API stays down past the
client's retry budget is run again by Dagster (RetryRequested, transient errors only); a setup
error (wrong key, endpoint) fails the step once, with its one line and no retry.

Real Dagster runs of the real `groups` asset, a real client and an in-thread sandbox whose
faults are switched on right after the client's `/auth` (so the first contact succeeds)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from assets import inventory, loading
from assets.partitions import last_days
from assets.resources import ClockResource, LakeResource, SoracomResource
from pipelines.soracom import ClientSettings, SoracomClient, first_contact
from sandbox.testing import SandboxHandle, start_sandbox

pytestmark = pytest.mark.integration

QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
FAULTS_BY_OPEN: list[float] = []  # the sandbox error_rate set after each client's /auth
OPENED: list[int] = []


class _Client(SoracomClient):
    box: SandboxHandle

    async def open(self) -> None:
        self.box.settings.update({"error_rate": 0.0})  # the first contact succeeds
        await super().open()
        OPENED.append(1)
        rate = FAULTS_BY_OPEN[min(len(OPENED), len(FAULTS_BY_OPEN)) - 1]
        self.box.settings.update({"error_rate": rate})


class _Resource(SoracomResource):
    """The production resource with a short client retry budget and `_Client`s."""

    def client(self, coverage: str) -> SoracomClient:
        settings = ClientSettings(max_retry_seconds=0.3, backoff_base_s=0.01, backoff_max_s=0.05)
        return _Client(
            self.credentials(), endpoint=self.endpoint_for(coverage), coverage=coverage, settings=settings
        )


@pytest.fixture(scope="module")
def box() -> Iterator[SandboxHandle]:
    with start_sandbox(sims=10, seed=3, now=datetime.now(UTC), coverage="jp") as handle:
        _Client.box = handle
        yield handle


@pytest.fixture(autouse=True)
def _fresh(box: SandboxHandle, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(loading, "TRANSIENT_RETRY_WAIT_S", 0.0)
    FAULTS_BY_OPEN.clear()
    OPENED.clear()
    first_contact.forget()
    yield
    box.settings.update({"error_rate": 0.0})
    first_contact.forget()


def _materialize(box: SandboxHandle, tmp_path: Path, key: str = "authKey", **fields: Any) -> Any:
    resources = {
        "soracom": _Resource(
            auth_key_id=box.credentials["authKeyId"],
            auth_key=fields.pop("auth_key", box.credentials[key]),
            endpoint_jp=box.url_for("jp"),
            coverages="jp",
        ),
        "lake": LakeResource(root=str(tmp_path / "lake"), catalog_path=str(tmp_path / "c.duckdb")),
        "clock": ClockResource(now_setting=box.world.now.isoformat()),
    }
    day = last_days(box.world.now, 1)[0]
    return dg.materialize(
        [inventory.groups], partition_key=day, resources=resources, run_config=QUIET, raise_on_error=False
    )


def _events(result: Any, kind: str) -> list[Any]:
    return [e for e in result.all_events if e.event_type_value == kind]


def test_a_step_whose_api_stayed_down_is_run_again_and_loads(box, tmp_path):
    FAULTS_BY_OPEN.extend([1.0, 0.0])  # down for the first attempt, back for the second
    result = _materialize(box, tmp_path)
    assert result.success
    assert len(OPENED) == 2
    assert len(_events(result, "STEP_UP_FOR_RETRY")) == 1
    assert list((tmp_path / "lake" / "groups").rglob("*.parquet"))


def test_retries_end_with_the_clients_own_error(box, tmp_path, monkeypatch):
    monkeypatch.setattr(loading, "TRANSIENT_RETRIES", 1)
    FAULTS_BY_OPEN.append(1.0)  # down for good
    result = _materialize(box, tmp_path)
    assert not result.success
    assert len(OPENED) == 2
    (failure,) = _events(result, "STEP_FAILURE")
    message = failure.step_failure_data.error.message
    assert "listGroups (GET /groups) gave up after" in message, message
    assert "step attempt 2 of 2" in message


def test_a_setup_error_fails_once_with_its_one_line(box, tmp_path):
    result = _materialize(box, tmp_path, auth_key="secret-WRONG")
    assert not result.success
    assert OPENED == []
    assert _events(result, "STEP_UP_FOR_RETRY") == []
    (failure,) = _events(result, "STEP_FAILURE")
    error = failure.step_failure_data.error
    assert error.cause is None
    assert "rejected the credentials" in error.message and "SORACOM_AUTH_KEY" in error.message
    assert "secret-WRONG" not in error.message
