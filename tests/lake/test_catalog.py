import datetime as dt
import json
import os
import stat
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pytest

from pipelines.lake import (
    Lake,
    LakeError,
    TableSpec,
    build_catalog,
    build_model,
    discover_models,
    materialise_model,
)
from tests.lake.conftest import DEVICES, FIXTURES, USAGE, usage_frame

DAY = dt.date(2024, 3, 1)
REPO = Path(__file__).resolve().parents[2]


def columns(con, view):
    return [(r[0], r[1]) for r in con.sql(f"DESCRIBE {view}").fetchall()]


def test_views_are_typed_with_hive_columns_in_spec_order(lake, tmp_path):
    lake.write_partition(USAGE, {"date": DAY, "coverage": "001"}, usage_frame(DAY))  # digits stay a string
    path = build_catalog(lake, tmp_path / "catalog.duckdb", [USAGE, DEVICES])
    con = duckdb.connect(str(path), read_only=True)
    assert columns(con, "usage") == [
        ("date", "DATE"),
        ("coverage", "VARCHAR"),
        ("device_id", "VARCHAR"),
        ("ts", "TIMESTAMP WITH TIME ZONE"),
        ("ts_epoch_ms", "BIGINT"),
        ("bytes_up", "BIGINT"),
        ("amount", "DECIMAL(20,10)"),
        ("_loaded_at", "TIMESTAMP WITH TIME ZONE"),
    ]
    assert con.sql("SELECT DISTINCT date, coverage FROM usage").fetchall() == [(DAY, "001")]
    assert con.sql("SELECT sum(amount) FROM usage").fetchall() == [(Decimal("6.0000000003"),)]
    # A table with no files yet is an empty, typed view, not an error.
    assert columns(con, "devices") == [("device_id", "VARCHAR"), ("name", "VARCHAR")]
    assert con.sql("SELECT count(*) FROM devices").fetchall() == [(0,)]
    comments = dict(con.sql("SELECT view_name, comment FROM duckdb_views() WHERE NOT internal").fetchall())
    assert comments["usage"] == "Per-device usage samples"
    listed = con.sql("SELECT name, kind, partition_by FROM _catalog ORDER BY name").fetchall()
    assert listed == [("devices", "table", []), ("usage", "table", ["date", "coverage"])]


def test_polars_reads_hive_columns_typed(lake):
    lake.write_partition(USAGE, {"date": DAY, "coverage": "001"}, usage_frame(DAY))
    scanned = lake.scan(USAGE).collect()
    assert scanned.schema == lake.read(USAGE).schema
    assert scanned.schema["date"] == pl.Date and scanned["coverage"].unique().to_list() == ["001"]
    plain = pl.scan_parquet(
        lake.table_glob(USAGE), hive_partitioning=True, hive_schema={"date": pl.Date, "coverage": pl.String}
    ).collect()
    assert plain.schema["coverage"] == pl.String and plain["coverage"][0] == "001"
    assert lake.scan(DEVICES).collect().height == 0


def test_view_tolerates_columns_added_to_the_spec_later(lake, tmp_path):
    old = TableSpec("evolving", pa.schema([("k", pa.string()), ("v", pa.int32())]))
    lake.write_partition(old, {}, pa.table({"k": ["a"], "v": pa.array([1], pa.int32())}))
    new = TableSpec("evolving", pa.schema([("k", pa.string()), ("v", pa.int64()), ("added", pa.date32())]))
    con = duckdb.connect(str(build_catalog(lake, tmp_path / "c.duckdb", [new])), read_only=True)
    assert columns(con, "evolving") == [("k", "VARCHAR"), ("v", "BIGINT"), ("added", "DATE")]
    assert con.sql("SELECT * FROM evolving").fetchall() == [("a", 1, None)]
    assert lake.read(new).to_dicts() == [{"k": "a", "v": 1, "added": None}]


