"""Every operation the sandbox serves answers as the official OpenAPI file says.

Routes are checked against the spec's paths, methods and operationIds; every 200 body
(every page of the lists) is validated against the operation's response schema, `$ref`s
resolved against the spec's components; error bodies against `APICallError` /
`APICallErrorMessage`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from openapi_schema_validator import OAS30Validator

from sandbox.openapi import load_spec
from sandbox.server import OPERATIONS
from tests.conftest import authenticated_client, follow_pages

DAY_S = 86_400


@pytest.fixture(autouse=True)
def _query_enabled(sandbox: Any) -> Any:
    """The Analysis operations answer only an operator with Soracom Query (off by default)."""
    with sandbox.configured(query_enabled=True):
        yield


DAY_MS = 86_400_000


@pytest.fixture(scope="session")
def spec() -> dict[str, Any]:
    return load_spec()


def validator_for(spec: dict, schema: dict) -> OAS30Validator:
    return OAS30Validator({**schema, "components": spec["components"]})


def response_schema(spec: dict, op_path: str, method: str, status: str = "200") -> dict:
    operation = spec["paths"][op_path][method.lower()]
    return operation["responses"][status]["content"]["application/json"]["schema"]


def assert_valid(spec: dict, schema: dict, body: Any, where: str) -> None:
    errors = list(validator_for(spec, schema).iter_errors(body))
    assert not errors, f"{where}: {errors[0].message} at {list(errors[0].absolute_path)}"


def test_every_route_is_an_operation_of_the_spec(spec):
    for op in OPERATIONS:
        assert op.path in spec["paths"], op.path
        operation = spec["paths"][op.path].get(op.method.lower())
        assert operation is not None, f"{op.method} {op.path} is not in the spec"
        assert operation["operationId"] == op.operation_id


def _ids(sandbox) -> dict[str, Any]:
    world = sandbox.world
    now_s = world.now_ms // 1000
    busy = None
    for sim_id in world.sim_ids("jp"):
        if world.session_events(sim_id, world.now_ms - 3 * DAY_MS, world.now_ms):
            busy = sim_id
            break
    harvest = next(r for r in world.harvest_resources("jp") if r["resourceType"] == "Sim")
    harvest_sim = world.sim(harvest["resourceId"])
    return {
        "sim": busy,
        "imsi": next(iter(world.sim(busy)["profiles"].values()))["primaryImsi"],
        "harvest_sim": harvest["resourceId"],
        "harvest_imsi": next(iter(harvest_sim["profiles"].values()))["primaryImsi"],
        "group": world.groups("jp")[0]["groupId"],
        "month": world.bill_months("jp")[1],
        "day_window": {"from": now_s - 3 * DAY_S, "to": now_s, "period": "day"},
        "minutes_window": {"from": now_s - DAY_S, "to": now_s, "period": "minutes"},
        "month_window": {"from": now_s - 60 * DAY_S, "to": now_s, "period": "month"},
        "ms_window": {"from": world.now_ms - 3 * DAY_MS, "to": world.now_ms},
    }


# operationId -> how to call it: (method, concrete path, params, json body, paged?)
Case = Callable[[Any, dict], tuple[str, str, dict, Any, bool]]
CASES: dict[str, Case] = {
    "auth": lambda sb, ids: ("POST", "/v1/auth", {}, sb.credentials, False),
    "generateAuthToken": lambda sb, ids: ("POST", f"/v1/operators/{sb.operator_id}/token", {}, {}, False),
    "listSims": lambda sb, ids: ("GET", "/v1/sims", {"limit": 50}, None, True),
    "listSubscribers": lambda sb, ids: ("GET", "/v1/subscribers", {"limit": 100}, None, True),
    "listGroups": lambda sb, ids: ("GET", "/v1/groups", {}, None, True),
    "listSimSessionEvents": lambda sb, ids: (
        "GET",
        f"/v1/sims/{ids['sim']}/events/sessions",
        ids["ms_window"],
        None,
        True,
    ),
    "listSessionEvents": lambda sb, ids: (
        "GET",
        f"/v1/subscribers/{ids['imsi']}/events/sessions",
        ids["ms_window"],
        None,
        True,
    ),
    "getAirStatsOfSim": lambda sb, ids: (
        "GET",
        f"/v1/stats/air/sims/{ids['sim']}",
        ids["minutes_window"],
        None,
        False,
    ),
    "getAirStats": lambda sb, ids: (
        "GET",
        f"/v1/stats/air/subscribers/{ids['imsi']}",
        ids["month_window"],
        None,
        False,
    ),
    "getAirStatsOfOperator": lambda sb, ids: (
        "GET",
        f"/v1/stats/air/operators/{sb.operator_id}",
        ids["day_window"],
        None,
        False,
    ),
    "getAirStatsOfGroup": lambda sb, ids: (
        "GET",
        f"/v1/stats/air/groups/{ids['group']}",
        ids["day_window"],
        None,
        False,
    ),
    "exportAirStats": lambda sb, ids: (
        "POST",
        f"/v1/stats/air/operators/{sb.operator_id}/export",
        {"export_mode": "async"},
        ids["day_window"],
        False,
    ),
    "listDataSourceResources": lambda sb, ids: ("GET", "/v1/data/resources", {}, None, True),
    "getDataEntries": lambda sb, ids: (
        "GET",
        f"/v1/data/Sim/{ids['harvest_sim']}",
        {**ids["ms_window"], "limit": 1000},
        None,
        True,
    ),
    "getDataFromSim": lambda sb, ids: (
        "GET",
        f"/v1/sims/{ids['harvest_sim']}/data",
        {**ids["ms_window"], "sort": "asc", "limit": 1000},
        None,
        True,
    ),
    "getDataFromSubscriber": lambda sb, ids: (
        "GET",
        f"/v1/subscribers/{ids['harvest_imsi']}/data",
        {**ids["ms_window"], "limit": 1000},
        None,
        True,
    ),
    "getApiAuditLogs": lambda sb, ids: ("GET", "/v1/audit_logs/api", {"limit": 1000}, None, True),
    "getNapterAuditLogs": lambda sb, ids: ("GET", "/v1/audit_logs/napter", {"limit": 1000}, None, True),
    "getLogs": lambda sb, ids: ("GET", "/v1/logs", {"limit": 1000}, None, True),
    "getBillingHistory": lambda sb, ids: ("GET", "/v1/bills", {}, None, False),
    "getBilling": lambda sb, ids: ("GET", f"/v1/bills/{ids['month']}", {}, None, False),
    "getBillingPerDay": lambda sb, ids: ("GET", f"/v1/bills/{ids['month']}/daily", {}, None, False),
    "getLatestBilling": lambda sb, ids: ("GET", "/v1/bills/latest", {}, None, False),
    "exportBilling": lambda sb, ids: ("POST", f"/v1/bills/{ids['month']}/export", {}, None, False),
    "exportLatestBilling": lambda sb, ids: (
        "POST",
        "/v1/bills/latest/export",
        {"export_mode": "async"},
        None,
        False,
    ),
    "getBillingSummaryOfBillItems": lambda sb, ids: (
        "GET",
        "/v1/bills/summaries/bill_items",
        {},
        None,
        False,
    ),
    "getBillingSummaryOfSims": lambda sb, ids: ("GET", "/v1/bills/summaries/sims", {}, None, False),
    "startAnalysisQueries": lambda sb, ids: (
        "POST",
        "/v1/analysis/queries",
        {},
        {
            "sql": "SELECT * FROM SIM_SESSION_EVENTS LIMIT 10",
            **{k: v // 1000 for k, v in ids["ms_window"].items()},
        },
        False,
    ),
    "getAnalysisSchemas": lambda sb, ids: ("GET", "/v1/analysis/schemas", {}, None, False),
}
POLLED = {"getExportedFile", "getAnalysisQueries"}  # answers depend on a job: tested on their own


def test_every_operation_has_a_conformance_case():
    served = {op.operation_id for op in OPERATIONS}
    assert served - POLLED == set(CASES)


@pytest.mark.parametrize(
    "op", [op for op in OPERATIONS if op.operation_id in CASES], ids=lambda op: op.operation_id
)
def test_answers_match_the_response_schema(spec, sandbox, api, op):
    method, path, params, body, paged = CASES[op.operation_id](sandbox, _ids(sandbox))
    schema = response_schema(spec, op.path, op.method)
    if paged:
        items, responses = follow_pages(api, path, params)
        assert items, f"{op.operation_id} returned nothing to validate"
        for response in responses:
            assert_valid(spec, schema, response.json(), op.operation_id)
        return
    response = api.request(method, path, params=params, json=body)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    payload = response.json()
    assert payload or payload == [], op.operation_id
    assert_valid(spec, schema, payload, op.operation_id)


def test_exported_file_answers_match_the_schema(spec, sandbox, api):
    schema = response_schema(spec, "/files/exported/{exported_file_id}", "GET")
    with sandbox.configured(export_delay_s=0.2):
        started = api.post("/v1/bills/latest/export", params={"export_mode": "async"}).json()
        processing = api.get(f"/v1/files/exported/{started['exportedFileId']}").json()
    assert_valid(spec, schema, processing, "getExportedFile (processing)")
    with sandbox.configured(export_delay_s=0.0):
        started = api.post("/v1/bills/latest/export", params={"export_mode": "async"}).json()
        exported = api.get(f"/v1/files/exported/{started['exportedFileId']}").json()
    assert exported["status"] == "exported"
    assert_valid(spec, schema, exported, "getExportedFile (exported)")


def test_analysis_query_answers_match_the_schema(spec, sandbox, api):
    schema = response_schema(spec, "/analysis/queries/{query_id}", "GET")
    window = {k: v // 1000 for k, v in _ids(sandbox)["ms_window"].items()}
    started = api.post("/v1/analysis/queries", json={"sql": "SELECT * FROM SIM_SESSION_EVENTS", **window})
    answers: list[dict] = []
    while not answers or answers[-1]["status"] != "COMPLETED":
        assert len(answers) < 600, answers[-1]
        time.sleep(0.05 if answers else 0)
        answers.append(api.get(f"/v1/analysis/queries/{started.json()['queryId']}").json())
    for answer in answers:
        assert_valid(spec, schema, answer, f"getAnalysisQueries ({answer['status']})")
    assert {"url", "rowCount", "columnInfo", "fileSize"} <= set(answers[-1])


def test_error_bodies_match_the_error_schemas(spec, sandbox, api):
    wrapped = {"$ref": "#/components/schemas/APICallError"}
    simple = {"$ref": "#/components/schemas/APICallErrorMessage"}
    sim_id = sandbox.world.sim_ids("jp")[0]
    stats_error = api.get(f"/v1/stats/air/sims/{sim_id}", params={"from": 0, "to": 1, "period": "day"})
    assert stats_error.status_code == 400
    assert_valid(spec, wrapped, stats_error.json(), "stats 400")
    assert_valid(spec, simple, httpx.get(sandbox.url + "/v1/sims").json(), "401")
    assert_valid(spec, simple, api.get("/v1/subscribers", params={"limit": 101}).json(), "400")
    with authenticated_client(sandbox.url, sandbox.credentials) as client:
        sandbox.expire_tokens()
        expired = client.post(f"/v1/operators/{sandbox.operator_id}/token", json={})
    assert expired.status_code == 400
    assert_valid(
        spec, response_schema(spec, "/operators/{operator_id}/token", "POST", "400"), expired.json(), "token"
    )
    with sandbox.configured(error_rate=1.0):
        injected = api.get("/v1/groups")
    assert_valid(spec, wrapped, injected.json(), "injected 5xx")
