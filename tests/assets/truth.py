"""Ground truth from the sandbox World, shaped like the lake tables, and the comparisons.

Each `expected_*` returns the rows the lake should hold for one coverage and window, as a
list of tuples of the compared columns; `lake_rows` reads the same columns from the lake.
A table matches when both lists are equal after sorting: same rows, no duplicates, no gaps.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import polars as pl

from assets.partitions import Window
from assets.tables import source
from pipelines.lake import Lake
from pipelines.lake.spec import TableSpec

Row = tuple[Any, ...]


class ReadOnce:
    """A lake whose tables are each read once: a comparison asks a table for many days and
    hours, and every read of an object-store lake lists and fetches all of its files."""

    def __init__(self, lake: Lake) -> None:
        self.lake = lake
        self._frames: dict[str, pl.DataFrame] = {}

    def read(self, spec: TableSpec) -> pl.DataFrame:
        if spec.name not in self._frames:
            self._frames[spec.name] = self.lake.read(spec)
        return self._frames[spec.name]


def read_once(lake: Lake | ReadOnce) -> ReadOnce:
    """`lake` with each table read once (itself when it already is)."""
    return lake if isinstance(lake, ReadOnce) else ReadOnce(lake)


def _day(text: str) -> date:
    return datetime.strptime(text, "%Y%m%d").replace(tzinfo=UTC).date()


def lake_rows(
    lake: Lake | ReadOnce, table: str, columns: Sequence[str], coverage: str, **filters: object
) -> list[Row]:
    frame = lake.read(source(table).spec).filter(pl.col("coverage") == coverage)
    for column, value in filters.items():
        frame = frame.filter(pl.col(column) == value)
    return sort_rows(frame.select(columns).rows())


def _plain(value: object) -> object:
    return value.normalize() if isinstance(value, Decimal) else value


def sort_rows(rows: list[Row]) -> list[Row]:
    """Rows in a canonical order, decimals normalised (0.50 == 0.5 and sorts the same)."""
    return sorted((tuple(_plain(v) for v in row) for row in rows), key=repr)


def expected_session_events(world: Any, coverage: str, window: Window) -> list[Row]:
    rows = []
    for sim_id in world.sim_ids(coverage):
        for e in world.session_events(sim_id, window.start_ms, window.end_ms):
            rows.append((e["simId"], e["time"], e["event"], e.get("sessionId"), e.get("imsi")))
    return sort_rows(rows)


SESSION_COLUMNS = ["sim_id", "time_ms", "event", "session_id", "imsi"]


def _usage(world: Any, coverage: str, period: str, window: Window) -> list[dict[str, Any]]:
    # Ask a wider span and keep the window's rows: independent of how `to` is interpreted.
    start_s = int(window.start.timestamp()) - 86400
    end_s = int(window.end.timestamp()) + 86400
    return world.air_usage_rows(coverage, period, start_s, end_s)


def expected_air_daily(world: Any, coverage: str, window: Window) -> list[Row]:
    day = window.start.strftime("%Y%m%d")
    return sort_rows(
        [
            (
                r["imsi"],
                r["type"],
                int(r["uploadByteSizeTotal"]),
                int(r["downloadByteSizeTotal"]),
                int(r["uploadPacketCountTotal"]),
                int(r["downloadPacketCountTotal"]),
            )
            for r in _usage(world, coverage, "day", window)
            if str(r["date"]) == day
        ]
    )


AIR_DAILY_COLUMNS = [
    "imsi",
    "speed_class",
    "upload_bytes",
    "download_bytes",
    "upload_packets",
    "download_packets",
]


def expected_air_minutes(world: Any, coverage: str, window: Window) -> list[Row]:
    rows = []
    for r in _usage(world, coverage, "minutes", window):
        bucket = datetime.strptime(str(r["date"]), "%Y%m%d%H%M").replace(tzinfo=UTC)
        if window.start <= bucket < window.end:
            rows.append((r["imsi"], int(bucket.timestamp()), r["type"], int(r["downloadByteSizeTotal"])))
    return sort_rows(rows)


AIR_MINUTES_COLUMNS = ["imsi", "unixtime", "speed_class", "download_bytes"]


def expected_harvest(world: Any, coverage: str, window: Window) -> list[Row]:
    rows = []
    for resource in world.harvest_resources(coverage):
        for e in world.harvest_entries(
            resource["resourceType"], resource["resourceId"], window.start_ms, window.end_ms
        ):
            rows.append((e["resourceType"], e["resourceId"], e["time"], e.get("content")))
    return sort_rows(rows)


HARVEST_COLUMNS = ["resource_type", "resource_id", "time_ms", "content"]


def expected_error_logs(world: Any, coverage: str, window: Window) -> list[Row]:
    from sandbox.world.error_logs import error_logs

    rows = []
    for e in error_logs(world, coverage, window.start_ms, window.end_ms):
        body = json.dumps(e["body"], sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        rows.append((e["time"], e["service"], e["logLevel"], e["resourceId"], body))
    return sort_rows(rows)


ERROR_LOG_COLUMNS = ["time_ms", "service", "log_level", "resource_id", "body"]


def expected_api_audit(world: Any, coverage: str, window: Window) -> list[Row]:
    rows = []
    for e in world.api_audit_logs(coverage, window.start_ms, window.end_ms):
        time_ms = e.get("requestedTimeEpochMs", e.get("requestedTimeEpocMs"))
        rows.append((time_ms, e.get("requestPath"), e.get("userName"), e.get("statusCode")))
    return sort_rows(rows)


API_AUDIT_COLUMNS = ["requested_time_ms", "request_path", "user_name", "status_code"]


def expected_napter_audit(world: Any, coverage: str, window: Window) -> list[Row]:
    rows = []
    for e in world.napter_audit_logs(coverage, window.start_ms, window.end_ms):
        d = e.get("direction") or {}
        rows.append((e["createdAt"], e["type"], e.get("connectionId"), e.get("imsi"), d.get("sourcePort")))
    return sort_rows(rows)


NAPTER_COLUMNS = ["created_at_ms", "type", "connection_id", "imsi", "source_port"]


def expected_sims(world: Any, coverage: str) -> list[Row]:
    rows = []
    for sim in world.sims(list(world.sim_ids(coverage))):
        rows.append(
            (
                sim["simId"],
                sim.get("status"),
                sim.get("speedClass"),
                sim.get("groupId"),
                (sim.get("tags") or {}).get("name"),
            )
        )
    return sort_rows(rows)


SIMS_COLUMNS = ["sim_id", "status", "speed_class", "group_id", "name"]


def expected_groups(world: Any, coverage: str) -> list[Row]:
    return sort_rows([(g["groupId"], (g.get("tags") or {}).get("name")) for g in world.groups(coverage)])


GROUPS_COLUMNS = ["group_id", "name"]


def money(value: object) -> Decimal:
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))


def expected_bill(world: Any, coverage: str, yyyymm: str, current: bool) -> list[Row]:
    if current:
        latest = world.latest_bill(coverage)
        return [(money(latest["amount"]), latest["currency"], True)]
    bill = world.monthly_bill(coverage, yyyymm)
    if bill is None:
        return []
    return [(money(bill["amount"]), bill["currency"], bill.get("state") != "closed")]


BILL_COLUMNS = ["amount", "currency", "preliminary"]


def expected_daily_bills(world: Any, coverage: str, yyyymm: str) -> list[Row]:
    return sort_rows([(_day(b["date"]), money(b["amount"])) for b in world.daily_bills(coverage, yyyymm)])


DAILY_BILL_COLUMNS = ["date", "amount"]


def expected_billing_items(world: Any, coverage: str, yyyymm: str) -> list[Row]:
    if yyyymm != world.now.strftime("%Y%m") and world.bill_state(yyyymm) != "closed":
        return []  # a past month not closed yet: its export is refused, a fresh lake keeps nothing
    rows = []
    for r in world.billing_rows(coverage, yyyymm):
        rows.append((r.get("imsi") or None, str(r["date"]), r["billItemName"], money(r["amount"])))
    return sort_rows(rows)


ITEM_COLUMNS = ["imsi", "date_text", "bill_item_name", "amount"]


def expected_summaries(world: Any, coverage: str) -> list[Row]:
    rows = []
    for kind, months in (
        ("bill_items", world.bill_item_summaries(coverage)),
        ("sims", world.sim_bill_summaries(coverage)),
    ):
        for month in months:
            for item in month.get("costBreakdownList") or []:
                rows.append(
                    (
                        kind,
                        month["yearMonth"],
                        item.get("billItemName"),
                        item.get("simId"),
                        money(item["amount"]),
                    )
                )
    return sort_rows(rows)


SUMMARY_COLUMNS = ["summary", "year_month", "bill_item_name", "sim_id", "amount"]


def sim_extra_tags(lake: Lake, coverage: str) -> dict[str, dict[str, str]]:
    frame = lake.read(source("sims").spec).filter(pl.col("coverage") == coverage)
    return {row[0]: json.loads(row[1]) for row in frame.select("sim_id", "tags").rows() if row[1]}


def windows_between(start: datetime, end: datetime, step: timedelta) -> list[tuple[datetime, datetime]]:
    out, t = [], start
    while t < end:
        out.append((t, t + step))
        t += step
    return out
