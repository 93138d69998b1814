"""`SoracomClient`: the core client plus one typed helper per operation we load.

Helpers take aware datetimes and convert to the unit each operation wants (ms for
events, Harvest and audit logs; seconds for stats and exports). List helpers return
async iterators of items as the OpenAPI schemas define them; the rest return the
parsed JSON body.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterable, Mapping
from datetime import date, datetime
from typing import Any, Literal

from .client import CoreClient
from .errors import SoracomAPIError, SoracomError
from .exports import run_export, run_export_to_file
from .query import QueryResult, get_query, query_schemas, run_query_to_file, start_query
from .times import to_epoch_ms, to_epoch_s, yyyymm

Period = Literal["month", "day", "minutes"]
Item = dict[str, Any]
_PERIODS = ("month", "day", "minutes")


def _period(period: str) -> str:
    if period not in _PERIODS:
        raise ValueError(f"period {period!r} is not one of {', '.join(_PERIODS)}")
    return period


def _window_ms(start: datetime, end: datetime) -> tuple[int, int]:
    from_ms, to_ms = to_epoch_ms(start, "start"), to_epoch_ms(end, "end")
    if from_ms > to_ms:
        raise ValueError(f"start {start.isoformat()} is after end {end.isoformat()}")
    return from_ms, to_ms


def _window_s(start: datetime, end: datetime) -> tuple[int, int]:
    from_s, to_s = to_epoch_s(start, "start"), to_epoch_s(end, "end")
    if from_s > to_s:
        raise ValueError(f"start {start.isoformat()} is after end {end.isoformat()}")
    return from_s, to_s


def _list(data: Any, operation: str) -> list[Item]:
    if data is None:
        return []
    if not isinstance(data, list):
        raise SoracomError(f"{operation}: expected a JSON list, got {type(data).__name__}")
    return data


class SoracomClient(CoreClient):
    """Soracom API client with typed helpers. See `CoreClient` for the core calls."""

    # ---- inventory -------------------------------------------------------------------
    def list_sims(self, *, limit: int = 100) -> AsyncIterator[Item]:
        """All SIMs (`Sim` schema), every page."""
        return self.items("GET", "/sims", params={"limit": limit}, operation="listSims")

    def list_subscribers(self, *, limit: int = 100, **filters: str) -> AsyncIterator[Item]:
        """All subscribers (`Subscriber` schema); `limit` is at most 100."""
        return self.items(
            "GET", "/subscribers", params={"limit": min(limit, 100), **filters}, operation="listSubscribers"
        )

    def list_groups(self, *, limit: int = 100) -> AsyncIterator[Item]:
        """All groups (`Group` schema)."""
        return self.items("GET", "/groups", params={"limit": limit}, operation="listGroups")

    # ---- sessions --------------------------------------------------------------------
    def list_sim_session_events(
        self, sim_id: str, start: datetime, end: datetime, *, limit: int = 1000
    ) -> AsyncIterator[Item]:
        """Session events of one SIM with start <= time < end (`SessionEvent`), newest first."""
        from_ms, to_ms = _window_ms(start, end)
        return self.items(
            "GET",
            "/sims/{sim_id}/events/sessions",
            path_params={"sim_id": sim_id},
            params={"from": from_ms, "to": to_ms, "limit": limit},
            operation="listSimSessionEvents",
        )

    def raw_sim_session_event_pages(
        self, sim_id: str, start: datetime, end: datetime, *, limit: int = 1000
    ) -> AsyncIterator[bytes]:
        """`list_sim_session_events` as unparsed page bodies (JSON arrays), for bulk decoding."""
        from_ms, to_ms = _window_ms(start, end)
        return self.raw_pages(
            "GET",
            "/sims/{sim_id}/events/sessions",
            path_params={"sim_id": sim_id},
            params={"from": from_ms, "to": to_ms, "limit": limit},
            operation="listSimSessionEvents",
        )

    def list_subscriber_session_events(
        self, imsi: str, start: datetime, end: datetime, *, limit: int = 1000
    ) -> AsyncIterator[Item]:
        """Session events of one subscriber (IMSI)."""
        from_ms, to_ms = _window_ms(start, end)
        return self.items(
            "GET",
            "/subscribers/{imsi}/events/sessions",
            path_params={"imsi": imsi},
            params={"from": from_ms, "to": to_ms, "limit": limit},
            operation="listSessionEvents",
        )

    # ---- Air stats -------------------------------------------------------------------
    async def get_air_stats_sim(
        self, sim_id: str, period: Period, start: datetime, end: datetime
    ) -> list[Item]:
        """`AirStatsResponse` list of one SIM (`unixtime` in seconds)."""
        from_s, to_s = _window_s(start, end)
        data = await self.request_json(
            "GET",
            "/stats/air/sims/{sim_id}",
            path_params={"sim_id": sim_id},
            params={"from": from_s, "to": to_s, "period": _period(period)},
            operation="getAirStatsOfSim",
        )
        return _list(data, "getAirStatsOfSim")

    async def get_air_stats_operator(self, period: Period, start: datetime, end: datetime) -> list[Item]:
        """Operator-wide `AirStatsResponse` list (day: 7 days kept, month: 3 months)."""
        from_s, to_s = _window_s(start, end)
        data = await self.request_json(
            "GET",
            "/stats/air/operators/{operator_id}",
            path_params={"operator_id": self.operator_id},
            params={"from": from_s, "to": to_s, "period": _period(period)},
            operation="getAirStatsOfOperator",
        )
        return _list(data, "getAirStatsOfOperator")

    async def get_air_stats_group(
        self, group_id: str, period: Period, start: datetime, end: datetime
    ) -> list[Item]:
        """`AirStatsResponse` list of one group."""
        from_s, to_s = _window_s(start, end)
        data = await self.request_json(
            "GET",
            "/stats/air/groups/{group_id}",
            path_params={"group_id": group_id},
            params={"from": from_s, "to": to_s, "period": _period(period)},
            operation="getAirStatsOfGroup",
        )
        return _list(data, "getAirStatsOfGroup")

    async def export_air_usage(
        self, start: datetime, end: datetime, period: Period = "day", *, expected_rows: int | None = None
    ) -> bytes:
        """The Air data usage CSV (UTF-8 with BOM) of the operator. Exported sync when
        `expected_rows` (the caller's estimate) is at most `export_sync_max_rows`, else async."""
        from_s, to_s = _window_s(start, end)
        return await run_export(
            self,
            "/stats/air/operators/{operator_id}/export",
            {"from": from_s, "to": to_s, "period": _period(period)},
            operation="exportAirStats",
            path_params={"operator_id": self.operator_id},
            expected_rows=expected_rows,
        )

    async def export_air_usage_to_file(
        self,
        start: datetime,
        end: datetime,
        dest: str | os.PathLike[str],
        period: Period = "day",
        *,
        expected_rows: int | None = None,
    ) -> int:
        """`export_air_usage` streamed to the file `dest` (a day of 5-minute rows of a big fleet
        is ~1 GB); returns the file's size in bytes."""
        from_s, to_s = _window_s(start, end)
        return await run_export_to_file(
            self,
            "/stats/air/operators/{operator_id}/export",
            {"from": from_s, "to": to_s, "period": _period(period)},
            dest,
            operation="exportAirStats",
            path_params={"operator_id": self.operator_id},
            expected_rows=expected_rows,
        )

    # ---- Harvest Data ----------------------------------------------------------------
    def list_harvest_resources(
        self, *, resource_type: str | None = None, limit: int = 1000
    ) -> AsyncIterator[Item]:
        """Resources that sent data to Harvest (`DataResourceMetadata`)."""
        return self.items(
            "GET",
            "/data/resources",
            params={"resource_type": resource_type, "limit": limit},
            operation="listDataSourceResources",
        )

    def list_harvest_entries(
        self,
        resource_type: str,
        resource_id: str,
        start: datetime,
        end: datetime,
        *,
        sort: Literal["asc", "desc"] = "asc",
        limit: int = 1000,
    ) -> AsyncIterator[Item]:
        """Harvest `DataEntry` items of one resource in [start, end), oldest first by default."""
        if sort not in ("asc", "desc"):
            raise ValueError(f"sort must be 'asc' or 'desc', got {sort!r}")
        from_ms, to_ms = _window_ms(start, end)
        return self.items(
            "GET",
            "/data/{resource_type}/{resource_id}",
            path_params={"resource_type": resource_type, "resource_id": resource_id},
            params={"from": from_ms, "to": to_ms, "sort": sort, "limit": min(limit, 1000)},
            operation="getDataEntries",
        )

    # ---- audit logs ------------------------------------------------------------------
    def list_api_audit_logs(
        self, start: datetime, end: datetime, *, api_kind: str | None = None, limit: int = 1000
    ) -> AsyncIterator[Item]:
        """API audit log entries (`APIAuditLogEntry`), newest first."""
        from_ms, to_ms = _window_ms(start, end)
        return self.items(
            "GET",
            "/audit_logs/api",
            params={
                "from_epoch_ms": from_ms,
                "to_epoch_ms": to_ms,
                "api_kind": api_kind,
                "limit": min(limit, 1000),
            },
            operation="getApiAuditLogs",
        )

    def list_napter_audit_logs(
        self,
        start: datetime,
        end: datetime,
        *,
        resource_type: str | None = None,
        resource_id: str | None = None,
        limit: int = 1000,
    ) -> AsyncIterator[Item]:
        """Napter audit log entries (`NapterAuditLogEntry`), newest first."""
        from_ms, to_ms = _window_ms(start, end)
        return self.items(
            "GET",
            "/audit_logs/napter",
            params={
                "from": from_ms,
                "to": to_ms,
                "resource_type": resource_type,
                "resource_id": resource_id,
                "limit": min(limit, 1000),
            },
            operation="getNapterAuditLogs",
        )

    # ---- billing ---------------------------------------------------------------------
    async def list_bills(self) -> list[Item]:
        """Monthly bills (`MonthlyBill`) of the last 18 months (`billList`)."""
        data = await self.request_json("GET", "/bills", operation="getBillingHistory")
        return _list((data or {}).get("billList"), "getBillingHistory")

    async def get_bill(self, month: str | date | datetime) -> Item | None:
        """One month's `MonthlyBill`, or None when the API answers 404 (not final / no charge)."""
        try:
            return await self.request_json(
                "GET", "/bills/{yyyyMM}", path_params={"yyyyMM": yyyymm(month)}, operation="getBilling"
            )
        except SoracomAPIError as exc:
            if exc.status == 404:
                return None
            raise

    async def get_daily_bills(self, month: str | date | datetime) -> list[Item]:
        """`DailyBill`s of a month (`billList`); [] when the API answers 404 (no bill)."""
        try:
            data = await self.request_json(
                "GET",
                "/bills/{yyyyMM}/daily",
                path_params={"yyyyMM": yyyymm(month)},
                operation="getBillingPerDay",
            )
        except SoracomAPIError as exc:
            if exc.status == 404:
                return []
            raise
        return _list((data or {}).get("billList"), "getBillingPerDay")

    async def get_latest_bill(self) -> Item:
        """`GetLatestBill`: the current month so far (`lastEvaluatedTime` is yyyyMMddHHmmss)."""
        return await self.request_json("GET", "/bills/latest", operation="getLatestBilling")

    async def export_bill(self, month: str | date | datetime) -> bytes:
        """The detailed billing CSV of a month (UTF-8 with BOM)."""
        return await self.export(
            "/bills/{yyyyMM}/export", None, operation="exportBilling", path_params={"yyyyMM": yyyymm(month)}
        )

    async def export_latest_bill(self) -> bytes:
        """The detailed billing CSV of the current month (preliminary, changes daily)."""
        return await self.export("/bills/latest/export", None, operation="exportLatestBilling")

    async def get_bill_item_summaries(self) -> list[Item]:
        """`BillingSummaryResponseOfBillItems` for this month and the 3 before."""
        data = await self.request_json(
            "GET", "/bills/summaries/bill_items", operation="getBillingSummaryOfBillItems"
        )
        return _list(data, "getBillingSummaryOfBillItems")

    async def get_sim_bill_summaries(self) -> list[Item]:
        """`BillingSummaryResponseOfSims` for this month and the 3 before."""
        data = await self.request_json("GET", "/bills/summaries/sims", operation="getBillingSummaryOfSims")
        return _list(data, "getBillingSummaryOfSims")

    # ---- Soracom Query (Analysis API) --------------------------------------------------
    async def query_schemas(self) -> list[Item]:
        """The Query tables and their columns; QueryUnavailable (403) without Soracom Query."""
        return await query_schemas(self)

    async def start_query(self, sql: str, start: datetime, end: datetime) -> str:
        """Start a SQL query over [start, end) (seconds on the wire); returns its queryId."""
        return await start_query(self, sql, start, end)

    async def get_query(self, query_id: str) -> Item:
        """A query's status (`GetAnalysisQueriesResponse`)."""
        return await get_query(self, query_id)

    async def run_query_to_file(
        self,
        sql: str,
        start: datetime,
        end: datetime,
        dest: str | os.PathLike[str],
        *,
        timeout_s: float | None = None,
    ) -> QueryResult:
        """Start, poll (backoff, bounded wait) and stream the gzipped CSV result to `dest`."""
        return await run_query_to_file(self, sql, start, end, dest, timeout_s=timeout_s)

    # ---- exports ---------------------------------------------------------------------
    async def export(
        self,
        path: str,
        body: Mapping[str, Any] | None,
        *,
        operation: str,
        path_params: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> bytes:
        """Run an export (`export_mode=async`, poll, download) and return the file's bytes."""
        return await run_export(self, path, body, operation=operation, path_params=path_params, params=params)


def check_setup(clients: Iterable[SoracomClient]) -> None:
    """Open (authenticate) and close each client now, one after another: a run's preflight.
    A wrong endpoint, DNS name or key raises `SoracomSetupError` with one line in seconds."""

    async def check() -> None:
        for client in clients:
            async with client:
                pass

    asyncio.run(check())
