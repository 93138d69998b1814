"""API records and CSV frames -> typed columnar frames, in bulk.

The hot path never loops over rows in Python: records become a Polars frame in one
`from_dicts` call with a declared input shape, columns are derived with expressions, and
only records that carry keys the shape does not know get per-row work (to keep those keys
in the `_extra` JSON column instead of dropping them).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from decimal import Decimal

import polars as pl
import pyarrow as pa

# Money: exact decimals. 12 places hold per-byte unit prices; 26 integer digits hold any bill.
MONEY = pa.decimal128(38, 12)
PL_MONEY = pl.Decimal(38, 12)
TIMESTAMP = pa.timestamp("us", tz="UTC")

InputShape = Mapping[str, pl.DataType]


def _known_keys(shape: InputShape) -> dict[str, set[str] | None]:
    """Top-level keys -> the known keys of a struct field (None for scalars)."""
    known: dict[str, set[str] | None] = {}
    for key, dtype in shape.items():
        known[key] = {f.name for f in dtype.fields} if isinstance(dtype, pl.Struct) else None
    return known


def unknown_keys(
    records: Sequence[Mapping[str, object]], shape: InputShape, handled: Iterable[str] = ()
) -> dict[str, set[str]]:
    """Keys in `records` neither the shape declares nor the caller `handled` itself:
    {"": top-level keys, "cell": nested keys, ...}."""
    known = _known_keys(shape)
    found: dict[str, set[str]] = {}
    top = set().union(*map(dict.keys, records)) - known.keys() - set(handled) if records else set()
    if top:
        found[""] = top
    for key, nested in known.items():
        if nested is None:
            continue
        seen: set[str] = set()
        for record in records:
            value = record.get(key)
            if isinstance(value, dict):
                seen.update(value.keys())
        if seen - nested:
            found[key] = seen - nested
    return found


def extra_column(
    records: Sequence[Mapping[str, object]], shape: InputShape, handled: Iterable[str] = ()
) -> pl.Series:
    """`_extra`: JSON of the fields the shape does not know, per record (null when none)."""
    unknown = unknown_keys(records, shape, handled)
    if not unknown:
        return pl.Series("_extra", [None] * len(records), dtype=pl.Utf8)
    top = unknown.get("", set())
    nested = {k: v for k, v in unknown.items() if k}
    values: list[str | None] = []
    for record in records:
        extra: dict[str, object] = {k: record[k] for k in top if k in record}
        for key, keys in nested.items():
            value = record.get(key)
            if isinstance(value, dict):
                inner = {k: value[k] for k in keys if k in value}
                if inner:
                    extra[key] = inner
        values.append(json.dumps(extra, sort_keys=True, ensure_ascii=False, default=str) if extra else None)
    return pl.Series("_extra", values, dtype=pl.Utf8)


class AnswerError(ValueError):
    """An API answer that cannot be loaded as it is. The message names the call (operationId),
    what was wrong and what to do; the partition fails and data already loaded stays as it is."""


_NOT_LOADED = (
    "The partition was not loaded (data already in the lake is unchanged). Retry later; if the "
    "API keeps answering this way, report it to Soracom support with this message."
)


@contextlib.contextmanager
def typing_answer_of(call: str, what: str = "answer") -> Iterator[None]:
    """Typing errors raised inside become an `AnswerError` naming `call` and the problem."""
    try:
        yield
    except AnswerError:
        raise
    except UnicodeError as exc:
        raise AnswerError(
            f"{call}: the {what} holds text that is not valid UTF-8 ({exc}), so it cannot be "
            f"stored as text. {_NOT_LOADED}"
        ) from exc
    except (ValueError, TypeError, OverflowError, pl.exceptions.PolarsError) as exc:
        raise AnswerError(
            f"{call}: the {what} does not match the expected shape: {exc}. {_NOT_LOADED}"
        ) from exc


def require_values(frame: pl.DataFrame, call: str, fields: Sequence[str]) -> None:
    """Fail naming `call` and the field when any record lacks a key field (missing or null):
    such a record cannot be placed in a partition or told apart, and dropping it would lose
    data without a trace."""
    if not fields or frame.height == 0:
        return
    nulls = frame.select(pl.col(f).null_count() for f in fields).row(0)
    lacking = [f"{field!r} in {n} of {frame.height}" for field, n in zip(fields, nulls, strict=True) if n]
    if lacking:
        raise AnswerError(
            f"{call}: records lack the required field {', '.join(lacking)} records (missing or "
            f"null); without it a record cannot be placed in its partition or told apart. {_NOT_LOADED}"
        )


def records_frame(
    records: Sequence[Mapping[str, object]],
    shape: InputShape,
    handled: Iterable[str] = (),
    *,
    call: str = "API",
    required: Sequence[str] = (),
) -> pl.DataFrame:
    """Records -> a frame with exactly the columns of `shape` (missing keys become nulls)
    plus `_extra`. `handled` keys are read by the caller itself (not kept in `_extra`).
    Values of the wrong type, and records lacking a `required` field, fail loudly naming
    `call` (the operationId that answered them)."""
    with typing_answer_of(call, "answer"):
        frame = (
            pl.from_dicts(records, schema=dict(shape), strict=True)
            if records
            else pl.DataFrame(schema=dict(shape))
        )
    require_values(frame, call, required)
    return frame.with_columns(extra_column(records, shape, handled))


def ms_to_ts(column: str) -> pl.Expr:
    """Epoch milliseconds -> UTC timestamp."""
    return pl.from_epoch(pl.col(column), time_unit="ms").dt.replace_time_zone("UTC")


def s_to_ts(column: str) -> pl.Expr:
    """Epoch seconds -> UTC timestamp."""
    return pl.from_epoch(pl.col(column), time_unit="s").dt.replace_time_zone("UTC")


def money(expr: pl.Expr) -> pl.Expr:
    """A string amount (CSV) -> exact decimal."""
    return expr.str.strip_chars().cast(PL_MONEY, strict=True)


def money_values(name: str, values: Iterable[object]) -> pl.Series:
    """JSON amounts -> exact decimals. A float goes through its shortest repr (what the API
    printed), never through binary arithmetic; Decimal, int and str are taken as they are."""
    out: list[Decimal | None] = []
    for value in values:
        if value is None or value == "":
            out.append(None)
        elif isinstance(value, bool):
            raise ValueError(f"{name}: expected an amount, got {value!r}")
        else:
            out.append(Decimal(repr(value) if isinstance(value, float) else str(value)))
    return pl.Series(name, out, dtype=PL_MONEY)


def json_text(values: Iterable[object]) -> list[str | None]:
    """Nested values (maps, lists) -> JSON text, None for missing."""
    return [
        None if v is None else json.dumps(v, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        for v in values
    ]


def csv_extra(frame: pl.DataFrame, known: Sequence[str]) -> pl.Expr:
    """`_extra` for a CSV frame: JSON object of the columns not in `known` (null when none)."""
    return csv_extra_of(frame.columns, known)


def csv_extra_of(columns: Sequence[str], known: Sequence[str]) -> pl.Expr:
    """`csv_extra` by column names (for lazy scans, which have no frame yet)."""
    extra = [c for c in columns if c not in set(known)]
    if not extra:
        return pl.lit(None, dtype=pl.Utf8).alias("_extra")
    return pl.struct(extra).struct.json_encode().alias("_extra")


def add_lineage(frame: pl.DataFrame, coverage: str, loaded_at: datetime) -> pl.DataFrame:
    """Every row carries the coverage it came from and when it was loaded."""
    return frame.with_columns(
        pl.lit(coverage, dtype=pl.Utf8).alias("coverage"),
        pl.lit(loaded_at).dt.cast_time_unit("us").dt.convert_time_zone("UTC").alias("_loaded_at"),
    )


def table_columns(frame: pl.DataFrame, schema: pa.Schema, partition_by: Sequence[str] = ()) -> pl.DataFrame:
    """The frame reduced to `schema`'s columns in order (partition columns may be absent: they
    live in the lake path). A missing data column is a bug in the source module: fail naming it."""
    names = [n for n in schema.names if n not in partition_by or n in frame.columns]
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise ValueError(f"frame lacks columns {missing} required by the table schema")
    return frame.select(names)


def empty_table(schema: pa.Schema) -> pa.Table:
    return schema.empty_table()
