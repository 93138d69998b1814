"""Every object the world returns validates against the official OpenAPI schema, with no stray keys."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from openapi_schema_validator import OAS30Validator

from sandbox.openapi import load_spec
from sandbox.world import World

NOW = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)
DAY_MS = 86_400_000
# keys the official example shows but the schema does not list (documented quirk)
EXAMPLE_ONLY_KEYS = {"APIAuditLogEntry": {"requestedTimeEpocMs", "statusCode"}}


def _components() -> dict[str, Any]:
    return load_spec()["components"]


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = _components()["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _stray_keys(instance: Any, schema: dict[str, Any], path: str, allowed_extra: set[str]) -> list[str]:
    schema = _resolve(schema)
    out: list[str] = []
    if isinstance(instance, dict):
        props = schema.get("properties")
        if props is not None:
            out += [f"{path}.{k}" for k in instance if k not in props and k not in allowed_extra]
            for k, v in instance.items():
                if k in props:
                    out += _stray_keys(v, props[k], f"{path}.{k}", set())
        elif isinstance(schema.get("additionalProperties"), dict):
            for k, v in instance.items():
                out += _stray_keys(v, schema["additionalProperties"], f"{path}.{k}", set())
    elif isinstance(instance, list) and "items" in schema:
        for n, v in enumerate(instance):
            out += _stray_keys(v, schema["items"], f"{path}[{n}]", set())
    return out


def check(instance: Any, name: str) -> None:
    schema = {"$ref": f"#/components/schemas/{name}", "components": _components()}
    errors = sorted(OAS30Validator(schema).iter_errors(instance), key=str)
    assert not errors, f"{name}: {errors[0].message} at {list(errors[0].absolute_path)}"
    stray = _stray_keys(instance, _components()["schemas"][name], name, EXAMPLE_ONLY_KEYS.get(name, set()))
    assert not stray, f"keys not in the {name} schema: {stray}"


@pytest.fixture(scope="module")
def world() -> World:
    return World(seed=11, sims=150, now=NOW, coverages=("jp", "g"))


def _busy_sim(world: World, cov: str) -> str:
    for sim_id in world.sim_ids(cov):
        if world.air_stats_sim(sim_id, "day", world.now_ms // 1000 - 86400, world.now_ms // 1000):
            return sim_id
    raise AssertionError("no SIM with traffic yesterday")


@pytest.mark.parametrize("cov", ["jp", "g"])
def test_inventory_objects(world, cov):
    sims = world.sims(world.sim_ids(cov))
    for sim in sims:
        check(sim, "Sim")
        for profile in sim["profiles"].values():
            for imsi in profile["subscribers"]:
                check(world.subscriber(imsi), "Subscriber")
    statuses = {s["status"] for s in sims}
    assert "active" in statuses and len(statuses) >= 3
    assert any("previousSession" in s for s in sims)
    assert any(s["sessionStatus"]["online"] for s in sims)
    for group in world.groups(cov):
        check(group, "Group")


@pytest.mark.parametrize("cov", ["jp", "g"])
def test_activity_objects(world, cov):
    sim_id = _busy_sim(world, cov)
    now_s = world.now_ms // 1000
    events = world.session_events(sim_id, world.now_ms - 3 * DAY_MS, world.now_ms)
    assert events
    for e in events:
        check(e, "SessionEvent")
    for period, span in (("minutes", 3600), ("day", 5 * 86400), ("month", 60 * 86400)):
        items = world.air_stats_sim(sim_id, period, now_s - span, now_s)
        assert items, period
        for item in items:
            check(item, "AirStatsResponse")
    for period in ("day", "month"):
        for item in world.air_stats_operator(cov, period, now_s - 5 * 86400, now_s):
            check(item, "AirAggregatedStatsResponse")
    for res in world.harvest_resources(cov):
        check(res, "DataResourceMetadata")
        for entry in world.harvest_entries(
            res["resourceType"], res["resourceId"], world.now_ms - DAY_MS, world.now_ms
        ):
            check(entry, "DataEntry")
    logs = world.napter_audit_logs(cov, world.now_ms - 2 * DAY_MS, world.now_ms)
    assert logs
    for entry in logs:
        check(entry, "NapterAuditLogEntry")
    for entry in world.api_audit_logs(cov, world.now_ms - DAY_MS, world.now_ms):
        check(entry, "APIAuditLogEntry")


@pytest.mark.parametrize("cov", ["jp", "g"])
def test_billing_objects(world, cov):
    months = world.bill_months(cov)
    assert len(months) == 18
    check({"billList": [world.monthly_bill(cov, m) for m in months]}, "GetBillingHistoryResponse")
    check(world.latest_bill(cov), "GetLatestBill")
    check({"billList": world.daily_bills(cov, months[1])}, "DailyBillResponse")
    for summary in world.bill_item_summaries(cov):
        check(summary, "BillingSummaryResponseOfBillItems")
    for summary in world.sim_bill_summaries(cov):
        check(summary, "BillingSummaryResponseOfSims")
    assert world.monthly_bill(cov, months[0])["currency"] == ("JPY" if cov == "jp" else "USD")


def test_the_checker_rejects_wrong_shapes():
    with pytest.raises(AssertionError, match="not in the"):
        check({"yearMonth": "202501", "amount": 1.0, "total": 3}, "MonthlyBill")
    with pytest.raises(AssertionError):
        check({"time": "1700000000000"}, "SessionEvent")
