"""Faults: latency, injected 5xx, dropped connections, rate limits; none changes the data."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.conftest import authenticated_client, follow_pages, next_cursor


def test_every_answer_carries_rate_limit_headers(api):
    for answer in (api.get("/v1/sims"), api.get("/v1/bills/latest"), api.get("/v1/sims/nope/data")):
        assert int(answer.headers["X-Soracom-Ratelimit-Limit"]) > 0
        assert int(answer.headers["X-Soracom-Ratelimit-Remaining"]) >= 0
        assert 1 <= int(answer.headers["X-Soracom-Ratelimit-Seconds-Before-Refresh"]) <= 60


def test_rate_limit_per_operation_gives_429_with_retry_after(sandbox, api):
    with sandbox.configured(rate_limit_per_minute=3):
        answers = [api.get("/v1/groups") for _ in range(4)]
        other = api.get("/v1/bills/latest")  # another API has its own budget
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["X-Soracom-Ratelimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
    limited = answers[-1]
    assert limited.headers["X-Soracom-Ratelimit-Limit"] == "3"
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert limited.json()["httpStatus"] == 429
    assert other.status_code == 200


def test_rate_limited_calls_are_counted(sandbox, api):
    before = sandbox.stats.rate_limited
    with sandbox.configured(rate_limit_per_minute=1):
        api.get("/v1/groups")
        api.get("/v1/groups")
    assert sandbox.stats.rate_limited == before + 1


def test_error_rate_one_fails_every_call_with_a_wrapped_5xx(sandbox, api):
    before = sandbox.stats.errors_injected
    with sandbox.configured(error_rate=1.0):
        answers = [api.get("/v1/groups") for _ in range(12)]
    assert {a.status_code for a in answers} <= {500, 502, 503}
    assert len({a.status_code for a in answers}) > 1
    for answer in answers:
        body = answer.json()
        assert body["httpStatus"] == answer.status_code
        assert set(body["errorMessage"]) == {"code", "message"}
        assert "X-Soracom-Ratelimit-Limit" in answer.headers
    assert sandbox.stats.errors_injected == before + 12


def test_fault_decisions_are_reproducible_for_a_seed(sandbox, api):
    def run() -> list[int]:
        with sandbox.configured(error_rate=0.5, fault_seed=1234):
            return [api.get("/v1/groups").status_code for _ in range(20)]

    first, second = run(), run()
    assert first == second
    assert 200 in first and any(s >= 500 for s in first)


def test_drop_rate_one_closes_the_connection_mid_body(sandbox):
    before = sandbox.stats.drops_injected
    with (
        authenticated_client(sandbox.url, sandbox.credentials) as client,
        sandbox.configured(drop_rate=1.0),
        pytest.raises(httpx.RemoteProtocolError, match=r"complete message body"),
    ):
        client.get("/v1/sims")
    assert sandbox.stats.drops_injected == before + 1


def test_latency_is_added(sandbox, api):
    with sandbox.configured(latency_ms=150, jitter_ms=20):
        started = time.perf_counter()
        assert api.get("/v1/groups").status_code == 200
        elapsed = time.perf_counter() - started
    assert elapsed >= 0.15


def test_faults_never_change_the_data(sandbox, api):
    clean, _ = follow_pages(api, "/v1/sims", {"limit": 25})
    items: list = []
    params: dict = {"limit": 25}
    with sandbox.configured(error_rate=0.3, drop_rate=0.2):
        for _ in range(1000):
            try:
                answer = api.get("/v1/sims", params=params)
            except httpx.TransportError:
                continue
            if answer.status_code >= 500:
                continue
            assert answer.status_code == 200
            items.extend(answer.json())
            cursor = next_cursor(answer)
            if cursor is None:
                break
            params["last_evaluated_key"] = cursor
    assert items == clean


def test_stats_count_calls_by_operation(sandbox, api):
    before = sandbox.stats.calls["getLatestBilling"]
    api.get("/v1/bills/latest")
    api.get("/v1/bills/latest")
    assert sandbox.stats.calls["getLatestBilling"] == before + 2
    assert sandbox.stats.snapshot()["total_calls"] >= 2
