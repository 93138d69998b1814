"""Unparsed JSON pages (arrays of records) -> a frame, decoded in bulk by Arrow's JSON reader.

The dict path (`json.loads`, then `pl.from_dicts`) spends ~10 µs a record building Python
objects; Arrow's reader parses the bytes straight into columns, on every core. It is used only
when an answer is exactly what the input shape declares. Anything else (a key the shape does
not know, a value of another type, a body that is not JSON) is decoded by the dict path
instead, so unknown keys still land in `_extra` as the API sent them and bad answers fail
with the same message naming the call.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Sequence

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from assets.frames import InputShape, records_frame, require_values, typing_answer_of

log = logging.getLogger(__name__)
_WRAP = "r"  # each page becomes one NDJSON line {"r": [...]}, so pages parse in parallel
_MIN_BLOCK = 1 << 20
_NEWLINES = bytes.maketrans(b"\r\n", b"  ")
_SCALARS: dict[type[pl.DataType], pa.DataType] = {
    pl.Int64: pa.int64(),
    pl.Float64: pa.float64(),
    pl.Boolean: pa.bool_(),
    pl.Utf8: pa.string(),
}


def arrow_type(dtype: pl.DataType) -> pa.DataType:
    """The Arrow type the JSON reader is told to produce for a shape's Polars type."""
    if isinstance(dtype, pl.Struct):
        return pa.struct([(f.name, arrow_type(f.dtype)) for f in dtype.fields])
    for polars_type, arrow in _SCALARS.items():
        if dtype == polars_type:
            return arrow
    raise TypeError(
        f"no JSON page decoding for {dtype}; declare the field as Int64, Float64, Boolean, Utf8 or a Struct"
    )


def _line(page: bytes) -> bytes | None:
    """A page as the body of one NDJSON line, None for an empty page. Raw CR/LF in valid JSON
    can only be whitespace (inside strings they are escaped), so blanking them is lossless."""
    body = page.strip()
    if body in (b"", b"[]"):
        return None
    if b"\n" in body or b"\r" in body:
        body = body.translate(_NEWLINES)
    return body


def _arrow_items(lines: list[bytes], shape: InputShape) -> pa.ChunkedArray | None:
    """The records of all lines as one struct column, or None when the fast path cannot take
    them exactly (unknown keys, other types, not JSON, not a list of objects)."""
    record = pa.struct([(name, arrow_type(dtype)) for name, dtype in shape.items()])
    prefix = b'{"' + _WRAP.encode() + b'":'
    ndjson = b"".join(part for line in lines for part in (prefix, line, b"}\n"))
    block = max(_MIN_BLOCK, max(len(line) for line in lines) + len(prefix) + 2)
    try:
        table = pa_json.read_json(
            io.BytesIO(ndjson),
            read_options=pa_json.ReadOptions(block_size=block),
            parse_options=pa_json.ParseOptions(
                explicit_schema=pa.schema([(_WRAP, pa.list_(record))]),
                unexpected_field_behavior="infer",
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if table.schema.names != [_WRAP] or not table.schema.field(_WRAP).type.equals(pa.list_(record)):
        return None  # keys the shape does not declare: inferred next to the declared ones
    return pc.list_flatten(table.column(_WRAP))


def pages_frame(
    pages: Sequence[bytes], shape: InputShape, *, call: str, required: Sequence[str] = ()
) -> pl.DataFrame:
    """Pages (JSON arrays of records) -> the frame `records_frame` would make of their records:
    the columns of `shape` plus `_extra`, in page order."""
    lines = [line for line in map(_line, pages) if line is not None]
    if not lines:
        return records_frame([], shape, call=call, required=required)
    items = _arrow_items(lines, shape)
    if items is None:
        log.debug("%s: %d pages are not exactly the declared shape; decoding them as dicts", call, len(pages))
        with typing_answer_of(call, "answer"):
            records = [record for page in pages if page.strip() for record in _list(json.loads(page))]
        return records_frame(records, shape, call=call, required=required)
    if not len(items):
        return records_frame([], shape, call=call, required=required)
    frame = pl.from_arrow(pa.Table.from_struct_array(items))
    assert isinstance(frame, pl.DataFrame)
    frame = frame.cast(dict(shape))  # Arrow's string -> Polars String; no value changes
    require_values(frame, call, required)
    return frame.with_columns(pl.lit(None, dtype=pl.Utf8).alias("_extra"))


def _list(data: object) -> list[object]:
    if not isinstance(data, list):
        raise ValueError(f"expected a JSON list of records, got {type(data).__name__}")
    return data
