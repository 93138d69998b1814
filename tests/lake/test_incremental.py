"""Partitioned marts on a generic lake (local and S3): one file per month of days, only the days
whose inputs changed are recomputed (their month file rewritten with the other days kept), a
trailing window reaches the days after a change, and a full refresh over the result finds every
file already right (same bytes)."""

import datetime as dt
import re
from pathlib import Path

import polars as pl
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from pipelines.lake import Lake, ModelError, build_model, discover_models
from pipelines.lake.incremental import STATE_FILE, MartBuild
from tests.lake.conftest import DEVICES, USAGE, usage_frame

TABLES = ("usage", "devices")
DAYS = [dt.date(2024, 3, d) for d in range(1, 5)]

STG_DEVICES = "-- Devices\nSELECT device_id, name FROM devices\n"
DAILY = """-- Bytes per device and day
-- grain: date, device_id
-- not null: date, device_id
-- partitioned by: day(date)
-- partition inputs: usage(date)
-- dimensions: stg_devices(device_id, name)
SELECT u.date, u.device_id, d.name, CAST(sum(u.bytes_up) AS BIGINT) AS bytes
FROM usage AS u LEFT JOIN stg_devices AS d USING (device_id)
GROUP BY ALL
"""
ROLLING = """-- Bytes per device over the day and the day before
-- grain: date, device_id
-- not null: date, device_id
-- partitioned by: day(date)
-- partition inputs: daily_bytes(date) 0..1
SELECT a.date, a.device_id, CAST(sum(b.bytes) AS BIGINT) AS two_day_bytes
FROM daily_bytes AS a JOIN daily_bytes AS b
    ON b.device_id = a.device_id AND b.date BETWEEN a.date - 1 AND a.date
GROUP BY ALL
"""


def sql_dir(root: Path, rolling: str = ROLLING) -> Path:
    for layer, name, body in (
        ("staging", "stg_devices", STG_DEVICES),
        ("marts", "daily_bytes", DAILY),
        ("marts", "rolling_bytes", rolling),
    ):
        (root / layer).mkdir(parents=True, exist_ok=True)
        (root / layer / f"{name}.sql").write_text(body)
    return root


def build(lake: Lake, models: list, full_refresh: bool = False) -> dict[str, MartBuild]:
    return {
        m.name: build_model(lake, m, [USAGE, DEVICES], models, full_refresh=full_refresh)
        for m in models
        if m.materialised
    }


def load_day(lake: Lake, day: dt.date, samples: int = 2) -> None:
    lake.write_partition(USAGE, {"date": day, "coverage": "jp"}, usage_frame(day, samples=samples))


def devices(lake: Lake, name: str) -> None:
    lake.write_partition(
        DEVICES, {}, pl.DataFrame({"device_id": ["0000", "0001", "0002", "0003"], "name": name})
    )


def files(lake: Lake, mart: str) -> list[str]:
    return sorted(k.rsplit("/", 1)[-1] for k in lake.storage.list_files(f"_models/{mart}"))


def days_held(lake: Lake, mart: str) -> list[str]:
    with lake.storage.open_read(f"_models/{mart}/date=2024-03.parquet") as handle:
        days = pq.read_table(handle, columns=["date"]).column("date").unique().to_pylist()
    return sorted(day.isoformat() for day in days)


def assert_full_refresh_changes_nothing(lake: Lake, models: list) -> None:
    full = build(lake, models, full_refresh=True)
    for name, result in full.items():
        assert result.full and result.written == () and result.deleted == (), name


def test_only_changed_days_are_rebuilt_and_equal_a_full_rebuild(lake_root: str, tmp_path: Path) -> None:
    lake = Lake(lake_root)
    models = discover_models(sql_dir(tmp_path / "sql"), TABLES)
    devices(lake, "a")
    for day in DAYS[:2]:
        load_day(lake, day)
    first = build(lake, models)
    assert first["daily_bytes"].full and first["daily_bytes"].written == ("2024-03-01", "2024-03-02")
    assert files(lake, "daily_bytes") == [STATE_FILE, "date=2024-03.parquet", "part-0.parquet"]

    load_day(lake, DAYS[2])  # a new day: that day only; the rolling mart's day after it has no data
    new_day = build(lake, models)
    assert not new_day["daily_bytes"].full and new_day["daily_bytes"].written == ("2024-03-03",)
    assert new_day["rolling_bytes"].written == ("2024-03-03",)
    assert_full_refresh_changes_nothing(lake, models)

    load_day(lake, DAYS[0], samples=3)  # a reload of an old day reaches the rolling day after it
    reload = build(lake, models)
    assert reload["daily_bytes"].written == ("2024-03-01",)
    assert reload["rolling_bytes"].written == ("2024-03-01", "2024-03-02")
    assert_full_refresh_changes_nothing(lake, models)

    nothing = build(lake, models)
    assert all(r.skipped for r in nothing.values())

    lake.storage.delete(lake.partition_key(USAGE, {"date": DAYS[1], "coverage": "jp"}))  # retention
    removed = build(lake, models)
    assert removed["daily_bytes"].deleted == ("2024-03-02",)
    assert days_held(lake, "daily_bytes") == ["2024-03-01", "2024-03-03"]
    assert_full_refresh_changes_nothing(lake, models)

    devices(lake, "renamed")  # the dimension changed: every day of the mart naming devices
    renamed = build(lake, models)
    assert renamed["daily_bytes"].full and set(renamed["daily_bytes"].written) == {"2024-03-01", "2024-03-03"}
    assert_full_refresh_changes_nothing(lake, models)


