"""Credentials stay secret; unsafe profiles and bad tokens are refused; nothing the
pipeline writes is world-writable."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import duckdb
import httpx
import pyarrow.parquet as pq
import pytest

from assets import billing, harvest, inventory, sessions, traffic
from assets.catalog import catalog
from assets.partitions import last_days
from assets.resources import SoracomResource, resources_from_env
from pipelines import settings
from pipelines.soracom import CredentialsError
from sandbox.testing import SandboxHandle, start_sandbox
from tests.reliability import harness

pytestmark = [pytest.mark.reliability, pytest.mark.integration]

SECRET_ID = "keyId-0f1e2d3c4b5a-UNIQUE-ID"
SECRET_KEY = "secret-9a8b7c6d5e4f-NEVER-LOG-ME"
WRONG_KEY = "secret-wrong-ZZZZ-NEVER-LOG-ME-EITHER"


@pytest.fixture(scope="module")
def now() -> datetime:
    """The module's one instant: the sandbox's and the pipeline's clock, and what the loaded day
    and month are counted from, so a run that crosses midnight UTC (or a month's end) does not
    load a snapshot day that the pipeline's wall clock already calls too old."""
    return datetime.now(UTC).replace(second=0, microsecond=0)


@pytest.fixture(scope="module")
def box(now: datetime) -> Iterator[SandboxHandle]:
    with start_sandbox(
        sims=20, seed=21, now=now, coverage="jp", auth_key_id=SECRET_ID, auth_key=SECRET_KEY
    ) as handle:
        yield handle


def _env(box: SandboxHandle, root: Path, key: str = SECRET_KEY) -> dict[str, str]:
    """What a user sets; the pipeline's clock (`SORACOM_NOW`) is the sandbox's now."""
    return {
        settings.NOW: box.world.now.isoformat(),
        settings.AUTH_KEY_ID: SECRET_ID,
        settings.AUTH_KEY: key,
        settings.COVERAGES: "jp",
        settings.ENDPOINT_JP: box.url,
        settings.LAKE_ROOT: str(root / "lake"),
        settings.CATALOG_PATH: str(root / "soracom.duckdb"),
    }


def _file_text(path: Path) -> bytes:
    """What a file holds, decompressed: Parquet values, the catalog's tables and view SQL,
    or the raw bytes (sqlite storage, logs)."""
    raw = path.read_bytes()
    if path.suffix == ".parquet":
        return raw + str(pq.read_table(path).to_pylist()).encode()
    if path.suffix == ".duckdb":
        con = duckdb.connect(str(path), read_only=True)
        try:
            views = con.execute("SELECT sql FROM duckdb_views()").fetchall()
            catalog_rows = con.execute("SELECT * FROM _catalog").fetchall()
        finally:
            con.close()
        return raw + str(views).encode() + str(catalog_rows).encode()
    return raw


def _files_containing(root: Path, needles: list[str]) -> list[str]:
    hits = []
    for path in sorted(root.rglob("*")):
        if path.is_file():
            data = _file_text(path)
            hits += [f"{path.name}: {s[:12]}..." for s in needles if s.encode() in data]
    return hits


def test_credentials_never_reach_logs_event_storage_run_config_metadata_or_files(
    box: SandboxHandle,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    now: datetime,
) -> None:
    caplog.set_level(logging.DEBUG)  # the client's debug lines, httpx's request lines, Dagster's
    data = tmp_path / "data"
    home = tmp_path / "dagster_home"
    home.mkdir()
    instance = dg.DagsterInstance.local_temp(tempdir=str(home), overrides={"telemetry": {"enabled": False}})
    day = last_days(now, 1)[0]
    month = now.strftime("%Y-%m-01")
    run_ids = []
    try:
        for name, value in _env(box, data).items():
            monkeypatch.setenv(name, value)
        res = resources_from_env()
        for assets, key in (
            ([sessions.session_events, traffic.air_traffic_daily, harvest.harvest_entries], day),
            ([inventory.sims], day),
            ([billing.billing_items], month),
            ([catalog], None),
        ):
            result = harness.materialize(assets, key, res, instance)
            assert result.success, harness.failure_messages(result)
            run_ids.append(result.run_id)
        box.expire_tokens()  # the next run re-authenticates mid-way
        # A run with a wrong secret fails; its error must not echo what it sent.
        monkeypatch.setenv(settings.AUTH_KEY, WRONG_KEY)
        failed = harness.materialize([inventory.sims], day, resources_from_env(), instance)
        assert not failed.success
        messages = " ".join(harness.failure_messages(failed))
        assert "auth (POST /auth)" in messages and "401" in messages, messages
        run_ids.append(failed.run_id)

        tokens = [p.token for p in box.state.tokens._by_token.values()]
        api_keys = [p.api_key for p in box.state.tokens._by_token.values()]
        download_tokens = list(box.state.exports._by_token)
        assert tokens and api_keys and download_tokens
        secrets = [SECRET_KEY, WRONG_KEY, *tokens, *api_keys, *download_tokens]

        stored = []
        for run_id in run_ids:
            run = instance.get_run_by_id(run_id)
            stored.append(json.dumps(run.run_config, default=str) + str(run.tags))
            stored += [str(record) for record in instance.all_logs(run_id)]
        instance.dispose()
        captured = capfd.readouterr()
        texts = {
            "log records": caplog.text,
            "stdout": captured.out,
            "stderr": captured.err,
            "runs, configs, events and metadata": "\n".join(stored),
        }
        for where, text in texts.items():
            leaked = [s[:12] + "..." for s in secrets if s in text]
            assert not leaked, f"secrets in {where}: {leaked}"
        # Files: the lake, the catalog, the instance's sqlite event/run storage and compute logs.
        assert list(data.rglob("*.parquet")) and (data / "soracom.duckdb").exists()
        assert list(home.rglob("*.db")), "the instance must have written its sqlite storage"
        assert _files_containing(data, secrets) == []
        assert _files_containing(home, secrets) == []
        # Controls: the same searches do find what is really there.
        some_sim = box.world.sim_ids("jp")[0]
        assert _files_containing(data / "lake" / "sims", [some_sim]), "the lake search sees no data"
        assert _files_containing(home, [run_ids[0]]), "the storage search sees no runs"
        assert "auth" in texts["log records"] and run_ids[0] in texts["runs, configs, events and metadata"]
    finally:
        instance.dispose()


def test_a_profile_readable_by_others_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "home" / ".soracom"
    folder.mkdir(parents=True)
    profile = folder / "default.json"
    profile.write_text(json.dumps({"authKeyId": SECRET_ID, "authKey": SECRET_KEY, "coverageType": "jp"}))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    resource = SoracomResource(profile="default")
    for mode in (0o644, 0o640, 0o604):
        profile.chmod(mode)
        with pytest.raises(CredentialsError) as caught:
            resource.credentials()
        assert "chmod 600" in str(caught.value) and SECRET_KEY not in str(caught.value)
    profile.chmod(0o600)
    credentials = resource.credentials()  # the owner-only profile is accepted
    assert SECRET_KEY not in repr(credentials) and SECRET_KEY not in str(credentials)


def test_the_sandbox_rejects_missing_wrong_and_expired_tokens(box: SandboxHandle) -> None:
    url = box.url + "/v1/sims"
    assert httpx.get(url).status_code == 401
    auth = httpx.post(box.url + "/v1/auth", json=box.credentials).json()
    good = {"X-Soracom-API-Key": auth["apiKey"], "X-Soracom-Token": auth["token"]}
    assert httpx.get(url, headers=good).status_code == 200
    assert httpx.get(url, headers={**good, "X-Soracom-Token": auth["token"][:-2] + "xx"}).status_code == 401
    assert httpx.get(url, headers={**good, "X-Soracom-API-Key": "api-wrong"}).status_code == 401
    assert httpx.post(box.url + "/v1/auth", json={**box.credentials, "authKey": WRONG_KEY}).status_code == 401
    box.expire_tokens()
    expired = httpx.get(url, headers=good)
    assert expired.status_code == 401 and "expired" in expired.json()["message"]


def test_lake_and_catalog_are_never_world_writable(box: SandboxHandle, tmp_path: Path, now: datetime) -> None:
    day = last_days(now, 1)[0]
    res = harness.resources({"jp": box.url}, box.credentials, tmp_path, now=now)
    old = os.umask(0)  # the most permissive umask a cron or container could hand us
    try:
        for assets, key in (([sessions.session_events, inventory.sims], day), ([catalog], None)):
            result = harness.materialize(assets, key, res)
            assert result.success, harness.failure_messages(result)
    finally:
        os.umask(old)
    assert list((tmp_path / "lake").rglob("*.parquet"))
    assert harness.chmod_tree_report(tmp_path / "lake") == []
    assert (tmp_path / "soracom.duckdb").stat().st_mode & 0o022 == 0