def test_staging_models_are_views_of_their_sql_and_marts_appear_once_materialised(lake, tmp_path):
    lake.write_partition(USAGE, {"date": DAY, "coverage": "jp"}, usage_frame(DAY))
    models = discover_models(FIXTURES / "models", ["usage", "devices"])
    catalog = tmp_path / "catalog.duckdb"
    build_catalog(lake, catalog, [USAGE, DEVICES], models)
    con = duckdb.connect(str(catalog), read_only=True)
    views = {
        r[0]: r[1] for r in con.sql("SELECT view_name, sql FROM duckdb_views() WHERE NOT internal").fetchall()
    }
    assert {"stg_usage", "stg_devices"} <= set(views) and "daily_totals" not in views
    assert "date_trunc('hour', ts)" in views["stg_usage"] and "_models" not in views["stg_usage"]
    assert con.sql("SELECT count(*) FROM stg_usage").fetchall() == [(6,)]  # reads the lake live
    con.close()
    for model in models:
        build_model(lake, model, [USAGE, DEVICES], models)
    assert not lake.has_model("stg_usage")  # a view, never a file
    build_catalog(lake, catalog, [USAGE, DEVICES], models)
    con = duckdb.connect(str(catalog), read_only=True)
    assert con.sql("SELECT count(*) FROM stg_usage").fetchall() == [(6,)]
    kinds = dict(con.sql("SELECT name, kind FROM _catalog").fetchall())
    assert kinds["stg_usage"] == "model:staging" and kinds["daily_totals"] == "model:marts"
    con.close()


def test_a_staging_model_that_does_not_bind_is_skipped_not_fatal(lake, tmp_path, caplog):
    sql = tmp_path / "sql"
    (sql / "staging").mkdir(parents=True)
    (sql / "staging" / "stg_bad.sql").write_text("-- bad\nSELECT no_such_column FROM usage\n")
    (sql / "staging" / "stg_good.sql").write_text("-- good\nSELECT device_id FROM usage\n")
    models = discover_models(sql, ["usage", "devices"])
    con = duckdb.connect(str(build_catalog(lake, tmp_path / "c.duckdb", [USAGE, DEVICES], models)))
    names = {r[0] for r in con.sql("SELECT name FROM _catalog").fetchall()}
    assert "stg_good" in names and "usage" in names and "stg_bad" not in names
    assert "stg_bad.sql" in caplog.text


def test_catalog_refuses_name_clashes(lake, tmp_path):
    with pytest.raises(LakeError, match=r"more than once.*\['usage'\]"):
        build_catalog(lake, tmp_path / "c.duckdb", [USAGE, USAGE])


def test_catalog_works_when_opened_from_another_directory(lake, tmp_path):
    lake.write_partition(USAGE, {"date": DAY, "coverage": "jp"}, usage_frame(DAY))
    path = build_catalog(lake, tmp_path / "out" / "catalog.duckdb", [USAGE])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code = (
        "import duckdb, sys; "
        "print(duckdb.connect(sys.argv[1], read_only=True).sql('SELECT count(*) FROM usage').fetchall())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)], cwd=elsewhere, capture_output=True, text=True
    )
    assert out.stdout.strip() == "[(6,)]", out.stderr


def test_catalog_and_model_files_are_0644_under_any_umask(tmp_path):
    previous = os.umask(0)
    try:
        lake = Lake(tmp_path / "lake")
        lake.write_partition(USAGE, {"date": DAY, "coverage": "jp"}, usage_frame(DAY))
        models = discover_models(FIXTURES / "models", ["usage", "devices"])
        result = materialise_model(lake, models[2], [USAGE, DEVICES], models)  # device_daily
        catalog = build_catalog(lake, tmp_path / "new" / "catalog.duckdb", [USAGE, DEVICES], models)
    finally:
        os.umask(previous)
    for path in (Path(result.path), catalog):
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
    for folder in (Path(result.path).parent, Path(result.path).parent.parent, catalog.parent):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o755
    assert sorted(os.listdir(catalog.parent)) == ["catalog.duckdb"]  # no temp or WAL left behind


