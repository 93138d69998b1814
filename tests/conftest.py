"""Fixtures shared by every test suite.

- `sandbox`: one in-process sandbox for the whole session (200 SIMs, seed 42, jp, fixed
  now). Settings are shared: change faults only inside `sandbox.configured(...)`, which
  restores them.
- `sandbox_now`: that fixed now (tz-aware UTC datetime).
- `api`: an httpx client on the sandbox's jp base, already authenticated (auth key).
- `s3_server`, `s3_bucket`: a real S3-compatible server (moto_server, loopback) and a fresh
  bucket on it; `lake_root`: runs a test on a local lake and on an S3 lake (marker `s3`).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from sandbox.testing import SandboxHandle, start_sandbox
from tests.s3server import S3Server, start_moto_server

# The suite's sandboxes serve fixed instants (SANDBOX_NOW and others, late 2026) while the default
# partitions start follows the wall clock: start early enough for all of them, whatever the date.
# tests/assets/test_partitions_start.py covers the default.
os.environ.setdefault("SORACOM_PARTITIONS_START", "2025-01-01")

SANDBOX_NOW = datetime(2026, 11, 30, tzinfo=UTC)
SANDBOX_SIMS = 200
SANDBOX_SEED = 42


def authenticated_client(base_url: str, credentials: dict[str, str], timeout: float = 30.0) -> httpx.Client:
    """An httpx client whose default headers carry a fresh API key and token."""
    answer = httpx.post(base_url + "/v1/auth", json=credentials, timeout=timeout)
    answer.raise_for_status()
    body = answer.json()
    headers = {"X-Soracom-API-Key": body["apiKey"], "X-Soracom-Token": body["token"]}
    return httpx.Client(base_url=base_url, timeout=timeout, headers=headers)


@pytest.fixture(scope="session")
def sandbox_now() -> datetime:
    return SANDBOX_NOW


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxHandle]:
    with start_sandbox(sims=SANDBOX_SIMS, seed=SANDBOX_SEED, now=SANDBOX_NOW) as handle:
        yield handle


@pytest.fixture
def api(sandbox: SandboxHandle) -> Iterator[httpx.Client]:
    with authenticated_client(sandbox.url, sandbox.credentials) as client:
        yield client


def next_cursor(response: httpx.Response) -> str | None:
    """The next-page cursor from `x-soracom-next-key` or the `link` header, if any."""
    key = response.headers.get("x-soracom-next-key")
    if key:
        return key
    link = response.headers.get("link")
    if link and 'rel="next"' in link.replace("rel=next", 'rel="next"'):
        target = httpx.URL(link.split(";")[0].strip().strip("<>"))
        return target.params.get("last_evaluated_key")
    return None


def follow_pages(
    client: httpx.Client, path: str, params: dict | None = None, max_pages: int = 10_000
) -> tuple[list, list[httpx.Response]]:
    """Every item of a paged list call, and the responses of its pages."""
    params = dict(params or {})
    items: list = []
    responses: list[httpx.Response] = []
    for _ in range(max_pages):
        response = client.get(path, params=params)
        assert response.status_code == 200, response.text
        responses.append(response)
        items.extend(response.json())
        cursor = next_cursor(response)
        if cursor is None:
            return items, responses
        params["last_evaluated_key"] = cursor
    raise AssertionError(f"{path} did not stop after {max_pages} pages")


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """A real S3-compatible server (moto_server) on a loopback port, for the whole session."""
    with start_moto_server() as server:
        yield server


@pytest.fixture
def s3_bucket(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch, tmp_path_factory) -> str:
    """A fresh bucket on `s3_server`, as `s3://<bucket>`; the AWS variables (also seen by child
    processes) point at the server, and uploads are staged in a folder of this test."""
    import s3fs

    for name, value in s3_server.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SORACOM_LAKE_STAGING", str(tmp_path_factory.mktemp("s3-staging")))
    bucket = f"lake-{uuid.uuid4().hex[:12]}"
    s3fs.S3FileSystem(skip_instance_cache=True).mkdir(bucket)
    return f"s3://{bucket}"


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def lake_root(request: pytest.FixtureRequest, tmp_path) -> str:
    """A lake root on the local disk or on the S3 server: tests taking it run on both."""
    if request.param == "s3":
        return request.getfixturevalue("s3_bucket") + "/lake"
    return str(tmp_path / "lake")
