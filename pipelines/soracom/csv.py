"""Reading Soracom CSV exports (billing, Air usage) into Polars, by header name.

- A UTF-8 BOM (Soracom always writes one) is removed; files without one read the same.
- Every column is read as Utf8 (`pl.String`): identifiers keep leading zeros and money
  keeps its exact digits; callers cast by column name. Empty fields become null.
- A header-only file gives 0 rows with its columns; an empty file gives an empty frame.
- Duplicate header names (a tag key equal to a fixed column such as `type`, or two equal
  tag keys) are kept, not dropped: the first keeps its name, later ones get `_2`, `_3`...
  (skipping names already taken). Empty header cells become `column_<n>` (1-based).
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator

import polars as pl

BOM = b"\xef\xbb\xbf"


def unique_names(header: list[str]) -> list[str]:
    """Header names made unique as described in the module docstring."""
    taken = set(header)
    result: list[str] = []
    used: set[str] = set()
    for position, raw in enumerate(header, start=1):
        name = raw or f"column_{position}"
        if name in used:
            n = 2
            while f"{name}_{n}" in used or f"{name}_{n}" in taken:
                n += 1
            name = f"{name}_{n}"
        used.add(name)
        result.append(name)
    return result


def _header(data: bytes) -> list[str]:
    head = data[: 1 << 16].decode("utf-8", errors="ignore")
    try:
        return next(csv.reader(io.StringIO(head)))
    except StopIteration:
        return []


def _is_blank(data: bytes, start: int) -> bool:
    """No content after `start` but whitespace, without copying a big file (`strip()` would)."""
    return not data[start : start + 4096].strip() and not data[start:].strip()


def parse_csv(data: bytes) -> pl.DataFrame:
    """A CSV export as a DataFrame of String columns, named by the header row.

    Big exports (a day of 5-minute usage is ~1 GB at 100k SIMs) are handed to Polars as they
    are: no copy to drop the BOM (Polars skips it) and no Python decode to check UTF-8
    (Polars refuses invalid UTF-8 itself)."""
    start = len(BOM) if data.startswith(BOM) else 0
    if _is_blank(data, start):
        return pl.DataFrame()
    names = unique_names(_header(data[start : start + (1 << 16)]))
    return _read_csv(data, names, has_header=True)


def read_csv_blocks(path: str | os.PathLike[str], block_bytes: int = 32 << 20) -> Iterator[pl.DataFrame]:
    """A CSV export file as String frames of about `block_bytes` each (same rules as
    `parse_csv`), so a file bigger than memory is never whole in it: plain reads, no memory
    map (a mapped 1 GB file counts in the process's RSS). Blocks are cut only at record ends
    (a line break outside quotes). A header-only file gives one empty frame with its columns."""
    with open(path, "rb") as handle:
        header = handle.readline()
        if header.startswith(BOM):
            header = header[len(BOM) :]
        names = unique_names(_header(header))
        carry = b""
        produced = False
        while block := handle.read(block_bytes):
            data = carry + block
            cut = _last_record_end(data)
            if cut == 0:
                carry = data
                continue
            yield _block_frame(data[:cut], names)
            produced = True
            carry = data[cut:]
        if carry.strip() or not produced:
            yield _block_frame(carry, names)


def _last_record_end(data: bytes) -> int:
    """Index just after the last line break that is outside quotes (0 if none): quotes inside
    a quoted field are doubled, so an even count of `"` before a break means it ends a record."""
    end = len(data)
    while (newline := data.rfind(b"\n", 0, end)) >= 0:
        if data.count(b'"', 0, newline) % 2 == 0:
            return newline + 1
        end = newline
    return 0


def _block_frame(data: bytes, names: list[str]) -> pl.DataFrame:
    if not data.strip():
        return pl.DataFrame({name: pl.Series(name, [], dtype=pl.Utf8) for name in names})
    return _read_csv(data, names, has_header=False)


def _read_csv(data: bytes, names: list[str], *, has_header: bool) -> pl.DataFrame:
    """Polars' read as String columns named `names`; its errors become ValueErrors that say
    whether the bytes are not UTF-8 or do not fit the header."""
    try:
        return pl.read_csv(
            data, has_header=has_header, infer_schema=False, new_columns=names, raise_if_empty=False
        )
    except pl.exceptions.ComputeError as exc:
        if "utf-8" in str(exc).lower() or "utf8" in str(exc).lower():
            raise ValueError(f"CSV is not UTF-8 ({exc}): Soracom exports are UTF-8") from None
        raise ValueError(
            f"CSV does not parse with its {len(names)}-column header ({names[:6]}...): {exc}"
        ) from None
