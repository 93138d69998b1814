"""Two coverages on one server: jp at /v1, g at /g/v1, authenticated separately."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from sandbox.testing import SandboxHandle, start_sandbox
from tests.conftest import SANDBOX_NOW, authenticated_client, follow_pages


@pytest.fixture(scope="module")
def both() -> Iterator[SandboxHandle]:
    with start_sandbox(sims=40, seed=7, now=SANDBOX_NOW, coverage="both") as handle:
        yield handle


def test_each_coverage_lists_only_its_own_sims(both):
    for coverage in ("jp", "g"):
        with authenticated_client(both.url_for(coverage), both.credentials) as client:
            items, _ = follow_pages(client, "/v1/sims", {"limit": 10})
        assert [s["simId"] for s in items] == list(both.world.sim_ids(coverage))
    assert both.url_for("g") == both.url + "/g"


def test_a_token_of_one_coverage_does_not_open_the_other(both):
    with authenticated_client(both.url_for("jp"), both.credentials) as jp:
        assert jp.get(both.url_for("g") + "/v1/groups").status_code == 401
        assert jp.get("/v1/groups").status_code == 200


def test_a_sim_of_the_other_coverage_is_404(both):
    g_sim = both.world.sim_ids("g")[0]
    with authenticated_client(both.url_for("jp"), both.credentials) as jp:
        assert jp.get(f"/v1/sims/{g_sim}/events/sessions").status_code == 404


def test_billing_currency_differs_by_coverage(both):
    with authenticated_client(both.url_for("g"), both.credentials) as g:
        latest = g.get("/v1/bills/latest").json()
    assert latest == both.world.latest_bill("g")
    assert latest["currency"] == "USD"


def test_audit_log_records_calls_in_their_own_coverage(both):
    with authenticated_client(both.url_for("g"), both.credentials) as g:
        g.get("/v1/bills/latest")
        logs = g.get("/v1/audit_logs/api", params={"api_kind": "/v1/bills"}).json()
    assert logs[0]["requestPath"] == "/v1/bills/latest"  # without the /g routing prefix
    assert logs[0]["apiKind"] == "/v1/bills"


def test_a_coverage_not_served_is_refused(sandbox):
    with pytest.raises(ValueError, match="not 'g'"):
        sandbox.url_for("g")
    assert httpx.post(sandbox.url + "/g/v1/auth", json=sandbox.credentials).status_code == 404


def test_unknown_api_is_a_json_404(sandbox, api):
    answer = api.get("/v1/no_such_thing")
    assert answer.status_code == 404
    assert set(answer.json()) == {"code", "message"}
    assert api.delete("/v1/sims").status_code == 405


def test_an_export_is_only_visible_in_its_own_coverage(both):
    with (
        authenticated_client(both.url_for("g"), both.credentials) as g,
        authenticated_client(both.url_for("jp"), both.credentials) as jp,
    ):
        file_id = g.post("/v1/bills/latest/export", params={"export_mode": "async"}).json()["exportedFileId"]
        assert g.get(f"/v1/files/exported/{file_id}").status_code == 200
        assert jp.get(f"/v1/files/exported/{file_id}").status_code == 404
