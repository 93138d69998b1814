"""The lake on object storage: same layout, schema and replace semantics as on disk; roots that
are URLs the lake cannot serve are refused instead of becoming odd local folders (issue 17.9)."""

import collections
import datetime as dt
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from pipelines.lake import Lake, LakeError, build_catalog
from pipelines.lake.storage import LocalStorage, check_root, open_storage
from pipelines.lake.views import table_view_sql
from tests.lake.conftest import USAGE, usage_frame

DAY = dt.date(2024, 3, 1)


@pytest.mark.s3
def test_s3_lake_has_the_local_layout_and_replaces_partitions(s3_bucket, tmp_path):
    lake = Lake(s3_bucket + "/lake")
    first = lake.write_partition(USAGE, {"date": DAY, "coverage": "jp"}, usage_frame(DAY, devices=5))
    lake.write_partition(USAGE, {"date": DAY, "coverage": "g"}, usage_frame(DAY, devices=1))
    assert first.path == f"{s3_bucket}/lake/usage/date=2024-03-01/coverage=jp/part-0.parquet"
    again = lake.write_partition(USAGE, {"date": DAY, "coverage": "jp"}, usage_frame(DAY, devices=3))
    assert again.rows == 6 and again.bytes > 0
    objects = sorted(lake.storage.fs.find(lake.storage.path("")))
    bucket = s3_bucket.removeprefix("s3://")
    assert objects == [
        f"{bucket}/lake/usage/date=2024-03-01/coverage=g/part-0.parquet",
        f"{bucket}/lake/usage/date=2024-03-01/coverage=jp/part-0.parquet",
    ]
    assert lake.partitions(USAGE) == [{"date": DAY, "coverage": "g"}, {"date": DAY, "coverage": "jp"}]
    assert lake.read(USAGE, {"coverage": "jp"}).height == 6
    assert lake.scan(USAGE).collect().height == 8
    with lake.storage.open_read(lake.partition_key(USAGE, {"date": DAY, "coverage": "jp"})) as handle:
        assert pq.read_schema(handle).remove_metadata() == USAGE.data_schema.remove_metadata()
    # the same bytes as a local lake's file: layout and schema do not depend on the store
    local = Lake(tmp_path / "lake")
    local.write_partition(USAGE, {"date": DAY, "coverage": "jp"}, usage_frame(DAY, devices=3))
    assert local.read(USAGE).equals(lake.read(USAGE, {"coverage": "jp"}))
    # a catalog over the S3 lake answers from Python once the file system is registered
    catalog = build_catalog(lake, tmp_path / "soracom.duckdb", [USAGE])
    con = duckdb.connect(str(catalog), read_only=True)
    lake.storage.register(con)
    assert con.execute("SELECT count(*) FROM usage").fetchone()[0] == 8


