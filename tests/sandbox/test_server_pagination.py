"""Cursor pagination: both header styles, limits and defaults, short pages, sort, windows."""

from __future__ import annotations

import httpx
import pytest

from sandbox.openapi import load_spec
from sandbox.server import OPERATIONS
from sandbox.server.paging import NEXT_PAGE_STYLE
from sandbox.world import retention
from tests.conftest import follow_pages, next_cursor

DAY_MS = 86_400_000


def _busy_sim(sandbox, min_events: int = 8) -> str:
    """A SIM with enough recent session events to span several pages."""
    world = sandbox.world
    since = world.now_ms - 7 * DAY_MS
    for sim_id in world.sim_ids("jp"):
        if len(world.session_events(sim_id, since, world.now_ms)) >= min_events:
            return sim_id
    pytest.fail("no SIM with enough session events in the sandbox world")


def _harvest_sim(sandbox, min_entries: int = 30) -> str:
    world = sandbox.world
    since = world.now_ms - 7 * DAY_MS
    for resource in world.harvest_resources("jp"):
        if resource["resourceType"] != "Sim":
            continue
        entries = world.harvest_entries("Sim", resource["resourceId"], since, world.now_ms)
        if len(entries) >= min_entries:
            return resource["resourceId"]
    pytest.fail("no SIM with enough Harvest entries in the sandbox world")


def test_sims_pages_cover_every_sim_once_in_order(sandbox, api):
    items, responses = follow_pages(api, "/v1/sims", {"limit": 17})
    assert [s["simId"] for s in items] == list(sandbox.world.sim_ids("jp"))
    assert len(responses) > 200 // 17
    for response in responses[:-1]:  # listSims answers with both headers
        assert response.headers["x-soracom-next-key"]
        assert response.headers["link"].startswith("</v1/sims?")
        assert response.headers["link"].endswith(">; rel=next")
        assert "limit=17" in response.headers["link"]
    assert "x-soracom-next-key" not in responses[-1].headers
    assert "link" not in responses[-1].headers


def test_some_pages_are_shorter_than_limit_even_when_more_follow(sandbox, api):
    _, responses = follow_pages(api, "/v1/sims", {"limit": 9})
    short = [r for r in responses[:-1] if len(r.json()) < 9]
    assert short, "expected at least one short page before the last"
    assert all(len(r.json()) >= 1 for r in responses[:-1])


def test_short_pages_can_be_switched_off(sandbox, api):
    with sandbox.configured(short_pages=False):
        _, responses = follow_pages(api, "/v1/sims", {"limit": 9})
    assert all(len(r.json()) == 9 for r in responses[:-1])


def test_subscribers_page_with_both_headers(sandbox, api):
    items, responses = follow_pages(api, "/v1/subscribers", {"limit": 30})
    assert len(responses) > 1
    for response in responses[:-1]:
        assert response.headers["x-soracom-next-key"]
        assert "rel=next" in response.headers["link"]
    imsis = [s["imsi"] for s in items]
    assert imsis == sorted(imsis) and len(set(imsis)) == len(imsis)
    expected = set()
    for sim_id in sandbox.world.sim_ids("jp"):
        for profile in sandbox.world.sim(sim_id)["profiles"].values():
            expected.update(profile["subscribers"])
    assert set(imsis) == expected


def test_groups_page_with_next_key_header_only(sandbox, api):
    items, responses = follow_pages(api, "/v1/groups", {"limit": 1})
    assert [g["groupId"] for g in items] == [g["groupId"] for g in sandbox.world.groups("jp")]
    assert len(responses) == len(items) + (0 if len(responses) == len(items) else 1)
    for response in responses[:-1]:
        assert "link" not in response.headers
        assert response.headers["x-soracom-next-key"]


def test_every_paged_operation_sends_the_next_key_header_the_spec_names():
    """`x-soracom-cli-pagination` names `x-soracom-next-key` for every paged operation; a `link`
    header is added where the operation's description promises one."""
    spec = load_spec()
    paged = {}
    for op in OPERATIONS:
        operation = spec["paths"][op.path][op.method.lower()]
        pagination = operation.get("x-soracom-cli-pagination")
        if pagination:
            assert pagination["response"]["header"] == "x-soracom-next-key", op.operation_id
            paged[op.operation_id] = (
                "both" if "link" in operation.get("description", "").lower() else "next-key"
            )
    assert paged == NEXT_PAGE_STYLE


