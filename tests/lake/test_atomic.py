"""Crash safety: a writer killed with SIGKILL mid-write never leaves a file readers can see half of,
on a local lake and on an S3 lake (moto_server)."""

import datetime as dt
import glob
import os
import random
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import polars as pl
import pyarrow.parquet as pq
import pytest

from pipelines.lake import Lake
from pipelines.lake.storage import LocalStorage, is_temp_name
from tests.lake.conftest import USAGE, usage_frame

ROWS = 150_000  # big enough that each write takes a while, so most kills land inside one
REPO = Path(__file__).resolve().parents[2]

WRITER = textwrap.dedent(
    f"""
    import datetime as dt, sys
    import polars as pl
    from pipelines.lake import Lake
    from tests.lake.conftest import USAGE, usage_frame

    lake = Lake(sys.argv[1])
    day = dt.date(2024, 3, 1)
    base = usage_frame(day, devices=1, samples=1)
    frames = []
    for extra in (0, 1):  # two versions of the partition, told apart by their row count
        n = {ROWS} + extra
        frames.append(
            pl.concat([base] * n).with_columns(
                pl.Series("device_id", [f"dev-{{i:08d}}" for i in range(n)]),
            )
        )
    i = 0
    while True:
        lake.write_partition(USAGE, {{"date": day, "coverage": "jp"}}, frames[i % 2])
        i += 1
        if i == 1:
            print("wrote", flush=True)
    """
)


def _temp_files(lake: Lake) -> list[str]:
    """Temp files a writer left: in the partition folders (local lake) or in the staging folder
    (object store); on an object store, also any object that is not a partition file."""
    if isinstance(lake.storage, LocalStorage):
        return [name for _, _, files in os.walk(lake.storage.root) for name in files if is_temp_name(name)]
    staged = [name for name in os.listdir(lake.storage.staging.root) if is_temp_name(name)]
    objects = lake.storage.fs.find(lake.storage.path(""))
    return staged + [o for o in objects if not o.endswith("/part-0.parquet")]


def _check_readers(lake: Lake, *, writer_running: bool) -> None:
    """Every file a glob finds is complete: one of the two versions, whole.

    Polars scans (and pyarrow given a path) open a local file more than once per read, so while a
    writer is replacing it they can pair one version's footer with the other's pages; those readers
    are only checked once the writer is dead. DuckDB and single-handle reads are checked throughout.
    """
    assert len(lake.partitions(USAGE)) == 1
    key = lake.partition_key(USAGE, {"date": "2024-03-01", "coverage": "jp"})
    with lake.storage.open_read(key) as handle:
        assert pq.read_table(handle).num_rows in (ROWS, ROWS + 1)
    pattern = lake.table_glob(USAGE)
    con = duckdb.connect()
    lake.storage.register(con)
    query = f"SELECT count(*), count(device_id) FROM read_parquet('{pattern}', hive_partitioning=true)"
    for attempt in range(10):
        try:
            rows, ids = con.sql(query).fetchall()[0]
            break
        except duckdb.Error as error:
            # On S3, DuckDB reads an object in ranges pinned to the ETag s3fs saw at open: an object
            # replaced meanwhile is an error (its ETag changed, or its size no longer matches the
            # listing, so the footer read at the old size finds no magic bytes), never a mix of
            # versions, and the retry reads the new object.
            raced = any(m in str(error) for m in ("no longer exists", "bytes returned", "No magic bytes"))
            if isinstance(lake.storage, LocalStorage) or not raced or attempt == 9:
                raise
    assert rows in (ROWS, ROWS + 1) and ids == rows
    assert lake.read(USAGE).height in (ROWS, ROWS + 1)
    if not writer_running and isinstance(lake.storage, LocalStorage):
        files = glob.glob(pattern)
        assert len(files) == 1, files
        assert pq.read_table(files[0]).num_rows in (ROWS, ROWS + 1)
        scan = pl.scan_parquet(pattern, hive_partitioning=True).select(pl.len()).collect().item()
        assert scan in (ROWS, ROWS + 1)


@pytest.mark.reliability
@pytest.mark.slow
def test_sigkill_mid_write_never_exposes_partial_files(lake_root):
    lake = Lake(lake_root)
    rng = random.Random(7)
    saw_leftover_temp = False
    for attempt in range(25):
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, lake_root], cwd=REPO, stdout=subprocess.PIPE, text=True
        )
        try:
            assert writer.stdout.readline().strip() == "wrote"
            # Read concurrently while the writer keeps replacing the file, for a random number of reads.
            for _ in range(rng.randint(1, 6)):
                _check_readers(lake, writer_running=True)
        finally:
            writer.send_signal(signal.SIGKILL)
            writer.wait()
            writer.stdout.close()
        _check_readers(lake, writer_running=False)
        if _temp_files(lake):
            saw_leftover_temp = True
            print(f"leftover temp file after kill #{attempt + 1}: {_temp_files(lake)}")
            break
    # The kills must have hit a write in progress at least once, or this test proved nothing.
    assert saw_leftover_temp, "no kill landed mid-write; raise ROWS"
    assert lake.read(USAGE).height in (ROWS, ROWS + 1)
    # The next write to the partition cleans what dead writers left behind.
    lake.write_partition(USAGE, {"date": "2024-03-01", "coverage": "jp"}, pl.DataFrame())
    assert _temp_files(lake) == []
    assert lake.read(USAGE).height == 0


def test_failed_write_leaves_no_temp_and_keeps_old_file(lake):
    lake.write_partition(USAGE, {"date": "2024-03-01", "coverage": "jp"}, usage_frame(dt.date(2024, 3, 1)))

    class Boom(Exception):
        pass

    key = lake.partition_key(USAGE, {"date": "2024-03-01", "coverage": "jp"})
    with pytest.raises(Boom), lake.storage.atomic_write(key) as temp:
        Path(temp).write_bytes(b"half a parquet file")
        raise Boom
    assert _temp_files(lake) == []
    assert lake.read(USAGE).height == 6


def test_temp_files_of_live_writers_are_left_alone(lake):
    folder = Path(lake.root) / "usage" / "date=2024-03-01" / "coverage=jp"
    folder.mkdir(parents=True)
    live = folder / f".part-0.parquet.tmp-{os.getppid()}-abc123"  # our parent process is alive
    dead = folder / ".part-0.parquet.tmp-999999999-abc123"  # beyond pid_max: never alive
    live.write_bytes(b"x")
    dead.write_bytes(b"x")
    lake.write_partition(USAGE, {"date": "2024-03-01", "coverage": "jp"}, pl.DataFrame())
    assert live.exists()
    assert not dead.exists()
    assert glob.glob(lake.table_glob(USAGE)) == [str(folder / "part-0.parquet")]
