"""Bad input from the API: each sandbox mode (sandbox/server/badinput.py) either loads
correctly (compared with the ground truth, transformed the same way) or fails that
partition with an error naming the call and the problem, leaving data already loaded
byte-for-byte untouched."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from assets import audit_logs, billing, harvest, inventory, sessions, traffic
from assets.partitions import daily_partitions, hourly_partitions, last_days, monthly_partitions, window_for
from assets.tables import source
from pipelines.lake import Lake
from sandbox.server import badinput
from sandbox.testing import SandboxHandle, start_sandbox
from tests.assets import truth
from tests.reliability import harness

pytestmark = [pytest.mark.reliability, pytest.mark.integration]

SIMS = 40


@pytest.fixture(scope="module")
def now() -> datetime:
    """The module's one instant: the sandboxes' and the pipeline's clock (`res`), and what `day`
    is counted from, so a run that crosses midnight UTC does not load a snapshot day that the
    pipeline's wall clock already calls too old."""
    return datetime.now(UTC).replace(second=0, microsecond=0)


@pytest.fixture(scope="module")
def box(now: datetime) -> Iterator[SandboxHandle]:
    with start_sandbox(sims=SIMS, seed=5, now=now, coverage="jp") as handle:
        yield handle


@pytest.fixture(scope="module")
def day(now: datetime) -> str:
    return last_days(now, 1)[0]


@pytest.fixture(scope="module")
def previous_month(now: datetime) -> str:
    """The month before the previous one: always closed (the previous one is not on the first
    1-3 days of a month, and Soracom refuses its billing CSV until then)."""
    before = (now.replace(day=1) - timedelta(days=1)).replace(day=1) - timedelta(days=1)
    return before.replace(day=1).strftime("%Y-%m-%d")


def res(box: SandboxHandle, root: Path) -> dict[str, Any]:
    return harness.resources({"jp": box.url}, box.credentials, root, now=box.world.now)


def load(box: SandboxHandle, root: Path, asset: Any, key: str, **bad: Any) -> Any:
    with box.configured(**bad):
        return harness.materialize([asset], key, res(box, root))


def assert_fails_cleanly(
    box: SandboxHandle, root: Path, asset: Any, key: str, expected: list[str], **bad: Any
) -> str:
    """Load `key` well, then again under `bad`: the second run fails naming `expected`
    (every string), and the lake is byte-for-byte as the good run left it."""
    first = harness.materialize([asset], key, res(box, root))
    assert first.success, harness.failure_messages(first)
    before = harness.file_digests(root / "lake")
    assert before, "the good run must have written a partition"
    served = box.stats.bad_inputs
    result = load(box, root, asset, key, **bad)
    assert box.stats.bad_inputs > served, "the bad-input mode was never exercised"
    assert not result.success
    message = " | ".join(harness.failure_messages(result))
    for text in expected:
        assert text in message, f"{text!r} not in the error: {message}"
    assert harness.file_digests(root / "lake") == before, "a failed run changed loaded data"
    return message


def rows(lake: Lake, table: str, columns: list[str], **filters: object) -> list[tuple]:
    return truth.lake_rows(lake, table, columns, "jp", **filters)


def daily_window(key: str) -> Any:
    return window_for(daily_partitions, key)


# --- JSON bodies that are not JSON ------------------------------------------------------------


@pytest.mark.parametrize("mode", ["not_json", "html_200", "truncated"])
def test_a_body_that_is_not_json_fails_the_partition(
    box: SandboxHandle, tmp_path: Path, day: str, mode: str
) -> None:
    message = assert_fails_cleanly(
        box,
        tmp_path,
        sessions.session_events,
        day,
        ["listSimSessionEvents", "GET /sims/{sim_id}/events/sessions", "not JSON"],
        bad_input=mode,
        bad_input_operations="listSimSessionEvents",
    )
    if mode == "html_200":
        assert "text/html" in message


# --- fields: missing, new, wrong types ----------------------------------------------------------


def test_a_missing_optional_field_loads_as_null(box: SandboxHandle, tmp_path: Path, day: str) -> None:
    result = load(
        box,
        tmp_path,
        sessions.session_events,
        day,
        bad_input="missing_fields",
        bad_input_operations="listSimSessionEvents",
        bad_input_fields="imei",
    )
    assert result.success, harness.failure_messages(result)
    lake = Lake(tmp_path / "lake")
    want = truth.expected_session_events(box.world, "jp", daily_window(day))
    assert rows(lake, "session_events", truth.SESSION_COLUMNS, date=daily_window(day).start.date()) == want
    assert want and lake.read(sessions.SPEC)["imei"].null_count() == len(want)