@pytest.mark.parametrize(
    ("path", "limit"),
    [
        ("/v1/subscribers", 101),
        ("/v1/subscribers", 0),
        ("/v1/audit_logs/api", 1001),
        ("/v1/audit_logs/napter", 0),
        ("/v1/sims", -1),
        ("/v1/sims", "ten"),
    ],
)
def test_out_of_range_limit_is_a_400_with_error_body(api, path, limit):
    answer = api.get(path, params={"limit": limit})
    assert answer.status_code == 400
    assert set(answer.json()) == {"code", "message"}
    assert "limit" in answer.json()["message"]


def test_data_entries_limit_bounds_and_default_of_ten(sandbox, api):
    sim_id = _harvest_sim(sandbox)
    assert api.get(f"/v1/sims/{sim_id}/data", params={"limit": 1001}).status_code == 400
    assert api.get(f"/v1/sims/{sim_id}/data", params={"limit": 0}).status_code == 400
    with sandbox.configured(short_pages=False):
        first = api.get(f"/v1/sims/{sim_id}/data")
    assert len(first.json()) == 10
    assert next_cursor(first)


def test_data_entries_sort_and_full_window(sandbox, api):
    sim_id = _harvest_sim(sandbox)
    world = sandbox.world
    window = {"from": world.now_ms - 7 * DAY_MS, "to": world.now_ms}
    asc, _ = follow_pages(api, f"/v1/sims/{sim_id}/data", {**window, "sort": "asc", "limit": 7})
    desc, _ = follow_pages(api, f"/v1/sims/{sim_id}/data", {**window, "limit": 7})
    truth = world.harvest_entries("Sim", sim_id, window["from"], window["to"], sort="asc")
    assert asc == truth
    assert desc == list(reversed(truth))
    assert [e["time"] for e in asc] == sorted(e["time"] for e in asc)
    assert api.get(f"/v1/sims/{sim_id}/data", params={"sort": "up"}).status_code == 400


def test_data_entries_by_resource_path_match_the_sim_path(sandbox, api):
    sim_id = _harvest_sim(sandbox)
    world = sandbox.world
    window = {"from": world.now_ms - 2 * DAY_MS, "to": world.now_ms, "limit": 1000}
    by_sim, _ = follow_pages(api, f"/v1/sims/{sim_id}/data", window)
    by_resource, _ = follow_pages(api, f"/v1/data/Sim/{sim_id}", window)
    assert by_sim == by_resource
    assert api.get(f"/v1/data/Toaster/{sim_id}").status_code == 400


def test_session_events_page_newest_first_and_match_the_world(sandbox, api):
    sim_id = _busy_sim(sandbox)
    world = sandbox.world
    window = {"from": world.now_ms - 7 * DAY_MS, "to": world.now_ms}
    items, responses = follow_pages(api, f"/v1/sims/{sim_id}/events/sessions", {**window, "limit": 3})
    assert items == world.session_events(sim_id, window["from"], window["to"])
    assert len(responses) > 1
    times = [e["time"] for e in items]
    assert times == sorted(times, reverse=True)


def test_session_events_by_imsi_send_both_headers_and_accept_a_plain_time_key(sandbox, api):
    sim_id = _busy_sim(sandbox)
    world = sandbox.world
    imsi = world.sim(sim_id)["profiles"][next(iter(world.sim(sim_id)["profiles"]))]["primaryImsi"]
    window = {"from": world.now_ms - 7 * DAY_MS, "to": world.now_ms}
    items, responses = follow_pages(api, f"/v1/subscribers/{imsi}/events/sessions", {**window, "limit": 3})
    expected = [e for e in world.session_events(sim_id, window["from"], window["to"]) if e["imsi"] == imsi]
    assert items == expected
    assert len(responses) > 1
    assert all(r.headers["x-soracom-next-key"] and "link" in r.headers for r in responses[:-1])
    # the spec documents the key as "the time stamp of the last event": continue strictly before it
    last_time = expected[0]["time"]
    answer = api.get(
        f"/v1/subscribers/{imsi}/events/sessions", params={**window, "last_evaluated_key": str(last_time)}
    )
    assert all(e["time"] < last_time for e in answer.json())


