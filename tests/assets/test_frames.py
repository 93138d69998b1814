"""Records and CSVs -> typed frames: unknown fields are kept, money stays exact, shapes fail loudly."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import polars as pl
import pytest

from assets import audit_logs, billing, sessions, traffic
from assets.frames import money_values, records_frame
from assets.partitions import daily_partitions, hourly_partitions, window_for

DAY = window_for(daily_partitions, "2026-11-29")


def test_unknown_top_level_and_nested_fields_land_in_extra() -> None:
    records = [
        {
            "time": DAY.start_ms + 5,
            "event": "Created",
            "simId": "1",
            "cell": {"mcc": 440, "nci": 7},
            "newField": [1],
        },
        {"time": DAY.start_ms + 9, "event": "Deleted", "simId": "1"},
    ]
    frame = sessions.events_frame(records, DAY)
    extra = frame.sort("time_ms")["_extra"].to_list()
    assert json.loads(extra[0]) == {"cell": {"nci": 7}, "newField": [1]}
    assert extra[1] is None
    assert frame.sort("time_ms")["cell_mcc"].to_list() == [440, None]


def test_handled_keys_are_not_extra() -> None:
    frame = records_frame([{"a": 1, "tags": {"x": "y"}}], {"a": pl.Int64}, handled=("tags",))
    assert frame["_extra"].to_list() == [None]


def test_a_value_of_the_wrong_type_fails_naming_the_shape() -> None:
    with pytest.raises(ValueError, match="expected shape"):
        records_frame([{"time": "yesterday"}], {"time": pl.Int64})


def test_session_events_outside_the_window_and_duplicates_are_dropped() -> None:
    event = {"time": DAY.start_ms, "event": "Created", "simId": "9", "sessionId": "s"}
    records = [event, dict(event), {**event, "time": DAY.end_ms}, {**event, "time": DAY.start_ms - 1}]
    frame = sessions.events_frame(records, DAY)
    assert frame["time_ms"].to_list() == [DAY.start_ms]
    assert frame["time"].to_list() == [DAY.start]


def test_money_from_json_floats_is_the_printed_decimal() -> None:
    series = money_values("amount", [0.1, 70680.80366707, 5, None, "1.000000000001"])
    assert series.to_list()[:2] == [Decimal("0.1"), Decimal("70680.80366707")]
    assert series.to_list()[2:] == [Decimal(5), None, Decimal("1.000000000001")]
    with pytest.raises(ValueError, match="expected an amount"):
        money_values("amount", [True])


def test_air_usage_csv_reads_by_header_keeps_tags_and_filters_the_day() -> None:
    csv = (
        "\ufeffdate,imsi,type,uploadByteSizeTotal,uploadPacketCountTotal,downloadByteSizeTotal,"
        "downloadPacketCountTotal,name,site\r\n"
        "20261129,001,s1.fast,10,1,20,2,meter,Tokyo\r\n"
        "20261130,001,s1.fast,99,9,99,9,meter,Tokyo\r\n"
    ).encode()
    frame = traffic.usage_frame(csv, DAY, "day")
    assert frame.select("imsi", "speed_class", "upload_bytes", "download_packets").rows() == [
        ("001", "s1.fast", 10, 2)
    ]
    assert json.loads(frame["_extra"][0]) == {"name": "meter", "site": "Tokyo"}


def test_header_only_export_is_an_empty_partition() -> None:
    frame = traffic.usage_frame("\ufeffimsi,date,type\r\n".encode(), DAY, "minutes")
    assert frame.height == 0 and "unixtime" in frame.columns


def test_billing_csv_types_money_exactly_and_keeps_monthly_lines() -> None:
    csv = (
        "\ufeffimsi,vpgId,date,billItemName,unitPrice,quantity,amount,name\r\n"
        "001,,20261101,Air data usage (s1.slow),0.0000002,2231545,0.446309,meter\r\n"
        ",vpg-1,202611,VPG Type-E basic fee,40,744,29760,\r\n"
    ).encode()
    frame = billing.items_frame(csv, "202611", preliminary=True)
    rows = frame.select("imsi", "vpg_id", "date", "date_text", "unit_price", "amount").rows()
    assert rows[0] == (
        "001",
        None,
        datetime(2026, 11, 1).date(),
        "20261101",
        Decimal("0.0000002"),
        Decimal("0.446309"),
    )
    assert rows[1][:4] == (None, "vpg-1", None, "202611")
    assert frame["preliminary"].to_list() == [True, True]


def test_api_audit_log_reads_both_spellings_of_the_time() -> None:
    hour = window_for(hourly_partitions, "2026-11-29-03:00")
    records = [
        {"requestedTimeEpochMs": hour.start_ms + 1, "requestPath": "/v1/auth"},
        {"requestedTimeEpocMs": hour.start_ms + 2, "requestPath": "/v1/sims", "statusCode": 200},
    ]
    frame = audit_logs.api_frame(records, hour)
    assert sorted(frame["requested_time_ms"].to_list()) == [hour.start_ms + 1, hour.start_ms + 2]
    assert frame["requested_time"].dt.convert_time_zone("UTC").min() == datetime.fromtimestamp(
        (hour.start_ms + 1) / 1000, UTC
    )