@pytest.mark.parametrize(
    ("mode", "field"),
    [
        ("missing_fields", "time"),
        ("null_values", "time"),
        ("null_values", "simId"),
        ("missing_fields", "event"),
    ],
)
def test_a_missing_or_null_key_field_fails_the_partition(
    box: SandboxHandle, tmp_path: Path, day: str, mode: str, field: str
) -> None:
    assert_fails_cleanly(
        box,
        tmp_path,
        sessions.session_events,
        day,
        ["listSimSessionEvents", field],
        bad_input=mode,
        bad_input_operations="listSimSessionEvents",
        bad_input_fields=field,
    )


def _hour_with_api_audit_entries(box: SandboxHandle) -> str:
    """The newest closed hour in which the World holds API audit entries."""
    now = box.world.now
    for key in reversed(hourly_partitions.get_partition_keys(current_time=now)[-23:]):
        window = window_for(hourly_partitions, key)
        if window.end <= now and truth.expected_api_audit(box.world, "jp", window):
            return key
    raise AssertionError("the World holds no API audit entry in the last 23 hours")


@pytest.mark.parametrize(
    ("asset", "operation", "mode", "field"),
    [
        (harvest.harvest_entries, "getDataEntries", "null_values", "time"),
        (harvest.harvest_entries, "getDataEntries", "null_values", "resourceId"),
        (inventory.sims, "listSims", "null_values", "simId"),
        (inventory.groups, "listGroups", "missing_fields", "groupId"),
        (audit_logs.api_audit_logs, "getApiAuditLogs", "missing_fields", "requestedTimeEpochMs"),
        (billing.bills, "getBilling", "null_values", "yearMonth"),
    ],
    ids=[
        "harvest-time",
        "harvest-resourceId",
        "sims-simId",
        "groups-groupId",
        "api_audit-time",
        "bills-yearMonth",
    ],
)
def test_a_key_field_missing_in_any_source_fails_naming_the_call(
    box: SandboxHandle,
    tmp_path: Path,
    day: str,
    previous_month: str,
    asset: Any,
    operation: str,
    mode: str,
    field: str,
) -> None:
    """Rows are never dropped for lacking their time or key: the partition fails instead."""
    key = {
        "api_audit_logs": lambda: _hour_with_api_audit_entries(box),
        "bills": lambda: previous_month,
    }.get(asset.key.to_user_string(), lambda: day)()
    assert_fails_cleanly(
        box,
        tmp_path,
        asset,
        key,
        [operation, field, "missing or null"],
        bad_input=mode,
        bad_input_operations=operation,
        bad_input_fields=field,
    )


def test_unexpected_new_fields_are_kept_in_extra(box: SandboxHandle, tmp_path: Path, day: str) -> None:
    result = load(
        box,
        tmp_path,
        sessions.session_events,
        day,
        bad_input="extra_fields",
        bad_input_operations="listSimSessionEvents",
    )
    assert result.success, harness.failure_messages(result)
    lake = Lake(tmp_path / "lake")
    want = truth.expected_session_events(box.world, "jp", daily_window(day))
    assert rows(lake, "session_events", truth.SESSION_COLUMNS, date=daily_window(day).start.date()) == want
    extras = lake.read(sessions.SPEC)["_extra"].to_list()
    assert want and all(json.loads(e) == badinput.EXTRA_VALUES for e in extras)


def test_a_number_sent_as_a_string_loads_or_fails_clearly(
    box: SandboxHandle, tmp_path: Path, day: str
) -> None:
    """`"time": "1764460800000"`: the value is unambiguous, so it loads as the number it is."""
    result = load(
        box,
        tmp_path,
        sessions.session_events,
        day,
        bad_input="number_as_string",
        bad_input_operations="listSimSessionEvents",
        bad_input_fields="time",
    )
    if not result.success:
        message = " | ".join(harness.failure_messages(result))
        assert "listSimSessionEvents" in message and "time" in message, message
        return
    lake = Lake(tmp_path / "lake")
    want = truth.expected_session_events(box.world, "jp", daily_window(day))
    assert rows(lake, "session_events", truth.SESSION_COLUMNS, date=daily_window(day).start.date()) == want


