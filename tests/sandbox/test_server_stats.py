"""Air stats calls (from/to in SECONDS), their retention 400s, and the Air usage export."""

from __future__ import annotations

import csv
import io

import httpx
import pytest

DAY_S = 86_400


def _now_s(sandbox) -> int:
    return sandbox.world.now_ms // 1000


def _active_sim(sandbox) -> str:
    world = sandbox.world
    for sim_id in world.sim_ids("jp"):
        stats = world.air_stats_sim(sim_id, "day", _now_s(sandbox) - 3 * DAY_S, _now_s(sandbox))
        if stats and world.sim(sim_id)["status"] != "terminated":
            return sim_id
    pytest.fail("no SIM with recent traffic")


@pytest.mark.parametrize(("period", "days"), [("minutes", 1), ("day", 5), ("month", 60)])
def test_air_stats_of_sim_match_the_world(sandbox, api, period, days):
    sim_id = _active_sim(sandbox)
    window = {"from": _now_s(sandbox) - days * DAY_S, "to": _now_s(sandbox), "period": period}
    answer = api.get(f"/v1/stats/air/sims/{sim_id}", params=window)
    assert answer.status_code == 200, answer.text
    assert answer.json() == sandbox.world.air_stats_sim(sim_id, period, window["from"], window["to"])
    assert answer.json(), "expected some traffic"


def test_air_stats_by_imsi_match_the_sim_stats(sandbox, api):
    sim_id = _active_sim(sandbox)
    sim = sandbox.world.sim(sim_id)
    imsi = next(iter(sim["profiles"].values()))["primaryImsi"]
    window = {"from": _now_s(sandbox) - 3 * DAY_S, "to": _now_s(sandbox), "period": "day"}
    by_imsi = api.get(f"/v1/stats/air/subscribers/{imsi}", params=window)
    assert by_imsi.status_code == 200
    by_sim = api.get(f"/v1/stats/air/sims/{sim_id}", params=window).json()
    if len(sim["profiles"]) == 1 and len(next(iter(sim["profiles"].values()))["subscribers"]) == 1:
        assert by_imsi.json() == by_sim


def test_air_stats_of_operator_and_group(sandbox, api):
    world = sandbox.world
    window = {"from": _now_s(sandbox) - 5 * DAY_S, "to": _now_s(sandbox), "period": "day"}
    operator = api.get(f"/v1/stats/air/operators/{sandbox.operator_id}", params=window)
    assert operator.status_code == 200
    assert operator.json() == world.air_stats_operator("jp", "day", window["from"], window["to"])
    group_id = world.groups("jp")[0]["groupId"]
    group = api.get(f"/v1/stats/air/groups/{group_id}", params=window)
    assert group.status_code == 200
    assert group.json() == world.air_stats_group(group_id, "day", window["from"], window["to"])
    assert api.get("/v1/stats/air/groups/nope", params=window).status_code == 404
    assert api.get("/v1/stats/air/operators/OP9999999999", params=window).status_code == 404


@pytest.mark.parametrize(
    ("scope", "period", "days_back"),
    [
        ("sim", "minutes", 33),
        ("sim", "day", 600),
        ("operator", "day", 9),
        ("operator", "month", 130),
        ("group", "day", 9),
    ],
)
def test_windows_older_than_retention_are_a_400_wrapped_error(sandbox, api, scope, period, days_back):
    world = sandbox.world
    path = {
        "sim": f"/v1/stats/air/sims/{world.sim_ids('jp')[0]}",
        "operator": f"/v1/stats/air/operators/{sandbox.operator_id}",
        "group": f"/v1/stats/air/groups/{world.groups('jp')[0]['groupId']}",
    }[scope]
    answer = api.get(
        path, params={"from": _now_s(sandbox) - days_back * DAY_S, "to": _now_s(sandbox), "period": period}
    )
    assert answer.status_code == 400
    body = answer.json()
    assert body["httpStatus"] == 400
    assert "out of range" in body["errorMessage"]["message"]


def test_milliseconds_where_seconds_are_expected_is_a_400(sandbox, api):
    sim_id = sandbox.world.sim_ids("jp")[0]
    now_ms = sandbox.world.now_ms
    answer = api.get(
        f"/v1/stats/air/sims/{sim_id}", params={"from": now_ms - 86_400_000, "to": now_ms, "period": "day"}
    )
    assert answer.status_code == 400
    assert "SECONDS" in answer.json()["errorMessage"]["message"]


@pytest.mark.parametrize(
    "params",
    [
        {"from": 1, "to": 2},
        {"from": 1, "period": "day"},
        {"to": 1, "period": "day"},
        {"from": 1, "to": 2, "period": "week"},
    ],
)
def test_missing_or_bad_stats_parameters_are_a_400(sandbox, api, params):
    sim_id = sandbox.world.sim_ids("jp")[0]
    answer = api.get(f"/v1/stats/air/sims/{sim_id}", params=params)
    assert answer.status_code == 400
    assert answer.json()["errorMessage"]["code"]


def test_minutes_are_not_offered_for_operator_stats(sandbox, api):
    answer = api.get(
        f"/v1/stats/air/operators/{sandbox.operator_id}",
        params={"from": _now_s(sandbox) - 3600, "to": _now_s(sandbox), "period": "minutes"},
    )
    assert answer.status_code == 400


def test_air_usage_export_sync_is_the_worlds_csv_with_bom(sandbox, api):
    body = {"from": _now_s(sandbox) - 3 * DAY_S, "to": _now_s(sandbox), "period": "day"}
    answer = api.post(f"/v1/stats/air/operators/{sandbox.operator_id}/export", json=body)
    assert answer.status_code == 200
    assert set(answer.json()) == {"url"}
    download = httpx.get(answer.json()["url"])  # no Soracom headers: a presigned-like URL
    assert download.status_code == 200
    assert download.content.startswith(b"\xef\xbb\xbf")
    assert download.content == sandbox.world.air_usage_csv("jp", "day", body["from"], body["to"])
    rows = list(csv.DictReader(io.StringIO(download.content.decode("utf-8-sig"))))
    assert rows and {"imsi", "date", "type"} <= set(rows[0])


def test_air_usage_export_checks_its_body(sandbox, api):
    path = f"/v1/stats/air/operators/{sandbox.operator_id}/export"
    assert api.post(path, json={"from": 1, "period": "day"}).status_code == 400
    assert api.post(path, json={"from": 1, "to": 2, "period": "year"}).status_code == 400
    old = {"from": _now_s(sandbox) - 40 * DAY_S, "to": _now_s(sandbox), "period": "minutes"}
    assert api.post(path, json=old).status_code == 400


def test_terminated_sims_show_no_stats_but_are_in_the_export(sandbox, api):
    world = sandbox.world
    now_s = _now_s(sandbox)
    window = {"from": now_s - 300 * DAY_S, "to": now_s, "period": "month"}
    for sim_id in world.sim_ids("jp"):
        sim = world.sim(sim_id)
        if sim["status"] == "terminated" and world.air_stats_sim(
            sim_id, "month", window["from"], window["to"]
        ):
            break
    else:
        pytest.fail("no terminated SIM with traffic in this world")
    assert api.get(f"/v1/stats/air/sims/{sim_id}", params=window).json() == []
    imsi = next(iter(sim["profiles"].values()))["primaryImsi"]
    assert api.get(f"/v1/stats/air/subscribers/{imsi}", params=window).json() == []
    rows = world.air_usage_rows("jp", "month", window["from"], window["to"])
    assert any(row["imsi"] == imsi for row in rows)