READER = textwrap.dedent(
    """
    import duckdb, json, os, sys
    catalog, stop = sys.argv[1], sys.argv[2]
    con = duckdb.connect(catalog, read_only=True)
    queries, errors, counts = 0, [], set()
    while True:
        stopping = os.path.exists(stop)
        try:
            counts.add(con.sql("SELECT count(*) FROM usage").fetchall()[0][0])
            con.sql("SELECT count(*) FROM _catalog").fetchall()
        except Exception as error:
            errors.append(repr(error))
        queries += 1
        if queries == 1:
            print("ready", flush=True)
        if stopping:
            break
    print(json.dumps({"queries": queries, "errors": errors[:5], "counts": sorted(counts)}), flush=True)
    """
)


@pytest.mark.reliability
def test_catalog_swap_never_disturbs_a_reader_holding_the_old_file(lake, tmp_path):
    catalog = tmp_path / "catalog.duckdb"
    stop = tmp_path / "stop"
    lake.write_partition(USAGE, {"date": DAY, "coverage": "jp"}, usage_frame(DAY))
    build_catalog(lake, catalog, [USAGE])
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(catalog), str(stop)], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    try:
        assert reader.stdout.readline().strip() == "ready"
        for i in range(1, 6):
            day = DAY + dt.timedelta(days=i)
            lake.write_partition(USAGE, {"date": day, "coverage": "jp"}, usage_frame(day))
            specs = [USAGE, DEVICES] if i >= 3 else [USAGE]  # a new view appears mid-way
            assert build_catalog(lake, catalog, specs) == catalog.resolve()
            fresh = duckdb.connect(str(catalog), read_only=True)  # new connections see the new catalog
            assert fresh.sql("SELECT count(*) FROM usage").fetchall() == [(6 * (i + 1),)]
            fresh.close()
        stop.touch()
        report = json.loads(reader.stdout.readline())
        assert reader.wait(timeout=60) == 0
    finally:
        if reader.poll() is None:
            reader.kill()
            reader.wait()
        reader.stdout.close()
    assert report["errors"] == []
    assert report["queries"] >= 2
    # The reader kept its old catalog, whose view reads the lake live, so it saw the new partitions too.
    assert report["counts"][-1] == 36
    con = duckdb.connect(str(catalog), read_only=True)
    assert "devices" in {r[0] for r in con.sql("SHOW TABLES").fetchall()}


def test_integer_partitions_are_typed_in_duckdb_and_polars(lake, tmp_path):
    spec = TableSpec(
        "monthly", pa.schema([("month", pa.int32()), ("v", pa.int64())]), partition_by=("month",)
    )
    for month in (202401, 202402):
        lake.write_partition(spec, {"month": month}, pa.table({"v": [month % 100]}))
    con = duckdb.connect(str(build_catalog(lake, tmp_path / "c.duckdb", [spec])), read_only=True)
    assert columns(con, "monthly") == [("month", "INTEGER"), ("v", "BIGINT")]
    assert con.sql("SELECT month, v FROM monthly ORDER BY month").fetchall() == [(202401, 1), (202402, 2)]
    assert lake.scan(spec).collect().schema["month"] == pl.Int32
    assert lake.partitions(spec) == [{"month": 202401}, {"month": 202402}]


def test_a_stale_wal_of_the_old_catalog_is_not_replayed_into_the_new_one(lake, tmp_path):
    catalog = tmp_path / "catalog.duckdb"
    build_catalog(lake, catalog, [USAGE])
    wal = tmp_path / "catalog.duckdb.wal"
    wal.write_bytes(b"left by a read-write session on the old file")
    build_catalog(lake, catalog, [USAGE, DEVICES])
    assert not wal.exists()
    con = duckdb.connect(str(catalog), read_only=True)
    assert con.sql("SELECT count(*) FROM devices").fetchall() == [(0,)]
