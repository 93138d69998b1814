"""CSV bytes as Soracom exports them: UTF-8 with a BOM, header row always present."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from sandbox.world.pricing import decimal_text


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return decimal_text(value)
    return str(value)


def to_csv(columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> bytes:
    """Encode as rows are written (a StringIO of non-ASCII text would cost 4 bytes a character)."""
    buf = io.BytesIO()
    buf.write(b"\xef\xbb\xbf")
    text = io.TextIOWrapper(buf, encoding="utf-8", newline="", write_through=True)
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    text.flush()
    data = buf.getvalue()
    text.detach()
    return data