def test_session_events_older_than_retention_are_not_returned(sandbox, api):
    sim_id = _busy_sim(sandbox)
    world = sandbox.world
    kept_from = world.now_ms - int(retention.SESSION_EVENTS.total_seconds() * 1000)
    items, _ = follow_pages(
        api, f"/v1/sims/{sim_id}/events/sessions", {"from": 0, "to": world.now_ms, "limit": 1000}
    )
    assert items == world.session_events(sim_id, kept_from, world.now_ms)
    assert all(e["time"] >= kept_from for e in items)


def test_from_and_to_are_milliseconds(sandbox, api):
    sim_id = _busy_sim(sandbox)
    world = sandbox.world
    seconds = {"from": (world.now_ms - 7 * DAY_MS) // 1000, "to": world.now_ms // 1000}
    assert api.get(f"/v1/sims/{sim_id}/events/sessions", params=seconds).json() == []


def test_to_before_from_is_a_400(sandbox, api):
    sim_id = _busy_sim(sandbox)
    answer = api.get(f"/v1/sims/{sim_id}/events/sessions", params={"from": 2000, "to": 1000})
    assert answer.status_code == 400


def test_a_foreign_cursor_is_a_400(api):
    answer = api.get("/v1/sims", params={"last_evaluated_key": "not-a-cursor"})
    assert answer.status_code == 400
    assert "last_evaluated_key" in answer.json()["message"]


def test_unknown_sim_is_a_404(api):
    answer = api.get("/v1/sims/0000000000000000000/events/sessions")
    assert answer.status_code == 404
    assert set(answer.json()) == {"code", "message"}


def test_repeat_cursor_setting_makes_a_looping_server(sandbox, api):
    with sandbox.configured(repeat_cursor=True):
        first = api.get("/v1/sims", params={"limit": 5})
        second = api.get("/v1/sims", params={"limit": 5, "last_evaluated_key": next_cursor(first)})
        third = api.get("/v1/sims", params={"limit": 5, "last_evaluated_key": next_cursor(second)})
    assert next_cursor(second) == next_cursor(first) == next_cursor(third)
    assert second.json() == third.json()


def test_data_source_resources_page_and_match_the_world(sandbox, api):
    items, responses = follow_pages(api, "/v1/data/resources", {"limit": 5})
    assert items == sandbox.world.harvest_resources("jp")
    assert len(responses) > 1
    assert all("x-soracom-next-key" in r.headers and "link" in r.headers for r in responses[:-1])
    sims_only, _ = follow_pages(api, "/v1/data/resources", {"resource_type": "Sim"})
    assert all(r["resourceType"] == "Sim" for r in sims_only)


def test_link_header_is_usable_as_is(sandbox, api):
    first = api.get("/v1/subscribers", params={"limit": 10})
    target = first.headers["link"].split(";")[0].strip("<>")
    second = httpx.get(sandbox.url + target, headers=dict(api.headers))
    assert second.status_code == 200
    assert second.json()[0]["imsi"] > first.json()[-1]["imsi"]


def test_session_events_accept_a_limit_above_1000_as_the_spec_sets_no_maximum(sandbox, api):
    sim_id = _busy_sim(sandbox)
    world = sandbox.world
    imsi = world.sim(sim_id)["profiles"][next(iter(world.sim(sim_id)["profiles"]))]["primaryImsi"]
    window = {"from": world.now_ms - 2 * DAY_MS, "to": world.now_ms, "limit": 5000}
    for path in (f"/v1/sims/{sim_id}/events/sessions", f"/v1/subscribers/{imsi}/events/sessions"):
        answer = api.get(path, params=window)
        assert answer.status_code == 200, (path, answer.text)


def test_sim_billing_summaries_are_the_top_100_not_paged(sandbox, api):
    answer = api.get("/v1/bills/summaries/sims")
    assert answer.status_code == 200
    assert "x-soracom-next-key" not in answer.headers and "link" not in answer.headers
    for month in answer.json():
        amounts = [b["amount"] for b in month["costBreakdownList"]]
        assert len(amounts) <= 100 and amounts == sorted(amounts, reverse=True)
    assert any(len(m["costBreakdownList"]) == 100 for m in answer.json()), "200 SIMs: some month is capped"
