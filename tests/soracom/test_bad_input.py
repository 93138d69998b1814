"""Answers that break the contract: non-JSON 200s and odd CSV exports (sandbox `bad_input`)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from pipelines.soracom import SoracomRetryError, parse_csv

from .conftest import make_client, run

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("mode", ["html_200", "not_json", "truncated"])
def test_non_json_200_is_retried_then_named(sandbox, creds, mode):
    sandbox.settings.update({"bad_input": mode, "bad_input_operations": "listGroups"})

    async def scenario():
        async with make_client(sandbox, creds, max_attempts=3) as c:
            await c.request_json("GET", "/groups", operation="listGroups")

    with pytest.raises(SoracomRetryError) as info:
        run(scenario())
    text = str(info.value)
    assert "listGroups (GET /groups)" in text
    assert "not JSON" in text
    assert info.value.attempts == 3
    if mode == "html_200":
        assert "text/html" in text


@pytest.mark.parametrize("mode", ["csv_no_bom", "csv_header_only", "csv_tag_collision"])
def test_csv_variants_parse_by_header(sandbox, creds, mode):
    world = sandbox.world
    month = world.bill_months("jp")[1]
    expected_columns = parse_csv(world.billing_csv("jp", month)).columns
    sandbox.settings.update({"bad_input": mode})

    async def scenario():
        async with make_client(sandbox, creds) as c:
            return await c.export_bill(month)

    frame = parse_csv(run(scenario()))
    if mode == "csv_header_only":
        assert frame.height == 0 and "billItemName" in frame.columns
    else:
        assert frame.height == len(world.billing_rows("jp", month))
    assert len(set(frame.columns)) == len(frame.columns)
    if mode == "csv_tag_collision":
        assert frame.columns[:-3] == expected_columns[:-3]
        assert frame.columns[-3:] == [f"{name}_2" for name in expected_columns[:3]]
    else:
        assert frame.columns == expected_columns


def test_non_utf8_csv_is_a_clear_error(sandbox, creds):
    world = sandbox.world
    sandbox.settings.update({"bad_input": "csv_non_utf8"})

    async def scenario():
        async with make_client(sandbox, creds) as c:
            return await c.export_air_usage(world.now - timedelta(days=2), world.now)

    with pytest.raises(ValueError, match="not UTF-8"):
        parse_csv(run(scenario()))
