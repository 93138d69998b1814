"""Schemathesis, driven by the vendored official spec, against the sandbox: every operation the
sandbox serves, generated requests (valid and invalid), zero 500s, zero response-schema
violations, and every status the spec does not document listed with its reason in
`schemathesis_allowlist.yaml`.

Bounded: a few examples per operation, so the whole run takes about a minute.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from sandbox.openapi import load_spec
from sandbox.server import OPERATIONS
from sandbox.testing import SandboxHandle, start_sandbox

ALLOWLIST_PATH = Path(__file__).with_name("schemathesis_allowlist.yaml")
NOW = datetime(2026, 11, 30, 6, tzinfo=UTC)
EXAMPLES = 25


def _allowlist() -> dict[str, dict[int, str]]:
    raw = yaml.safe_load(ALLOWLIST_PATH.read_text(encoding="utf-8")) or {}
    return {op: {int(status): reason for status, reason in entries.items()} for op, entries in raw.items()}


ALLOWED = _allowlist()
SCHEMA = schemathesis.openapi.from_dict(load_spec()).include(
    operation_id=[op.operation_id for op in OPERATIONS]
)


@pytest.fixture(scope="module")
def fuzzed() -> Iterator[tuple[SandboxHandle, dict[str, str]]]:
    with start_sandbox(sims=30, seed=3, now=NOW, short_pages=False, query_enabled=True) as handle:
        answer = httpx.post(handle.url + "/v1/auth", json=handle.credentials, timeout=30)
        body = answer.json()
        yield handle, {"X-Soracom-API-Key": body["apiKey"], "X-Soracom-Token": body["token"]}


def _use_real_ids(case: schemathesis.Case, handle: SandboxHandle) -> None:
    """Give every other case ids that exist, so the generated windows, limits and cursors reach
    the code that answers data (with random ids nearly every call is a 404)."""
    world, params = handle.world, case.path_parameters or {}
    if "operator_id" in params:
        params["operator_id"] = world.operator_id
    draw = zlib.crc32(repr(case.query).encode() + repr(case.body).encode())
    if draw % 2 == 0:
        return
    sim_id = world.sim_ids("jp")[draw // 2 % len(world.sim_ids("jp"))]
    real = {
        "sim_id": sim_id,
        "imsi": next(iter(world.sim(sim_id)["profiles"].values()))["primaryImsi"],
        "group_id": world.groups("jp")[0]["groupId"],
        "yyyyMM": world.bill_months("jp")[1],
        "resource_type": "Sim",
        "resource_id": sim_id,
    }
    for name in params:
        if name in real:
            params[name] = real[name]
    if case.operation.path.startswith("/stats/"):  # a window Soracom keeps, in seconds
        window = {"from": world.now_ms // 1000 - 3 * 86_400, "to": world.now_ms // 1000}
        if isinstance(case.body, dict):
            case.body.update(window)
        elif case.query is not None and "from" in case.query:
            case.query.update(window)


@SCHEMA.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_the_sandbox_answers_as_the_spec_says(case: schemathesis.Case, fuzzed: Any) -> None:
    handle, headers = fuzzed
    _use_real_ids(case, handle)
    response = case.call(base_url=handle.url + "/v1", headers=headers, timeout=30)
    operation = case.operation.definition.raw["operationId"]
    assert response.status_code < 500, f"{operation}: {response.status_code} {response.text[:300]}"
    status = response.status_code
    allowed = {**ALLOWED.get("*", {}), **ALLOWED.get(operation, {})}
    checks = [not_a_server_error, response_schema_conformance]
    if status not in allowed:
        checks.append(status_code_conformance)
    case.validate_response(response, checks=checks, headers=headers)


def test_the_allowlist_names_served_operations_and_undocumented_statuses() -> None:
    spec = load_spec()
    served = {op.operation_id: op for op in OPERATIONS}
    for operation, statuses in ALLOWED.items():
        assert all(reason.strip() for reason in statuses.values()), f"{operation}: a status without a reason"
        if operation == "*":
            continue
        assert operation in served, f"{operation} is not an operation the sandbox serves"
        op = served[operation]
        documented = {int(s) for s in spec["paths"][op.path][op.method.lower()]["responses"] if s.isdigit()}
        assert not set(statuses) & documented, f"{operation}: {set(statuses) & documented} is documented"