def test_a_number_sent_as_a_string_in_a_snapshot_loads_as_the_number(
    box: SandboxHandle, tmp_path: Path, day: str
) -> None:
    """`createdTime` of every SIM as a string: typed back to the same epoch milliseconds."""
    result = load(
        box,
        tmp_path,
        inventory.sims,
        day,
        bad_input="number_as_string",
        bad_input_operations="listSims",
        bad_input_fields="createdTime",
    )
    assert result.success, harness.failure_messages(result)
    sims = Lake(tmp_path / "lake").read(inventory.SIMS_SPEC)
    want = {s["simId"]: s.get("createdTime") for s in box.world.sims(box.world.sim_ids("jp"))}
    assert dict(zip(sims["sim_id"], sims["created_time_ms"], strict=True)) == want


# --- identifiers -------------------------------------------------------------------------------


def test_identifiers_with_leading_zeros_stay_strings(box: SandboxHandle, tmp_path: Path, day: str) -> None:
    with box.configured(bad_input="leading_zero_ids"):
        for asset in (sessions.session_events, traffic.air_traffic_daily):
            result = harness.materialize([asset], day, res(box, tmp_path))
            assert result.success, harness.failure_messages(result)
    lake = Lake(tmp_path / "lake")
    w = daily_window(day)

    def zeroed(rows_: list[tuple], at: int) -> list[tuple]:
        return truth.sort_rows([(*r[:at], badinput.with_leading_zeros(r[at]), *r[at + 1 :]) for r in rows_])

    want = zeroed(truth.expected_session_events(box.world, "jp", w), 4)
    assert rows(lake, "session_events", truth.SESSION_COLUMNS, date=w.start.date()) == want
    want = zeroed(truth.expected_air_daily(box.world, "jp", w), 0)
    assert rows(lake, "air_traffic_daily", truth.AIR_DAILY_COLUMNS, date=w.start.date()) == want
    assert want and all(r[0].startswith("00") for r in want)


# --- CSV exports ---------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["csv_no_bom", "csv_tag_collision", "csv_extra_columns"])
def test_csv_variants_load_exactly(
    box: SandboxHandle, tmp_path: Path, day: str, previous_month: str, mode: str
) -> None:
    with box.configured(bad_input=mode):
        for asset, key in ((traffic.air_traffic_daily, day), (billing.billing_items, previous_month)):
            result = harness.materialize([asset], key, res(box, tmp_path))
            assert result.success, (mode, harness.failure_messages(result))
    lake = Lake(tmp_path / "lake")
    w = daily_window(day)
    want = truth.expected_air_daily(box.world, "jp", w)
    assert want and rows(lake, "air_traffic_daily", truth.AIR_DAILY_COLUMNS, date=w.start.date()) == want
    m = window_for(monthly_partitions, previous_month)
    want = truth.expected_billing_items(box.world, "jp", m.yyyymm)
    assert want and rows(lake, "billing_items", truth.ITEM_COLUMNS, month=m.start.strftime("%Y-%m")) == want
    extras = [json.loads(e) for e in lake.read(traffic.DAILY_SPEC)["_extra"].to_list()]
    if mode == "csv_tag_collision":  # tag columns renamed imsi/date/type survive under suffixed names
        assert all({"imsi_2", "date_2", "type_2"} <= set(e) for e in extras)
    if mode == "csv_extra_columns":
        assert all(badinput.CSV_NEW_MIDDLE in e and badinput.CSV_NEW_LAST in e for e in extras)


def test_a_header_only_csv_loads_an_empty_partition(box: SandboxHandle, tmp_path: Path, day: str) -> None:
    result = load(box, tmp_path, traffic.air_traffic_daily, day, bad_input="csv_header_only")
    assert result.success, harness.failure_messages(result)
    lake = Lake(tmp_path / "lake")
    partition = {"date": daily_window(day).start.date()}
    assert lake.has_partition(traffic.DAILY_SPEC, partition)  # "loaded, no rows", not "never loaded"
    assert lake.read(traffic.DAILY_SPEC).height == 0


def test_a_csv_that_is_not_utf8_fails_the_partition(box: SandboxHandle, tmp_path: Path, day: str) -> None:
    assert_fails_cleanly(
        box,
        tmp_path,
        traffic.air_traffic_daily,
        day,
        ["exportAirStats", "not UTF-8", "partition was not loaded"],
        bad_input="csv_non_utf8",
    )


def test_a_billing_csv_that_is_not_utf8_fails_naming_the_export(
    box: SandboxHandle, tmp_path: Path, previous_month: str
) -> None:
    assert_fails_cleanly(
        box,
        tmp_path,
        billing.billing_items,
        previous_month,
        ["exportBilling", "not UTF-8"],
        bad_input="csv_non_utf8",
    )


# --- Harvest content -----------------------------------------------------------------------------


