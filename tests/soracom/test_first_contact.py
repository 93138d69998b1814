"""Fail fast on setup errors (issue 14 item 7): a wrong endpoint, a name that does not resolve,
a server that is not there or wrong credentials end the client's first contact with one line
naming the cause and the variable to fix, and the run's other clients fail at once with it."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from pipelines.soracom import (
    Credentials,
    CredentialsRejectedError,
    SoracomAuthError,
    SoracomClient,
    SoracomSetupError,
)
from testkit.ports import reserve_port

from .conftest import FAST, make_client, run

pytestmark = pytest.mark.integration


def _open(client: SoracomClient) -> None:
    async def scenario() -> None:
        async with client:
            pass

    run(scenario())


def _setup_error(client: SoracomClient) -> SoracomSetupError:
    with pytest.raises(SoracomSetupError) as info:
        _open(client)
    return info.value


def _client(endpoint: str, creds: Credentials, **settings: object) -> SoracomClient:
    import dataclasses

    return SoracomClient(
        creds, endpoint=endpoint, coverage="jp", settings=dataclasses.replace(FAST, **settings)
    )


class _Dropper:
    """A loopback listener that accepts every connection and closes it at once (a server that
    is there but never answers HTTP), counting connections."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.connections = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def dropper() -> Iterator[_Dropper]:
    server = _Dropper()
    yield server
    server.close()


def test_unresolvable_host_is_one_line_naming_dns_and_the_variable(creds):
    error = _setup_error(_client("http://soracom-lake-test.invalid", creds, first_contact_retry_seconds=10))
    assert error.__cause__.attempts == 1  # a name that does not exist is not retried
    text = str(error)
    assert "\n" not in text
    assert "does not resolve" in text and "soracom-lake-test.invalid" in text
    assert "SORACOM_ENDPOINT_JP" in text and "SORACOM_ENDPOINT" in text


def test_nothing_listening_is_a_setup_error_not_an_outage_budget(creds):
    port = reserve_port()  # nothing listens there and no other test's bind(0) gets it: refused
    # max_retry_seconds is an outage's budget (300 s by default); the first contact gets the short one.
    error = _setup_error(
        _client(f"http://127.0.0.1:{port}", creds, first_contact_retry_seconds=0.5, max_retry_seconds=300)
    )
    text = str(error)
    assert "\n" not in text
    assert "is not reachable" in text and "ConnectError" in text and "SORACOM_ENDPOINT_JP" in text
    assert error.__cause__ is not None  # the client's own error stays chained for debugging


def test_a_setup_failure_answers_for_the_rest_of_the_run_without_contacting_again(creds, dropper):
    first = _setup_error(_client(dropper.url, creds, first_contact_retry_seconds=0.3))
    contacted = dropper.connections
    assert contacted >= 1
    for _ in range(3):  # the run's other steps open their own clients
        again = _setup_error(_client(dropper.url, creds, first_contact_retry_seconds=0.3))
        assert str(again) == str(first)
    assert dropper.connections == contacted


def test_wrong_credentials_are_rejected_at_once_naming_the_variables(sandbox):
    bad = Credentials.auth_key_pair("keyId-sandbox", "secret-WRONG")
    auths_before = sandbox.stats.calls["auth"]
    with pytest.raises(CredentialsRejectedError) as info:
        _open(make_client(sandbox, bad))
    error = info.value
    text = str(error)
    assert isinstance(error, SoracomAuthError) and error.status == 401
    assert "\n" not in text
    assert "rejected the credentials of auth key id keyId-sandbox" in text
    assert "SORACOM_AUTH_KEY_ID / SORACOM_AUTH_KEY" in text
    assert "secret-WRONG" not in text
    assert sandbox.stats.calls["auth"] == auths_before + 1  # one /auth, no retries
    with pytest.raises(CredentialsRejectedError):
        _open(make_client(sandbox, bad))
    assert sandbox.stats.calls["auth"] == auths_before + 1  # remembered: not asked again


def test_corrected_credentials_are_a_new_first_contact(sandbox, creds):
    bad = Credentials.auth_key_pair("keyId-sandbox", "secret-WRONG")
    with pytest.raises(CredentialsRejectedError):
        _open(make_client(sandbox, bad))

    async def scenario() -> str:
        async with make_client(sandbox, creds) as c:
            return c.operator_id

    assert run(scenario()) == sandbox.operator_id


def test_preflight_opens_the_client(sandbox, creds):
    async def scenario() -> str:
        client = make_client(sandbox, creds)
        try:
            await client.preflight()
            return str((await client.request_json("GET", "/groups", operation="listGroups")) is not None)
        finally:
            await client.aclose()

    assert run(scenario()) == "True"
