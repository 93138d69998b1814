"""Audit logs: the API log shows the caller's own calls (paid-option behaviour); Napter log."""

from __future__ import annotations

from sandbox.world.api_audit import entry_time_ms
from tests.conftest import follow_pages

HOUR_MS = 3_600_000


def test_api_audit_log_shows_our_own_calls(sandbox, api):
    marker_path = f"/v1/sims/{sandbox.world.sim_ids('jp')[3]}/events/sessions"
    assert api.get(marker_path).status_code == 200
    logs = api.get("/v1/audit_logs/api", params={"limit": 1000}).json()
    ours = [e for e in logs if e.get("requestPath") == marker_path]
    assert ours, "the call just made should be in the API audit log"
    entry = ours[0]
    assert entry["apiKind"] == "/v1/sims"
    assert entry["operatorId"] == sandbox.operator_id
    assert entry["statusCode"] == 200
    assert entry["requestedTimeEpochMs"] >= sandbox.world.now_ms


def test_api_audit_log_records_the_auth_call_and_sam_user(sandbox):
    import httpx

    sam = sandbox.all_credentials["sam"]
    token = httpx.post(sandbox.url + "/v1/auth", json=sam).json()
    headers = {"X-Soracom-API-Key": token["apiKey"], "X-Soracom-Token": token["token"]}
    logs = httpx.get(
        sandbox.url + "/v1/audit_logs/api", params={"api_kind": "/v1/auth"}, headers=headers
    ).json()
    assert logs and all(e["apiKind"] == "/v1/auth" for e in logs)
    assert any(e.get("userName") == sam["userName"] for e in logs)


def test_api_audit_log_pages_with_next_key_and_matches_the_world(sandbox, api):
    world = sandbox.world
    window = {"from_epoch_ms": world.now_ms - 6 * HOUR_MS, "to_epoch_ms": world.now_ms}
    items, responses = follow_pages(api, "/v1/audit_logs/api", {**window, "limit": 7})
    assert items == world.api_audit_logs("jp", window["from_epoch_ms"], window["to_epoch_ms"])
    assert len(responses) > 1
    assert all("link" not in r.headers for r in responses)
    times = [entry_time_ms(e) for e in items]
    assert times == sorted(times, reverse=True)


def test_api_audit_log_accepts_a_plain_time_as_key(sandbox, api):
    world = sandbox.world
    window = {"from_epoch_ms": world.now_ms - 6 * HOUR_MS, "to_epoch_ms": world.now_ms}
    first = api.get("/v1/audit_logs/api", params={**window, "limit": 5}).json()
    last_time = entry_time_ms(first[-1])
    rest = api.get("/v1/audit_logs/api", params={**window, "last_evaluated_key": str(last_time)}).json()
    assert rest and all(entry_time_ms(e) < last_time for e in rest)


def test_api_audit_log_keeps_only_its_retention(sandbox, api):
    world = sandbox.world
    items, _ = follow_pages(
        api, "/v1/audit_logs/api", {"from_epoch_ms": 0, "to_epoch_ms": world.now_ms, "limit": 1000}
    )
    oldest = min(entry_time_ms(e) for e in items)
    assert oldest >= world.now_ms - 24 * HOUR_MS


def test_napter_audit_log_matches_the_world(sandbox, api):
    world = sandbox.world
    window = {"from": world.now_ms - 24 * HOUR_MS, "to": world.now_ms}
    items, _ = follow_pages(api, "/v1/audit_logs/napter", {**window, "limit": 4})
    assert items == world.napter_audit_logs("jp", window["from"], window["to"])
    if items:
        imsi = items[0]["imsi"]
        only, _ = follow_pages(
            api, "/v1/audit_logs/napter", {**window, "resource_type": "Subscriber", "resource_id": imsi}
        )
        assert only and all(e["imsi"] == imsi for e in only)


def test_paging_the_growing_api_audit_log_never_repeats_or_skips(sandbox, api):
    """Each page call is itself recorded; cursors keep later pages stable anyway."""
    world = sandbox.world
    since = world.now_ms - 6 * HOUR_MS
    items, responses = follow_pages(api, "/v1/audit_logs/api", {"from_epoch_ms": since, "limit": 5})
    assert len(responses) > 3
    times = [entry_time_ms(e) for e in items]
    assert times == sorted(times, reverse=True)
    first_time = times[0]
    older = [e for e in items if entry_time_ms(e) < first_time]
    assert older == world.api_audit_logs("jp", since, first_time)


def test_recording_calls_can_be_switched_off(sandbox, api):
    marker_path = f"/v1/sims/{sandbox.world.sim_ids('jp')[5]}/data"

    def recorded() -> int:
        logs, _ = follow_pages(api, "/v1/audit_logs/api", {"limit": 1000})
        return sum(e.get("requestPath") == marker_path for e in logs)

    before = recorded()
    with sandbox.configured(record_calls=False):
        assert api.get(marker_path).status_code == 200
    assert recorded() == before
    assert api.get(marker_path).status_code == 200
    assert recorded() == before + 1
