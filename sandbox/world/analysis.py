"""Soracom Query (Analysis API) tables of the world: their columns as `getAnalysisSchemas` lists
them, and their rows for a `[from, to)` window as Arrow batches of a bounded number of SIMs.

Soracom documents only some column names (the spec's example for `SIM_SESSION_EVENTS`: APN,
DNS0, DNS1, EVENT, HPLMN, ICCID). Every other name here is the sandbox's assumption: the
per-SIM `SessionEvent` field in upper snake case (`ueIpAddress` -> `UE_IP_ADDRESS`), the cell
flattened (`cell.radioType` -> `CELL_RADIO_TYPE`), times as `TIMESTAMP_TZ`. The rows are the
very events `listSimSessionEvents` answers, so both paths can be compared against one truth.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

if TYPE_CHECKING:
    from sandbox.world.world import World

CHUNK_SIMS = 5_000  # SIMs whose events are built at once (bounds memory at 100k SIMs)
ASSUMED = " (column name assumed by the sandbox; Soracom does not document it)"


@dataclass(frozen=True)
class Column:
    name: str
    database_type: str  # TEXT, FIXED, REAL, TIMESTAMP_TZ, BOOLEAN, VARIANT
    description: str
    documented: bool = False  # named in Soracom's own example

    @property
    def type(self) -> str:
        return REFERENCE_TYPES[self.database_type]

    @property
    def arrow(self) -> pa.DataType:
        return ARROW_TYPES[self.database_type]

    def info(self) -> dict[str, str]:
        text = self.description if self.documented else self.description + ASSUMED
        return {"name": self.name, "type": self.type, "databaseType": self.database_type, "description": text}


REFERENCE_TYPES = {
    "TEXT": "string",
    "FIXED": "int64",
    "REAL": "float64",
    "TIMESTAMP_TZ": "Time",
    "BOOLEAN": "bool",
    "VARIANT": "string",
}
ARROW_TYPES = {
    "TEXT": pa.string(),
    "FIXED": pa.int64(),
    "REAL": pa.float64(),
    "TIMESTAMP_TZ": pa.timestamp("ms", tz="UTC"),
    "BOOLEAN": pa.bool_(),
    "VARIANT": pa.string(),
}

_CELL_INTS = ("mcc", "mnc", "tac", "eci", "lac", "ci", "rac", "sac")

SESSION_EVENT_COLUMNS: tuple[Column, ...] = (
    Column("TIME", "TIMESTAMP_TZ", "When the event happened."),
    Column("EVENT", "TEXT", "Type of event: Created, Modified or Deleted.", documented=True),
    Column("OPERATOR_ID", "TEXT", "Operator ID."),
    Column("SIM_ID", "TEXT", "SIM ID."),
    Column("IMSI", "TEXT", "IMSI of the subscription in use."),
    Column("ICCID", "TEXT", "The Integrated Circuit Card Identifier of the SIM.", documented=True),
    Column("HPLMN", "TEXT", "Home PLMN (MCC and MNC of the IMSI).", documented=True),
    Column("SESSION_ID", "TEXT", "Session ID."),
    Column("IMEI", "TEXT", "IMEI of the device."),
    Column("APN", "TEXT", "Access Point Name of the session.", documented=True),
    Column("SUBSCRIPTION", "TEXT", "Subscription (plan) of the IMSI."),
    Column("UE_IP_ADDRESS", "TEXT", "IP address of the device in the session."),
    Column("VPG_ID", "TEXT", "Virtual Private Gateway ID."),
    Column("GATEWAY_PRIVATE_IP_ADDRESS", "TEXT", "Private IP address of the VPG gateway."),
    Column("GATEWAY_PUBLIC_IP_ADDRESS", "TEXT", "Public IP address of the VPG gateway."),
    Column("DNS0", "TEXT", "Primary DNS server of the session.", documented=True),
    Column("DNS1", "TEXT", "Secondary DNS server of the session.", documented=True),
    Column("CREATED_TIME", "TIMESTAMP_TZ", "When the session was created."),
    *(Column(f"CELL_{f.upper()}", "FIXED", f"Cell {f} of the serving cell.") for f in _CELL_INTS),
    Column("CELL_RADIO_TYPE", "TEXT", "Radio access type of the serving cell."),
)

SIM_STATS_COLUMNS: tuple[Column, ...] = (
    Column("TIME", "TIMESTAMP_TZ", "Start of the UTC day the traffic is counted in."),
    Column("SIM_ID", "TEXT", "SIM ID."),
    Column("IMSI", "TEXT", "IMSI that carried the traffic."),
    Column("TYPE", "TEXT", "Speed class (jp) or subscription (g), as in the Air usage export."),
    Column("UPLOAD_BYTE_SIZE_TOTAL", "FIXED", "Bytes sent by the device that day."),
    Column("UPLOAD_PACKET_COUNT_TOTAL", "FIXED", "Packets sent by the device that day."),
    Column("DOWNLOAD_BYTE_SIZE_TOTAL", "FIXED", "Bytes received by the device that day."),
    Column("DOWNLOAD_PACKET_COUNT_TOTAL", "FIXED", "Packets received by the device that day."),
)

TABLES: dict[str, tuple[Column, ...]] = {
    "SIM_SESSION_EVENTS": SESSION_EVENT_COLUMNS,
    "SIM_STATS": SIM_STATS_COLUMNS,  # daily rows: the granularity is the sandbox's assumption too
}
MAX_WINDOW_S = 31 * 86_400  # the sandbox answers at most a month of rows a query


def schemas() -> list[dict[str, Any]]:
    """The `getAnalysisSchemas` answer."""
    return [{"name": name, "columnInfo": [c.info() for c in columns]} for name, columns in TABLES.items()]


def arrow_schema(table: str) -> pa.Schema:
    return pa.schema([(c.name, c.arrow) for c in TABLES[table]])


def _camel_to_upper_snake(name: str) -> str:
    return "".join("_" + ch if ch.isupper() else ch.upper() for ch in name).lstrip("_")


def _event_row(event: dict[str, Any], iccid: str) -> dict[str, Any]:
    row: dict[str, Any] = {_camel_to_upper_snake(k): v for k, v in event.items() if k != "cell"}
    cell = event.get("cell") or {}
    for f in _CELL_INTS:
        row[f"CELL_{f.upper()}"] = cell.get(f)
    row["CELL_RADIO_TYPE"] = cell.get("radioType")
    row["CREATED_TIME"] = int(row["CREATED_TIME"]) if row.get("CREATED_TIME") is not None else None
    row["ICCID"] = iccid
    row["HPLMN"] = str(event["imsi"])[:5] if event.get("imsi") else None
    return row


def session_event_batches(world: World, coverage: str, from_s: int, to_s: int) -> Iterator[pa.RecordBatch]:
    """`SIM_SESSION_EVENTS` rows of a coverage with from_s <= TIME < to_s, a few thousand SIMs at
    a time: the rows `listSimSessionEvents` answers for every SIM, column for column."""
    from_ms, to_ms = from_s * 1000, to_s * 1000
    schema = arrow_schema("SIM_SESSION_EVENTS")
    inv = world.inv
    sims = inv.index_in(coverage)
    sims = sims[inv.created_ms[sims] <= world.now_ms]
    for offset in range(0, len(sims), CHUNK_SIMS):
        chunk = np.asarray(sims[offset : offset + CHUNK_SIMS], dtype=np.int64)
        s = world.activity.sessions_of(chunk, from_ms, to_ms)
        events = world.details.events(s, from_ms, to_ms, world.now_ms)
        if not events:
            continue
        iccids = {e["simId"]: inv.iccid[inv.index_of_sim[e["simId"]]] for e in events}
        rows = [_event_row(e, iccids[e["simId"]]) for e in reversed(events)]  # oldest first
        yield pa.RecordBatch.from_pylist(rows, schema=schema)


def sim_stats_batches(world: World, coverage: str, from_s: int, to_s: int) -> Iterator[pa.RecordBatch]:
    """`SIM_STATS` rows: the Air usage export's daily rows (per IMSI and type) of the UTC days
    starting in [from_s, to_s), with the SIM ID beside the IMSI."""
    from sandbox.world.air_stats import iter_usage_rows

    inv = world.inv
    schema = arrow_schema("SIM_STATS")
    sims = inv.index_in(coverage)
    first_day = -(-from_s // 86_400) * 86_400  # days that start inside the window
    if first_day >= to_s:
        return
    rows: list[dict[str, Any]] = []
    for row in iter_usage_rows(world.activity, "day", first_day, to_s - 1, sims):
        day = row["date"]
        start = datetime(int(day[:4]), int(day[4:6]), int(day[6:8]), tzinfo=UTC)
        if not first_day <= start.timestamp() < to_s:
            continue
        rows.append(
            {
                "TIME": start,
                "SIM_ID": inv.sim_id[inv.index_of_imsi[row["imsi"]][0]],
                "IMSI": row["imsi"],
                "TYPE": row["type"],
                **{_camel_to_upper_snake(k): row[k] for k in _STATS_COUNTS},
            }
        )
        if len(rows) >= 50_000:
            yield pa.RecordBatch.from_pylist(rows, schema=schema)
            rows = []
    if rows:
        yield pa.RecordBatch.from_pylist(rows, schema=schema)


_STATS_COUNTS = (
    "uploadByteSizeTotal",
    "uploadPacketCountTotal",
    "downloadByteSizeTotal",
    "downloadPacketCountTotal",
)


def batches(world: World, table: str, coverage: str, from_s: int, to_s: int) -> Iterator[pa.RecordBatch]:
    """Rows of one Query table for the window."""
    if table == "SIM_SESSION_EVENTS":
        return session_event_batches(world, coverage, from_s, to_s)
    if table == "SIM_STATS":
        return sim_stats_batches(world, coverage, from_s, to_s)
    raise KeyError(table)
