"""Authentication: /v1/auth, token refresh, and 401s for missing, wrong and expired tokens."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.conftest import authenticated_client


def test_auth_key_root_and_sam_user_all_authenticate(sandbox):
    for kind, body in sandbox.all_credentials.items():
        answer = httpx.post(sandbox.url + "/v1/auth", json=body)
        assert answer.status_code == 200, (kind, answer.text)
        payload = answer.json()
        assert payload["operatorId"] == sandbox.operator_id
        assert payload["apiKey"] and payload["token"]
        assert ("userName" in payload) == (kind == "sam")
        sims = httpx.get(
            sandbox.url + "/v1/sims",
            headers={"X-Soracom-API-Key": payload["apiKey"], "X-Soracom-Token": payload["token"]},
        )
        assert sims.status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"authKeyId": "keyId-sandbox", "authKey": "wrong"},
        {"email": "sandbox@example.com", "password": "nope"},
        {"operatorId": "OP9999999999", "userName": "sandbox-user", "password": "sandbox-user-password"},
        {},
    ],
)
def test_bad_credentials_get_401_with_simple_error_body(sandbox, body):
    answer = httpx.post(sandbox.url + "/v1/auth", json=body)
    assert answer.status_code == 401
    error = answer.json()
    assert set(error) == {"code", "message"}
    assert "Authentication failed" in error["message"]


def test_token_timeout_above_the_maximum_is_refused(sandbox):
    body = {**sandbox.credentials, "tokenTimeoutSeconds": 172_801}
    answer = httpx.post(sandbox.url + "/v1/auth", json=body)
    assert answer.status_code == 400
    assert "172800" in answer.json()["message"]


def test_token_timeout_is_honoured_and_capped_by_token_ttl(sandbox):
    body = {**sandbox.credentials, "tokenTimeoutSeconds": 1000}
    token = httpx.post(sandbox.url + "/v1/auth", json=body).json()["token"]
    lifetime = sandbox.state.tokens._by_token[token].expires_at - time.time()
    assert 990 < lifetime <= 1000
    with sandbox.configured(token_ttl=30):
        token = httpx.post(sandbox.url + "/v1/auth", json=body).json()["token"]
    lifetime = sandbox.state.tokens._by_token[token].expires_at - time.time()
    assert 20 < lifetime <= 30


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Soracom-API-Key": "api-x"},
        {"X-Soracom-Token": "t"},
        {"X-Soracom-API-Key": "api-x", "X-Soracom-Token": "not-a-token"},
    ],
)
def test_missing_or_wrong_token_gets_401(sandbox, headers):
    answer = httpx.get(sandbox.url + "/v1/sims", headers=headers)
    assert answer.status_code == 401
    assert set(answer.json()) == {"code", "message"}
    assert "X-Soracom-Ratelimit-Limit" in answer.headers


def test_token_with_someone_elses_api_key_gets_401(sandbox, api):
    other = httpx.post(sandbox.url + "/v1/auth", json=sandbox.credentials).json()
    answer = httpx.get(
        sandbox.url + "/v1/sims",
        headers={"X-Soracom-API-Key": other["apiKey"], "X-Soracom-Token": api.headers["X-Soracom-Token"]},
    )
    assert answer.status_code == 401


def test_expired_token_gets_401_and_cannot_be_refreshed(sandbox):
    with authenticated_client(sandbox.url, sandbox.credentials) as client:
        assert client.get("/v1/groups").status_code == 200
        sandbox.expire_tokens()
        answer = client.get("/v1/groups")
        assert answer.status_code == 401
        assert "expired" in answer.json()["message"]
        refresh = client.post(f"/v1/operators/{sandbox.operator_id}/token", json={})
        assert refresh.status_code == 400  # as the spec says for an expired token
        assert refresh.json()["httpStatus"] == 400
        assert set(refresh.json()["errorMessage"]) == {"code", "message"}


def test_token_ttl_setting_makes_tokens_expire(sandbox):
    with sandbox.configured(token_ttl=0.2), authenticated_client(sandbox.url, sandbox.credentials) as client:
        time.sleep(0.3)
        assert client.get("/v1/groups").status_code == 401


def test_generate_auth_token_gives_a_fresh_working_token(sandbox, api):
    answer = api.post(f"/v1/operators/{sandbox.operator_id}/token", json={"tokenTimeoutSeconds": 600})
    assert answer.status_code == 200
    fresh = answer.json()["token"]
    assert fresh != api.headers["X-Soracom-Token"]
    with_fresh = httpx.get(
        sandbox.url + "/v1/groups",
        headers={"X-Soracom-API-Key": api.headers["X-Soracom-API-Key"], "X-Soracom-Token": fresh},
    )
    assert with_fresh.status_code == 200


def test_generate_auth_token_for_another_operator_is_refused(api):
    answer = api.post("/v1/operators/OP9999999999/token", json={})
    assert answer.status_code == 404
    assert answer.json()["errorMessage"]["code"]


def test_tokens_issued_are_counted(sandbox):
    before = sandbox.stats.tokens_issued
    httpx.post(sandbox.url + "/v1/auth", json=sandbox.credentials)
    assert sandbox.stats.tokens_issued == before + 1
