"""Fixtures for client tests: one sandbox per module, settings restored after each test."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Iterator
from typing import Any, TypeVar

import pytest

from pipelines.soracom import ClientSettings, Credentials, SoracomClient

T = TypeVar("T")

NOW = "2026-11-30T00:00:00Z"
# Small waits so fault tests stay fast; the retry budget is still bounded.
FAST = ClientSettings(
    backoff_base_s=0.01,
    backoff_max_s=0.05,
    max_attempts=12,
    export_poll_initial_s=0.05,
    export_poll_max_s=0.2,
    timeout_s=10,
)


def run(coro: Awaitable[T]) -> T:
    return asyncio.run(coro)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Any]:
    from sandbox.testing import start_sandbox

    with start_sandbox(sims=200, seed=7, now=NOW, coverage="both") as handle:
        yield handle


@pytest.fixture(autouse=True)
def _restore_sandbox_settings(request: pytest.FixtureRequest) -> Iterator[None]:
    if "sandbox" not in request.fixturenames:
        yield
        return
    handle = request.getfixturevalue("sandbox")
    saved = dataclasses.asdict(handle.settings)
    yield
    handle.settings.update(saved)
    handle.reset_rate_limits()


@pytest.fixture(autouse=True)
def _forget_first_contacts() -> Iterator[None]:
    """Each test starts with no endpoint reached and no setup failure remembered."""
    from pipelines.soracom import first_contact

    first_contact.forget()
    yield
    first_contact.forget()


@pytest.fixture
def creds() -> Credentials:
    return Credentials.auth_key_pair("keyId-sandbox", "secret-sandbox")


def make_client(handle: Any, creds: Credentials, coverage: str = "jp", **settings: Any) -> SoracomClient:
    return SoracomClient(
        creds,
        endpoint=handle.url_for(coverage),
        coverage=coverage,
        settings=dataclasses.replace(FAST, **settings),
    )
