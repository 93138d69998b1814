"""Every call the client makes is an operation of the vendored spec, with the same method and
path, and each time parameter is in the unit the spec states (seconds or milliseconds).

The client's helpers all run against the sandbox; the requests are recorded as they leave
httpx, so the test sees what goes on the wire, not what the code says it sends.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from pipelines.soracom import Credentials, SoracomClient
from sandbox.openapi import load_spec

TIME_NAMES = {"from", "to", "from_epoch_ms", "to_epoch_ms"}
# public methods of SoracomClient that are generic plumbing, not one operation's helper
GENERIC = {
    "export",
    "items",
    "pages",
    "raw_pages",
    "request",
    "request_raw",
    "request_json",
    "open",
    "aclose",
}
GENERIC |= {"iter_concurrent", "map_concurrent"}


def _spec_unit(description: str) -> str:
    text = description.lower()
    if "millisecond" in text:
        return "ms"
    if "second" in text:
        return "s"
    raise AssertionError(f"the spec states no unit: {description!r}")


def _unit_of(value: int) -> str:
    """Epoch values of this century: seconds are ~1e9-1e10, milliseconds ~1e12-1e13."""
    if 10**9 <= value < 10**11:
        return "s"
    if 10**12 <= value < 10**14:
        return "ms"
    raise AssertionError(f"{value} is in neither seconds nor milliseconds")


def _operations(spec: dict) -> list[tuple[str, re.Pattern[str], dict]]:
    out = []
    for template, methods in spec["paths"].items():
        pattern = re.compile("^" + re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(template)) + "$")
        for method, operation in methods.items():
            if isinstance(operation, dict) and "operationId" in operation:
                out.append((method.upper(), pattern, operation))
    # literal paths win over templated ones (/bills/latest before /bills/{yyyyMM})
    out.sort(key=lambda t: t[1].pattern.count("[^/]+"))
    return out


def _time_units(spec: dict, operation: dict) -> dict[str, str]:
    units = {
        p["name"]: _spec_unit(p.get("description", ""))
        for p in operation.get("parameters", [])
        if p.get("name") in TIME_NAMES
    }
    body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
    if body:
        while "$ref" in body:
            body = spec["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]
        for name, prop in body.get("properties", {}).items():
            if name in TIME_NAMES:
                units[f"body.{name}"] = _spec_unit(prop.get("description", ""))
    return units


async def _exercise(client: SoracomClient, world: Any, tmp: Any) -> set[str]:
    """Call every helper once; return the helper names called."""
    now = world.now
    day, hour = timedelta(days=1), timedelta(hours=1)
    sim_id = world.sim_ids("jp")[0]
    imsi = next(iter(world.sim(sim_id)["profiles"].values()))["primaryImsi"]
    group = world.groups("jp")[0]["groupId"]
    month = world.bill_months("jp")[1]

    async def drain(iterator: Any) -> None:
        async for _ in iterator:
            pass

    started: list[str] = []

    async def start_query() -> None:
        started.append(await client.start_query("SELECT * FROM SIM_SESSION_EVENTS", now - day, now))

    calls = {
        "list_sims": lambda: drain(client.list_sims()),
        "list_subscribers": lambda: drain(client.list_subscribers()),
        "list_groups": lambda: drain(client.list_groups()),
        "list_sim_session_events": lambda: drain(client.list_sim_session_events(sim_id, now - day, now)),
        "raw_sim_session_event_pages": lambda: drain(
            client.raw_sim_session_event_pages(sim_id, now - day, now)
        ),
        "list_subscriber_session_events": lambda: drain(
            client.list_subscriber_session_events(imsi, now - day, now)
        ),
        "get_air_stats_sim": lambda: client.get_air_stats_sim(sim_id, "day", now - day, now),
        "get_air_stats_operator": lambda: client.get_air_stats_operator("day", now - day, now),
        "get_air_stats_group": lambda: client.get_air_stats_group(group, "day", now - day, now),
        "export_air_usage": lambda: client.export_air_usage(now - day, now),
        "export_air_usage_to_file": lambda: client.export_air_usage_to_file(now - day, now, tmp / "u.csv"),
        "list_harvest_resources": lambda: drain(client.list_harvest_resources()),
        "list_harvest_entries": lambda: drain(client.list_harvest_entries("Sim", sim_id, now - day, now)),
        "list_api_audit_logs": lambda: drain(client.list_api_audit_logs(now - hour, now)),
        "list_napter_audit_logs": lambda: drain(client.list_napter_audit_logs(now - hour, now)),
        "list_bills": lambda: client.list_bills(),
        "get_bill": lambda: client.get_bill(month),
        "get_daily_bills": lambda: client.get_daily_bills(month),
        "get_latest_bill": lambda: client.get_latest_bill(),
        "export_bill": lambda: client.export_bill(month),
        "export_latest_bill": lambda: client.export_latest_bill(),
        "get_bill_item_summaries": lambda: client.get_bill_item_summaries(),
        "get_sim_bill_summaries": lambda: client.get_sim_bill_summaries(),
        "preflight": lambda: client.preflight(),
        "query_schemas": lambda: client.query_schemas(),
        "start_query": start_query,
        "get_query": lambda: client.get_query(started[0]),
        "run_query_to_file": lambda: client.run_query_to_file(
            "SELECT COUNT(*) AS N FROM SIM_SESSION_EVENTS", now - day, now, tmp / "q.csv.gz"
        ),
    }
    for call in calls.values():
        await call()
    return set(calls)


def test_every_client_call_is_a_spec_operation_with_times_in_the_specs_unit(sandbox, monkeypatch, tmp_path):
    sent: list[httpx.Request] = []
    original = httpx.AsyncClient.send

    async def recording_send(self, request, **kwargs):
        sent.append(request)
        return await original(self, request, **kwargs)

    monkeypatch.setattr(httpx.AsyncClient, "send", recording_send)
    credentials = Credentials.auth_key_pair(sandbox.settings.auth_key_id, sandbox.settings.auth_key)

    async def scenario() -> set[str]:
        async with SoracomClient(credentials, endpoint=sandbox.url) as client:
            return await _exercise(client, sandbox.world, tmp_path)

    with sandbox.configured(query_enabled=True):
        called = asyncio.run(scenario())
    helpers = {
        name
        for name, member in inspect.getmembers(SoracomClient)
        if not name.startswith("_") and callable(member) and name not in GENERIC
    }
    assert helpers == called, f"helpers not exercised here: {sorted(helpers - called)}"

    spec = load_spec()
    operations = _operations(spec)
    seen: set[str] = set()
    for request in sent:
        path = request.url.path
        if not path.startswith("/v1/"):
            continue  # export file downloads: a URL the API handed out, not an operation
        path = path[len("/v1") :]
        match = next(
            (op for method, pattern, op in operations if method == request.method and pattern.match(path)),
            None,
        )
        assert match is not None, f"{request.method} {path} is no operation of the spec"
        seen.add(match["operationId"])
        units = _time_units(spec, match)
        values = {k: v for k, v in request.url.params.items() if k in TIME_NAMES}
        if request.content:
            body = json.loads(request.content)
            values |= {f"body.{k}": v for k, v in body.items() if k in TIME_NAMES}
        for name, value in values.items():
            assert name in units, f"{match['operationId']}: {name} is not a parameter of the spec"
            assert _unit_of(int(value)) == units[name], (
                f"{match['operationId']} sends {name}={value}; the spec wants {units[name]}"
            )
    assert len(seen) >= 20, sorted(seen)


def test_the_unit_reader_tells_seconds_from_milliseconds():
    assert _unit_of(int(datetime(2026, 1, 1, tzinfo=UTC).timestamp())) == "s"
    assert _unit_of(int(datetime(2026, 1, 1, tzinfo=UTC).timestamp() * 1000)) == "ms"
    with pytest.raises(AssertionError):
        _unit_of(5)
