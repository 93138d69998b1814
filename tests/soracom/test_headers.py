"""Pure header logic: pagination cursors, retry waits, error bodies, backoff bounds."""

from __future__ import annotations

import random
import time

import httpx

from pipelines.soracom.errors import parse_error_body
from pipelines.soracom.pagination import next_link, next_page
from pipelines.soracom.retry import RetryBudget, backoff_delay, parse_retry_after, server_advised_wait


def test_next_key_header_wins_and_keeps_params():
    headers = httpx.Headers(
        {"X-Soracom-Next-Key": "abc", "Link": "</v1/sims?last_evaluated_key=zzz>; rel=next"}
    )
    page = next_page(headers, {"limit": 100, "skip": None})
    assert page is not None
    assert page.cursor == "abc"
    assert page.params == {"limit": "100", "last_evaluated_key": "abc"}


def test_link_header_query_is_used():
    headers = httpx.Headers(
        {"link": '</v1/data/x/y?from=1&to=2&last_evaluated_key=k%3D1&limit=10>; rel="next"'}
    )
    page = next_page(headers, {"from": 1, "to": 2, "limit": 1000, "sort": "asc"})
    assert page is not None
    assert page.cursor == "k=1"
    assert page.params == {"from": "1", "to": "2", "limit": "10", "sort": "asc", "last_evaluated_key": "k=1"}


def test_link_header_without_next_ends_paging():
    assert next_link('</v1/sims?x=1>; rel="prev", </v1/sims?x=2>; rel="first"') is None
    assert next_link('</a>; rel="prev", </b?last_evaluated_key=2>; rel="next"') == "/b?last_evaluated_key=2"
    assert next_page(httpx.Headers({}), {"limit": 1}) is None


def test_retry_after_forms():
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_retry_after("soon") is None
    headers = httpx.Headers({"Retry-After": "3", "X-Soracom-Ratelimit-Seconds-Before-Refresh": "12"})
    assert server_advised_wait(headers, 429) == 12.0
    assert server_advised_wait(headers, 503) == 3.0  # the refresh header is advice only on 429
    assert (
        server_advised_wait(httpx.Headers({"X-Soracom-Ratelimit-Seconds-Before-Refresh": "50"}), 500) is None
    )
    assert server_advised_wait(httpx.Headers({}), 429) is None


def test_both_error_body_shapes():
    assert parse_error_body(b'{"code":"AUM0001","message":"bad"}') == ("AUM0001", "bad")
    wrapped = b'{"httpStatus":429,"errorMessage":{"code":"COM0005","message":"slow down"}}'
    assert parse_error_body(wrapped) == ("COM0005", "slow down")
    assert parse_error_body(b"<html>Bad Gateway</html>") == (None, "<html>Bad Gateway</html>")
    assert parse_error_body(b"") == (None, None)


def test_backoff_is_full_jitter_and_capped():
    rng = random.Random(1)
    delays = [backoff_delay(n, 0.5, 4.0, rng) for n in range(1, 12) for _ in range(50)]
    assert all(0 <= d <= 4.0 for d in delays)
    assert max(backoff_delay(1, 0.5, 4.0, rng) for _ in range(100)) <= 0.5


def test_retry_budget_bounds_transient_faults_by_time_not_count():
    budget = RetryBudget(max_invalid=3, max_rate_limited=2, max_seconds=100, base_s=0.01, max_backoff_s=0.01)
    assert all(budget.next_delay("transient") is not None for _ in range(500))  # no cap on count
    assert budget.next_delay("invalid_answer") is not None
    assert budget.next_delay("invalid_answer") is not None
    assert budget.next_delay("invalid_answer") is None  # unusable answers: bounded by count
    slow = RetryBudget(max_invalid=10, max_rate_limited=10, max_seconds=5, base_s=0.01, max_backoff_s=0.01)
    assert slow.next_delay("rate_limited", advised_s=60) is None  # would exceed the time budget
    assert slow.next_delay("transient", advised_s=1) >= 1
    assert slow.next_delay("transient", advised_s=60) <= 5  # a last try at the deadline
    spent = RetryBudget(
        max_invalid=10, max_rate_limited=10, max_seconds=0.001, base_s=0.01, max_backoff_s=0.01
    )
    time.sleep(0.01)
    assert spent.next_delay("transient") is None