def _harvest_truth(box: SandboxHandle, key: str, change: Any) -> list[tuple]:
    w = daily_window(key)
    out = []
    for resource in box.world.harvest_resources("jp"):
        for e in box.world.harvest_entries(
            resource["resourceType"], resource["resourceId"], w.start_ms, w.end_ms
        ):
            out.append((e["resourceType"], e["resourceId"], e["time"], change(e)))
    return truth.sort_rows(out)


@pytest.mark.parametrize(
    ("mode", "change"),
    [
        ("harvest_huge", lambda e: badinput.corrupt_harvest_entry(e, "harvest_huge")["content"]),
        ("harvest_not_json", lambda e: badinput.not_json_content(e.get("content"))),
    ],
)
def test_odd_harvest_content_is_stored_verbatim(
    box: SandboxHandle, tmp_path: Path, day: str, mode: str, change: Any
) -> None:
    result = load(box, tmp_path, harvest.harvest_entries, day, bad_input=mode)
    assert result.success, harness.failure_messages(result)
    lake = Lake(tmp_path / "lake")
    want = _harvest_truth(box, day, change)
    assert (
        want
        and rows(lake, "harvest_entries", truth.HARVEST_COLUMNS, date=daily_window(day).start.date()) == want
    )
    if mode == "harvest_huge":
        sizes = lake.read(harvest.SPEC)["content"].str.len_bytes()
        assert sizes.max() > badinput.HUGE_BYTES, "at least one entry must have been inflated"


def test_binary_harvest_content_loads_or_fails_clearly(box: SandboxHandle, tmp_path: Path, day: str) -> None:
    """All 256 byte values plus a lone surrogate (not encodable as UTF-8): the partition
    either stores the content losslessly or fails naming the call and the problem."""
    result = load(box, tmp_path, harvest.harvest_entries, day, bad_input="harvest_binary")
    lake = Lake(tmp_path / "lake")
    if result.success:
        content = lake.read(harvest.SPEC)["content"]
        assert content.len() > 0
        assert all(c.startswith(badinput.binary_content()[:256]) for c in content.to_list())
        return
    message = " | ".join(harness.failure_messages(result))
    assert "getDataEntries" in message and "UTF-8" in message, message
    assert not list((tmp_path / "lake").rglob("*.parquet"))


# --- pagination and exports that never end --------------------------------------------------------


def test_a_repeating_cursor_fails_instead_of_looping(tmp_path: Path, day: str, now: datetime) -> None:
    with start_sandbox(sims=250, seed=5, now=now, coverage="jp") as big:  # more than one page of SIMs
        first = harness.materialize([inventory.sims], day, res(big, tmp_path))
        assert first.success, harness.failure_messages(first)
        before = harness.file_digests(tmp_path / "lake")
        with big.configured(repeat_cursor=True):
            result = harness.materialize([inventory.sims], day, res(big, tmp_path))
    assert not result.success
    message = " | ".join(harness.failure_messages(result))
    assert "listSims" in message and "a second time" in message, message
    assert harness.file_digests(tmp_path / "lake") == before


@pytest.mark.parametrize(
    ("outcome", "expected"), [("processing", "still 'processing'"), ("failed", "failed on the server")]
)
def test_an_export_that_never_finishes_fails_the_partition(
    box: SandboxHandle, tmp_path: Path, day: str, outcome: str, expected: str
) -> None:
    first = harness.materialize([traffic.air_traffic_daily], day, res(box, tmp_path))
    assert first.success, harness.failure_messages(first)
    before = harness.file_digests(tmp_path / "lake")
    # async, the mode these outcomes apply to (the loaded day would size a sync export otherwise)
    resources = harness.resources(
        {"jp": box.url}, box.credentials, tmp_path, now=box.world.now, export_sync_max_rows=0
    )
    with box.configured(export_outcome=outcome, export_delay_s=0.2):
        result = harness.materialize([traffic.air_traffic_daily], day, resources)
    assert not result.success
    message = " | ".join(harness.failure_messages(result))
    assert "exportAirStats" in message and expected in message, message
    assert harness.file_digests(tmp_path / "lake") == before


def test_sims_table_reads_back_typed(box: SandboxHandle, tmp_path: Path, day: str) -> None:
    """Control: the same sandbox without bad input loads the snapshot exactly."""
    result = harness.materialize([inventory.sims], day, res(box, tmp_path))
    assert result.success
    lake = Lake(tmp_path / "lake")
    want = truth.expected_sims(box.world, "jp")
    assert rows(lake, "sims", truth.SIMS_COLUMNS, date=daily_window(day).start.date()) == want
    assert lake.read(source("sims").spec).schema["sim_id"] == pl.String
