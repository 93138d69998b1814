"""Partitions too big for memory are streamed, and land exactly as the in-memory path writes them.

The 5-minute usage export goes to a temp file, is read a block at a time and written batch by batch
(`Lake.write_partition_batches`), with the primary key checked on the written file. Here the
threshold is lowered so a small sandbox takes that path, and the rows are compared with the
in-memory path and with the ground truth's row count.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import polars as pl
import pyarrow as pa
import pytest

from assets import loading, traffic
from assets.partitions import Window
from pipelines.lake import Lake, SchemaError
from pipelines.soracom import ClientSettings, SoracomClient, resolve_credentials


def _client(sandbox) -> SoracomClient:
    creds = resolve_credentials(
        auth_key_id=sandbox.credentials["authKeyId"], auth_key=sandbox.credentials["authKey"], env={}
    )
    return SoracomClient(creds, endpoint=sandbox.url, settings=ClientSettings(export_poll_initial_s=0.05))


class _Log:
    def info(self, message: str) -> None:
        pass


def _load(sandbox, window: Window, lake: Lake):
    async def run():
        async with _client(sandbox) as c:
            fetched = await traffic.fetch_minutes(c, window, loading.Progress(_Log(), "jp"))
            try:
                return loading._write(
                    lake,
                    traffic.MINUTES_SPEC,
                    {"date": window.start.strftime("%Y-%m-%d")},
                    [("jp", fetched)],
                    datetime(2030, 1, 1, tzinfo=UTC),
                    ["coverage", "imsi", "time", "speed_class"],
                )
            finally:
                if fetched.cleanup:
                    fetched.cleanup()

    return asyncio.run(run())


def _window(sandbox_now: datetime) -> Window:
    start = sandbox_now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    return Window(start.strftime("%Y-%m-%d"), start, start + timedelta(days=1))


def test_streamed_minutes_partition_equals_the_in_memory_one(sandbox, sandbox_now, tmp_path, monkeypatch):
    window = _window(sandbox_now)
    with sandbox.configured(export_delay_s=0.0):
        in_memory = _load(sandbox, window, Lake(tmp_path / "memory"))
        monkeypatch.setattr(traffic, "STREAM_FROM_BYTES", 0)  # every export is streamed
        monkeypatch.setattr(traffic, "STREAM_BLOCK_BYTES", 64 << 10)  # in many blocks
        streamed = _load(sandbox, window, Lake(tmp_path / "streamed"))
    key = ["coverage", "imsi", "time", "speed_class"]
    a = Lake(tmp_path / "memory").read(traffic.MINUTES_SPEC).sort(key)
    b = Lake(tmp_path / "streamed").read(traffic.MINUTES_SPEC).sort(key)
    assert a.height > 5000  # several batches
    assert a.equals(b)
    assert in_memory.rows == streamed.rows == a.height
    start_s = int(window.start.timestamp())
    truth = sandbox.world.air_usage_rows("jp", "minutes", start_s, start_s + 86399)
    assert a.height == len(truth)


def test_streamed_write_refuses_a_repeated_key_and_keeps_the_old_partition(tmp_path):
    lake = Lake(tmp_path)
    spec = traffic.MINUTES_SPEC
    row = {
        "coverage": "jp",
        "imsi": "440100000000001",
        "time": datetime(2026, 11, 29, tzinfo=UTC),
        "unixtime": 1795910400,
        "speed_class": "s1.fast",
        "upload_bytes": 1,
        "upload_packets": 1,
        "download_bytes": 1,
        "download_packets": 1,
        "_extra": None,
        "_loaded_at": datetime(2030, 1, 1, tzinfo=UTC),
    }
    names = [n for n in spec.schema.names if n != "date"]
    one = pl.DataFrame([row]).select(names)
    partition = {"date": "2026-11-29"}
    lake.write_partition_batches(spec, partition, [one])
    with pytest.raises(SchemaError, match="not unique"):
        lake.write_partition_batches(spec, partition, [one, one])  # unique per batch, not overall
    assert lake.read(spec).height == 1  # the old file is untouched
    assert isinstance(lake.read(spec).to_arrow(), pa.Table)


def test_csv_blocks_cut_only_at_record_ends(tmp_path):
    """Quoted fields may hold commas, quotes and line breaks; a block never splits a record."""
    from pipelines.soracom import parse_csv
    from pipelines.soracom.csv import read_csv_blocks

    rows = [f'{i},"tag, with ""quotes""\nand a line break {i}",{"x" * (i % 50)}' for i in range(3000)]
    data = b"\xef\xbb\xbf" + ("a,b,c\r\n" + "\r\n".join(rows) + "\r\n").encode()
    path = tmp_path / "export.csv"
    path.write_bytes(data)
    blocks = list(read_csv_blocks(path, block_bytes=4096))
    assert len(blocks) > 10
    assert pl.concat(blocks).equals(parse_csv(data))


def test_csv_blocks_of_a_header_only_file_give_its_columns(tmp_path):
    from pipelines.soracom.csv import read_csv_blocks

    path = tmp_path / "empty.csv"
    path.write_bytes(b"\xef\xbb\xbfimsi,date,type\r\n")
    (block,) = read_csv_blocks(path)
    assert block.columns == ["imsi", "date", "type"] and block.height == 0
