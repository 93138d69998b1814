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


def parse_csv(data: bytes) -> pl.DataFrame:
    """A CSV export as a DataFrame of String columns, named by the header row."""
    if data.startswith(BOM):
        data = data[len(BOM) :]
    if not data.strip():
        return pl.DataFrame()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"CSV is not UTF-8 (byte {exc.start}): Soracom exports are UTF-8") from None
    names = unique_names(_header(data))
    try:
        return pl.read_csv(
            io.BytesIO(data), has_header=True, infer_schema=False, new_columns=names, raise_if_empty=False
        )
    except pl.exceptions.ComputeError as exc:
        raise ValueError(
            f"CSV does not parse with its {len(names)}-column header ({names[:6]}...): {exc}"
        ) from None