@pytest.mark.parametrize(
    ("root", "wanted"),
    [
        ("ftp://host/lake", "the scheme 'ftp' is not supported"),
        ("hdfs://namenode/lake", "the scheme 'hdfs' is not supported"),
        ("s3:/bucket/lake", "two slashes"),
    ],
)
def test_unsupported_url_roots_are_refused(root, wanted, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(LakeError, match=wanted):
        Lake(root)
    assert list(tmp_path.iterdir()) == []  # nothing written to a folder named after the URL


def test_local_roots_and_file_urls_are_folders(tmp_path):
    assert check_root("data/lake") == "data/lake"
    storage = open_storage(f"file://{tmp_path}/lake")
    assert isinstance(storage, LocalStorage) and storage.root == tmp_path / "lake"
    lake = Lake(f"file://{tmp_path}/lake")
    lake.write_partition(USAGE, {"date": DAY, "coverage": "jp"}, usage_frame(DAY))
    assert (Path(tmp_path) / "lake/usage/date=2024-03-01/coverage=jp/part-0.parquet").exists()


def test_a_missing_fsspec_driver_says_what_to_install():
    with pytest.raises(LakeError, match=r"soracom-lake\[gcs\]"):
        Lake("gs://bucket/lake")


@pytest.mark.parametrize("root", ["ftp://host/lake", "s3:/bucket/lake"])
def test_demo_refuses_a_lake_root_it_cannot_serve(root, tmp_path, monkeypatch, capsys):
    from pipelines import cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SORACOM_LAKE_ROOT", root)
    monkeypatch.setenv("SORACOM_CATALOG_PATH", str(tmp_path / "data" / "soracom.duckdb"))
    assert cli.main(["demo", "--sims", "5", "--days", "1"]) == 2
    assert "lake root" in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []  # no ./ftp:/... or ./s3:/... folder, no run history


@pytest.fixture
def s3_requests(monkeypatch: pytest.MonkeyPatch) -> collections.Counter[str]:
    """The S3 operations sent from this process to the (real) server, by name."""
    import s3fs

    sent: collections.Counter[str] = collections.Counter()
    call = s3fs.S3FileSystem._call_s3

    async def counted(self, method, *args, **kwargs):  # type: ignore[no-untyped-def]
        sent[method if isinstance(method, str) else method.__name__] += 1
        return await call(self, method, *args, **kwargs)

    monkeypatch.setattr(s3fs.S3FileSystem, "_call_s3", counted)
    return sent


@pytest.mark.s3
def test_duckdb_reads_of_listed_files_need_no_metadata_requests(s3_bucket, s3_requests):
    """DuckDB asks a registered file system for each file's info several times per query; the
    lake answers from its listing, so a query over N files costs N GETs, not 8N HEADs more."""
    lake = Lake(s3_bucket + "/lake")
    days = [DAY + dt.timedelta(days=i) for i in range(4)]
    for day in days:
        lake.write_partition(USAGE, {"date": day, "coverage": "jp"}, usage_frame(day, devices=2))
    con = duckdb.connect()
    con.execute(f"CREATE TEMP VIEW usage AS {table_view_sql(lake, USAGE, con)}")
    s3_requests.clear()
    for _ in range(3):
        assert con.execute("SELECT count(*) FROM usage").fetchone()[0] == 4 * 4  # 2 rows a device
    assert s3_requests["head_object"] == 0, s3_requests
    assert 0 < s3_requests["get_object"] <= 3 * len(days), s3_requests


@pytest.mark.s3
def test_a_replaced_or_added_partition_is_read_as_it_is_now(s3_bucket):
    """The listing DuckDB reads from never hides a write: a partition replaced through the lake
    is read at its new size, and one added by another process appears at the next listing."""
    lake = Lake(s3_bucket + "/lake")
    lake.write_partition(USAGE, {"date": DAY, "coverage": "jp"}, usage_frame(DAY, devices=1))
    con = duckdb.connect()
    con.execute(f"CREATE TEMP VIEW usage AS {table_view_sql(lake, USAGE, con)}")
    assert con.execute("SELECT count(*) FROM usage").fetchone()[0] == 2  # 2 rows a device
    lake.write_partition(USAGE, {"date": DAY, "coverage": "jp"}, usage_frame(DAY, devices=40))
    assert con.execute("SELECT count(*) FROM usage").fetchone()[0] == 80
    other = Lake(s3_bucket + "/lake")  # another process's lake object: its writes bypass ours
    day2 = DAY + dt.timedelta(days=1)
    other.write_partition(USAGE, {"date": day2, "coverage": "jp"}, usage_frame(day2, devices=7))
    con.execute(f"CREATE OR REPLACE TEMP VIEW usage AS {table_view_sql(lake, USAGE, con)}")
    assert con.execute("SELECT count(*) FROM usage").fetchone()[0] == 80 + 14


@pytest.mark.s3
def test_a_read_failed_by_a_replacement_elsewhere_is_not_repeated(s3_bucket):
    """A partition another process replaces after our listing fails the query racing it (DuckDB
    reads pinned to the listed ETag, never a mix of versions); the next query reads the new
    object instead of failing on the remembered ETag until the listing expires."""
    lake = Lake(s3_bucket + "/lake")
    lake.write_partition(USAGE, {"date": DAY, "coverage": "jp"}, usage_frame(DAY, devices=1))
    con = duckdb.connect()
    lake.storage.register(con)
    lake.partitions(USAGE)  # our listing: it remembers the object's ETag and size
    query = f"SELECT count(*) FROM read_parquet('{lake.table_glob(USAGE)}', hive_partitioning=true)"
    other = Lake(s3_bucket + "/lake")  # another process's lake object: its writes bypass ours
    other.write_partition(USAGE, {"date": DAY, "coverage": "jp"}, usage_frame(DAY, devices=40))
    with pytest.raises(duckdb.Error, match=r"no longer exists|bytes returned|No magic bytes"):
        con.execute(query).fetchone()
    assert con.execute(query).fetchone()[0] == 80
