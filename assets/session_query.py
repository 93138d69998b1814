"""`session_events` through Soracom Query: one SQL query a day instead of one call per SIM.

The result (gzipped CSV, sorted by the server) is read in blocks of rows and each block
becomes the rows the per-SIM path would give for the same events: Query columns mapped back to
the `SessionEvent` fields (`SIM_ID` -> `simId`, `CELL_ECI` -> `cell.eci`, times from
TIMESTAMP_TZ to epoch ms), then the same typing, window filter and deduplication
(`typed_events`). Columns the per-SIM answer does not carry (ICCID, HPLMN) are dropped;
columns nobody knows yet go to `_extra` under their camelCase name, typed by `columnInfo`,
as an unknown field of the per-SIM answer would. A day is never whole in memory.

Which columns `SIM_SESSION_EVENTS` has beyond the six Soracom documents is an assumption
(docs/ingestion.md): `auto` uses Query only when `getAnalysisSchemas` lists every column
mapped here, so a different real table falls back to the per-SIM calls instead of loading
different rows.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import weakref
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.csv as pa_csv

from assets.frames import AnswerError, require_values
from assets.loading import Batches, Fetched, Progress
from assets.partitions import Window
from pipelines.soracom import QueryUnavailable, SoracomClient

log = logging.getLogger(__name__)

TABLE = "SIM_SESSION_EVENTS"
CALL = "Soracom Query SIM_SESSION_EVENTS"
ORDER = ("SIM_ID", "TIME", "EVENT", "SESSION_ID")  # = CHUNK_ORDER of the per-SIM path
SQL = f"SELECT * FROM {TABLE} ORDER BY {', '.join(ORDER)}"
BLOCK_BYTES = 8 << 20  # CSV bytes read at once (~30k rows)

SCALARS = {
    "TIME": "time",
    "EVENT": "event",
    "SIM_ID": "simId",
    "IMSI": "imsi",
    "SESSION_ID": "sessionId",
    "OPERATOR_ID": "operatorId",
    "IMEI": "imei",
    "APN": "apn",
    "SUBSCRIPTION": "subscription",
    "UE_IP_ADDRESS": "ueIpAddress",
    "VPG_ID": "vpgId",
    "GATEWAY_PRIVATE_IP_ADDRESS": "gatewayPrivateIpAddress",
    "GATEWAY_PUBLIC_IP_ADDRESS": "gatewayPublicIpAddress",
    "DNS0": "dns0",
    "DNS1": "dns1",
    "CREATED_TIME": "createdTime",
}
CELL = {f"CELL_{f.upper()}": f for f in ("mcc", "mnc", "tac", "eci", "lac", "ci", "rac", "sac")}
CELL["CELL_RADIO_TYPE"] = "radioType"
MAPPED = (*SCALARS, *CELL)
QUERY_ONLY = ("ICCID", "HPLMN")  # in the Query table, not in the per-SIM answer
TIMES = ("TIME", "CREATED_TIME")
ARROW = {
    "TEXT": pa.string(),
    "VARIANT": pa.string(),
    "FIXED": pa.int64(),
    "REAL": pa.float64(),
    "BOOLEAN": pa.bool_(),
    "TIMESTAMP_TZ": pa.timestamp("ms", tz="UTC"),
}


def camel(column: str) -> str:
    """`GATEWAY_PUBLIC_IP_ADDRESS` -> `gatewayPublicIpAddress` (the per-SIM answer's spelling)."""
    head, *rest = column.lower().split("_")
    return head + "".join(part.capitalize() for part in rest)


def missing_columns(schemas: Sequence[dict[str, Any]]) -> list[str]:
    """Mapped columns that `getAnalysisSchemas` does not list for SIM_SESSION_EVENTS."""
    table = next((t for t in schemas if str(t.get("name", "")).upper() == TABLE), None)
    if table is None:
        return [TABLE]
    listed = {str(c.get("name", "")).upper() for c in table.get("columnInfo") or []}
    return [c for c in MAPPED if c not in listed]


# --- which path: probed once per client (a run's client for one coverage) ----------------------
_CHOSEN: weakref.WeakKeyDictionary[SoracomClient, str] = weakref.WeakKeyDictionary()


async def choose_path(client: SoracomClient, setting: str, progress: Progress) -> str:
    """`query` or `api`; `auto` asks `getAnalysisSchemas` once per client."""
    if setting != "auto":
        return setting
    if client not in _CHOSEN:
        try:
            missing = missing_columns(await client.query_schemas())
        except QueryUnavailable as error:
            progress.info(f"session events: Soracom Query not available ({error.cause}); one call per SIM")
            _CHOSEN[client] = "api"
        else:
            if missing:
                progress.info(
                    f"session events: the Query table {TABLE} lacks {', '.join(missing)}; one call per SIM"
                )
                _CHOSEN[client] = "api"
            else:
                progress.info("session events: through Soracom Query (SORACOM_SESSION_EVENTS_PATH=auto)")
                _CHOSEN[client] = "query"
    return _CHOSEN[client]


def fall_back(client: SoracomClient) -> None:
    """Use the per-SIM calls for the rest of this client's run (quota used up mid-run)."""
    _CHOSEN[client] = "api"


# --- the result file -> typed rows --------------------------------------------------------------
def _column_types(columns: Sequence[dict[str, Any]]) -> dict[str, pa.DataType]:
    types = {str(c["name"]): ARROW.get(str(c.get("databaseType", "")).upper(), pa.string()) for c in columns}
    for name in TIMES:
        if name in types:
            types[name] = pa.timestamp("ms", tz="UTC")
    return types


def _extra(frame: pl.DataFrame, unknown: Sequence[str]) -> pl.Series:
    """JSON of the unknown columns per row, keys as the per-SIM answer would spell them."""
    if not unknown:
        return pl.Series("_extra", [None] * frame.height, dtype=pl.Utf8)
    values: list[str | None] = []
    for row in frame.select(unknown).iter_rows(named=True):
        extra = {camel(k): v for k, v in row.items() if v is not None}
        values.append(json.dumps(extra, sort_keys=True, ensure_ascii=False, default=str) if extra else None)
    return pl.Series("_extra", values, dtype=pl.Utf8)


def raw_events(block: pl.DataFrame) -> pl.DataFrame:
    """A block of Query rows -> the decoded `SessionEvent` records the per-SIM path types."""
    absent = [c for c in ("TIME", "EVENT", "SIM_ID") if c not in block.columns]
    if absent:
        raise AnswerError(
            f"{CALL}: the result has no column {', '.join(absent)}; set SORACOM_SESSION_EVENTS_PATH=api"
        )
    unknown = [c for c in block.columns if c not in MAPPED and c not in QUERY_ONLY]

    def col(name: str, dtype: pl.DataType) -> pl.Expr:
        return pl.col(name).cast(dtype) if name in block.columns else pl.lit(None, dtype=dtype)

    def ms(name: str) -> pl.Expr:
        return pl.col(name).dt.epoch("ms") if name in block.columns else pl.lit(None, dtype=pl.Int64)

    scalars = [
        (ms(q) if q == "TIME" else ms(q).cast(pl.Utf8) if q == "CREATED_TIME" else col(q, pl.Utf8)).alias(f)
        for q, f in SCALARS.items()
    ]
    cell = pl.struct(
        [col(q, pl.Utf8 if f == "radioType" else pl.Int64).alias(f) for q, f in CELL.items()]
    ).alias("cell")
    frame = block.select(*scalars, cell)
    require_values(frame, CALL, ("time", "simId", "event"))
    return frame.with_columns(_extra(block, unknown))


def blocks(path: Path, columns: Sequence[dict[str, Any]]) -> Iterator[pl.DataFrame]:
    """The gzipped CSV in blocks of rows (NULL: empty unquoted field; "" stays an empty string)."""
    stream = pa.input_stream(str(path), compression="gzip")
    try:
        reader = pa_csv.open_csv(
            stream,
            read_options=pa_csv.ReadOptions(block_size=BLOCK_BYTES),
            convert_options=pa_csv.ConvertOptions(
                column_types=_column_types(columns),
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
            ),
        )
        for batch in reader:
            frame = pl.from_arrow(batch)
            assert isinstance(frame, pl.DataFrame)
            yield frame
    except pa.ArrowInvalid as error:
        raise AnswerError(f"{CALL}: the result is not the CSV its columnInfo describes: {error}") from None
    finally:
        stream.close()


def typed_blocks(path: Path, columns: Sequence[dict[str, Any]], window: Window) -> Iterator[pl.DataFrame]:
    """Typed rows of the window, block by block, checked to be in the lake's order (the server
    sorted them) and deduplicated across blocks as within them."""
    from assets.sessions import CHUNK_ORDER, events_frame, typed_events

    last: tuple | None = None
    for block in blocks(path, columns):
        frame = typed_events(raw_events(block), window)
        if frame.height == 0:
            continue
        keys = frame.select(CHUNK_ORDER)
        if last is not None:
            first_key = _sortable(keys.row(0))
            if first_key == last:
                frame, keys = frame.slice(1), keys.slice(1)
            elif first_key < last:
                raise AnswerError(f"{CALL}: the result is not sorted by {', '.join(ORDER)} across blocks")
        if frame.height and not keys.equals(keys.sort(CHUNK_ORDER, nulls_last=True)):
            raise AnswerError(f"{CALL}: the result is not sorted by {', '.join(ORDER)}")
        if frame.height:
            last = _sortable(keys.row(-1))
            yield frame
    if last is None:
        yield events_frame([], window)


def _sortable(key: tuple) -> tuple:
    """A key comparable like a sort with nulls last."""
    return tuple((1, "") if v is None else (0, v) for v in key)


async def fetch_via_query(client: SoracomClient, window: Window, progress: Progress) -> Fetched:
    """Run the day's query, download its result, and hand the lake its rows block by block."""
    folder = Path(tempfile.mkdtemp(prefix="soracom-session-query-"))
    try:
        result = await client.run_query_to_file(SQL, window.start, window.end, folder / "events.csv.gz")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    progress.info(
        f"session events: Soracom Query {result.query_id} gave {result.row_count} rows "
        f"({result.file_size} bytes gzipped) for {window}"
    )
    progress.add_rows(max(result.row_count, 0))
    return Fetched(
        Batches(lambda: typed_blocks(result.path, result.columns, window)),
        {
            "session_events_path": "query",
            "query_id": result.query_id,
            "query_rows": result.row_count,
            "query_file_bytes": result.file_size,
        },
        cleanup=lambda: shutil.rmtree(folder, ignore_errors=True),
    )
