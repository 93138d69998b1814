"""Typing of API answers, without a server: a record lacking its time or key fails naming the
call and the field (never dropped by the window filter), and every typing error names the
call that answered. The sandbox-level versions of these are in `test_bad_input.py`."""

from __future__ import annotations

import polars as pl
import pytest

from assets import audit_logs, billing, harvest, sessions, traffic
from assets.frames import AnswerError, records_frame
from assets.partitions import daily_partitions, hourly_partitions, window_for

pytestmark = pytest.mark.reliability

DAY = window_for(daily_partitions, "2026-11-28")
HOUR = window_for(hourly_partitions, "2026-11-28-10:00")


def event(**fields: object) -> dict[str, object]:
    return {"time": DAY.start_ms + 1, "event": "Created", "simId": "1", "sessionId": "s", **fields}


def test_a_null_time_fails_instead_of_falling_out_of_the_window() -> None:
    records = [event(), event(time=None, sessionId="t"), {k: v for k, v in event().items() if k != "time"}]
    with pytest.raises(AnswerError) as caught:
        sessions.events_frame(records, DAY)
    message = str(caught.value)
    assert message.startswith("listSimSessionEvents: ")
    assert "'time' in 2 of 3 records (missing or null)" in message
    assert "partition was not loaded" in message


def test_every_lacking_field_is_named_with_its_count() -> None:
    with pytest.raises(AnswerError, match=r"'simId' in 1 of 2, 'event' in 2 of 2 records"):
        sessions.events_frame([event(event=None), event(simId=None, event=None)], DAY)


def test_records_outside_the_window_are_still_dropped_quietly() -> None:
    """The window filter keeps its job: boundary records are not an error."""
    frame = sessions.events_frame([event(), event(time=DAY.end_ms, sessionId="late")], DAY)
    assert frame["time_ms"].to_list() == [DAY.start_ms + 1]


@pytest.mark.parametrize(
    ("build", "call"),
    [
        (
            lambda: harvest.entries_frame([{"resourceType": "Sim", "resourceId": "1", "time": None}], DAY),
            "getDataEntries",
        ),
        (
            lambda: audit_logs.api_frame([{"apiKind": "/v1/auth", "requestPath": "/v1/auth"}], HOUR),
            "getApiAuditLogs",
        ),
        (lambda: audit_logs.napter_frame([{"type": "x", "createdAt": None}], HOUR), "getNapterAuditLogs"),
        (lambda: billing.daily_bills_frame([{"amount": 1, "currency": "JPY"}], True), "getBillingPerDay"),
        (lambda: billing.bills_frame([{"amount": 1}], [True], "getLatestBilling"), "getLatestBilling"),
    ],
    ids=["harvest", "api_audit", "napter_audit", "daily_bills", "bills"],
)
def test_each_source_names_its_call(build: object, call: str) -> None:
    with pytest.raises(AnswerError, match=rf"^{call}: records lack the required field"):
        build()  # type: ignore[operator]


def test_the_old_spelling_of_the_audit_time_still_counts() -> None:
    frame = audit_logs.api_frame([{"requestedTimeEpocMs": HOUR.start_ms, "requestPath": "/v1/auth"}], HOUR)
    assert frame["requested_time_ms"].to_list() == [HOUR.start_ms]


def test_a_lone_surrogate_names_the_call_and_utf8() -> None:
    with pytest.raises(AnswerError, match=r"^getDataEntries: the answer holds text that is not valid UTF-8"):
        records_frame([{"content": "a\ud800"}], {"content": pl.Utf8}, call="getDataEntries")


def test_a_wrong_type_names_the_call() -> None:
    with pytest.raises(AnswerError, match=r"^listSims: the answer does not match the expected shape"):
        records_frame([{"createdTime": "yesterday"}], {"createdTime": pl.Int64}, call="listSims")


def test_csv_typing_errors_name_the_export() -> None:
    header = ",".join(traffic.KNOWN).encode() + b"\n"
    with pytest.raises(AnswerError, match=r"^exportAirStats: .*not UTF-8"):
        traffic.usage_frame(header + b"0010,20261128,s1.fast,1,1,1,1\xff\x81\n", DAY, "day")
    with pytest.raises(AnswerError, match=r"^exportAirStats: .*expected shape"):
        traffic.usage_frame(header + b"0010,20261128,s1.fast,many,1,1,1\n", DAY, "day")
    with pytest.raises(AnswerError, match=r"^exportLatestBilling: .*not UTF-8"):
        billing.items_frame(b"billItemName,amount\nx,1\xff\n", "202611", True, "exportLatestBilling")
