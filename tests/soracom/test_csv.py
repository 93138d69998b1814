from __future__ import annotations

import polars as pl
import pytest

from pipelines.soracom import parse_csv

BOM = b"\xef\xbb\xbf"
BODY = b'imsi,date,amount,name\r\n001010000000001,20240101,0.0003,"a, b"\r\n,20240102,12.5,\r\n'


@pytest.mark.parametrize("prefix", [BOM, b""], ids=["bom", "no-bom"])
def test_reads_by_header_as_strings(prefix):
    frame = parse_csv(prefix + BODY)
    assert frame.columns == ["imsi", "date", "amount", "name"]
    assert all(dtype == pl.String for dtype in frame.dtypes)
    assert frame["imsi"].to_list() == ["001010000000001", None]
    assert frame["amount"].to_list() == ["0.0003", "12.5"]
    assert frame["name"].to_list() == ["a, b", None]


def test_header_only_gives_columns_and_no_rows():
    frame = parse_csv(BOM + b"imsi,date,type\r\n")
    assert frame.columns == ["imsi", "date", "type"]
    assert frame.height == 0


def test_empty_file_gives_empty_frame():
    assert parse_csv(BOM).shape == (0, 0)


def test_duplicate_and_empty_header_names_are_suffixed():
    frame = parse_csv(BOM + b"imsi,type,type,type_2,\n1,a,b,c,d\n")
    assert frame.columns == ["imsi", "type", "type_3", "type_2", "column_5"]
    assert frame.row(0) == ("1", "a", "b", "c", "d")


def test_ragged_or_non_utf8_csv_is_a_clear_error():
    with pytest.raises(ValueError, match="does not parse"):
        parse_csv(b"a,b\n1,2,3\n")
    with pytest.raises(ValueError, match="not UTF-8"):
        parse_csv(b"a,b\n\xff\xfe,1\n")
