"""`soracom-lake sandbox` as a process: READY line, admin endpoints, crash and restart."""

from __future__ import annotations

import argparse

import httpx
import pytest

from pipelines.cli import main
from sandbox import cli
from sandbox.process import parse_ready_line, start_sandbox_process
from tests.conftest import authenticated_client


@pytest.fixture(scope="module")
def process_sandbox():
    with start_sandbox_process(sims=30, seed=3, now="2026-11-30T00:00:00Z", coverage="both") as handle:
        yield handle


def test_ready_line_gives_urls_and_credentials(process_sandbox):
    info = process_sandbox.info
    assert info["url"].startswith("http://127.0.0.1:")
    assert info["url_g"] == info["url"] + "/g"
    assert info["auth_key_id"] == "keyId-sandbox"
    assert info["auth_key"] == "secret-sandbox"
    assert info["operator_id"] == "OP0000000000"
    assert info["email"] == "sandbox@example.com" and info["password"] == "sandbox-password"
    assert info["sam_user_name"] == "sandbox-user"
    assert info["now"] == "2026-11-30T00:00:00Z"


def test_process_serves_both_coverages(process_sandbox):
    for coverage in ("jp", "g"):
        with authenticated_client(process_sandbox.url_for(coverage), process_sandbox.credentials) as client:
            assert client.get("/v1/sims").status_code == 200


def test_admin_endpoints_change_settings_and_report_stats(process_sandbox):
    with authenticated_client(process_sandbox.url, process_sandbox.credentials) as client:
        updated = process_sandbox.update_settings(error_rate=1.0)
        assert updated["error_rate"] == 1.0
        assert client.get("/v1/groups").status_code in (500, 502, 503)
        process_sandbox.update_settings(error_rate=0.0)
        assert client.get("/v1/groups").status_code == 200
        stats = process_sandbox.get_stats()
        assert stats["calls"]["listGroups"] >= 2
        assert stats["errors_injected"] >= 1
        assert process_sandbox.expire_tokens() >= 1
        assert client.get("/v1/groups").status_code == 401
    with pytest.raises(ValueError, match="error_rate must be between 0 and 1"):
        process_sandbox.update_settings(error_rate=2)
    with pytest.raises(ValueError, match="unknown sandbox setting"):
        process_sandbox.update_settings(colour="blue")
    assert process_sandbox.get_settings()["error_rate"] == 0.0


def test_kill_breaks_the_server_and_restart_brings_it_back_on_the_same_port(process_sandbox):
    port = process_sandbox.port
    process_sandbox.kill()
    with pytest.raises(httpx.ConnectError):
        httpx.get(process_sandbox.url + "/_sandbox/health")
    process_sandbox.restart()
    assert process_sandbox.port == port
    assert httpx.get(process_sandbox.url + "/_sandbox/health").json()["ok"] is True


def test_cli_flags_parse_with_their_defaults():
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    args = parser.parse_args([])
    assert (args.host, args.port, args.sims, args.seed, args.coverage) == ("127.0.0.1", 8765, 200, 42, "jp")
    args = parser.parse_args(
        ["--port", "0", "--error-rate", "0.1", "--token-ttl", "60", "--coverage", "both"]
    )
    settings = cli._settings(args)
    assert settings.error_rate == 0.1 and settings.token_ttl == 60


def test_cli_rejects_bad_values_with_a_clear_message(capsys):
    assert main(["sandbox", "--port", "0", "--error-rate", "3"]) == 2
    assert "error_rate must be between 0 and 1" in capsys.readouterr().err
    assert main(["sandbox", "--port", "0", "--now", "yesterday"]) == 2
    assert "ISO 8601" in capsys.readouterr().err


def test_parse_ready_line():
    assert parse_ready_line("SANDBOX READY url=http://h:1 a=b\n") == {"url": "http://h:1", "a": "b"}
    with pytest.raises(ValueError):
        parse_ready_line("hello")