def test_a_changed_definition_rebuilds_the_mart_in_full(lake: Lake, tmp_path: Path) -> None:
    devices(lake, "a")
    for day in DAYS[:3]:
        load_day(lake, day)
    build(lake, discover_models(sql_dir(tmp_path / "v1"), TABLES))
    edited = ROLLING.replace("two_day_bytes", "window_bytes")
    again = build(lake, discover_models(sql_dir(tmp_path / "v2", rolling=edited), TABLES))
    assert not again["daily_bytes"].full and again["daily_bytes"].skipped
    assert again["rolling_bytes"].full and len(again["rolling_bytes"].written) == 3


@pytest.mark.parametrize(
    ("header", "wanted"),
    [
        ("-- partitioned by: week(date)\n-- partition inputs: usage(date)", "day(<date column>)"),
        ("-- partitioned by: day(name)\n-- partition inputs: usage(date)", "must be in `-- grain:`"),
        ("-- partitioned by: day(device_id)\n-- partition inputs: usage(date)", "needs a DATE column"),
        ("-- partitioned by: day(date)", "needs a `-- partition inputs:`"),
        ("-- partitioned by: day(date)\n-- partition inputs: devices(date)", "not partitioned by 'date'"),
        ("-- partitioned by: day(date)\n-- partition inputs: nowhere(date)", "is not a table or mart"),
        ("-- partitioned by: day(date)\n-- partition inputs: usage(date) 0..soon", "bound 'soon'"),
        (
            "-- partitioned by: day(date)\n-- partition inputs: usage(date) 0..1 carried by carry/usage.sql",
            "`carried by` needs a day-partitioned mart and a reach to `end`",
        ),
        (
            "-- partitioned by: day(date)\n-- partition inputs: usage(date) 0..end carried by carry/u.sql",
            "cannot read the carry query",
        ),
    ],
)
def test_a_wrong_partitioning_header_names_the_file_and_the_fix(
    header: str, wanted: str, lake: Lake, tmp_path: Path
) -> None:
    root = sql_dir(tmp_path / "sql")
    bad = root / "marts" / "daily_bytes.sql"
    declared = "-- partitioned by: day(date)\n-- partition inputs: usage(date)\n"
    text = DAILY.replace(declared + "-- dimensions: stg_devices(device_id, name)", header)
    bad.write_text(text)
    devices(lake, "a")
    load_day(lake, DAYS[0])
    with pytest.raises(ModelError, match=re.escape(wanted)) as caught:
        build(lake, discover_models(root, TABLES))
    assert str(bad) in str(caught.value)


def test_day_files_of_the_previous_layout_are_replaced_by_month_files(lake: Lake, tmp_path: Path) -> None:
    """A lake built when marts kept one file per day: the first build after the upgrade finds an
    older state, rebuilds in full, and leaves only month files (no day's rows twice in the view)."""
    models = discover_models(sql_dir(tmp_path / "sql"), TABLES)
    devices(lake, "a")
    for day in DAYS[:2]:
        load_day(lake, day)
    build(lake, models)
    folder = "_models/daily_bytes"
    with lake.storage.open_read(f"{folder}/date=2024-03.parquet") as handle:
        march = pq.read_table(handle)
    old_day = f"{folder}/date=2024-03-01.parquet"
    with lake.storage.atomic_write(old_day) as temp:
        pq.write_table(march.filter(pc.equal(march["date"], DAYS[0])), temp)
    with lake.storage.atomic_write(f"{folder}/{STATE_FILE}") as temp, open(temp, "w") as handle:
        handle.write('{"version": 1}')
    again = build(lake, models)
    assert again["daily_bytes"].full and again["daily_bytes"].written == ()
    assert files(lake, "daily_bytes") == [STATE_FILE, "date=2024-03.parquet", "part-0.parquet"]
