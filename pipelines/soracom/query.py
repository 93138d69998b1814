"""Soracom Query (Analysis API): start a SQL query, poll it to COMPLETED, download the result.

One query answers what would otherwise take one call per SIM. The result is a gzipped CSV at
a presigned URL on another host (S3): it is fetched without Soracom headers, streamed to disk
(never whole in memory), like export files. Polling reuses the export knobs of
`ClientSettings` (`export_poll_initial_s`, `export_poll_max_s`, `export_timeout_s`).
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import polling
from .errors import ExportError, SoracomAPIError, SoracomError
from .exports import _download
from .times import to_epoch_s

if TYPE_CHECKING:
    from .client import CoreClient

log = logging.getLogger("pipelines.soracom")

WAITING = ("STARTING", "RUNNING", "EXPORTING")


class QueryError(SoracomError):
    """A query failed on the server, did not finish in time, or its answer was unusable."""


class QueryUnavailable(QueryError):
    """The operator cannot run queries (no Soracom Query subscription, quota used up, no access):
    the caller may load the same rows another way."""

    def __init__(self, message: str, cause: SoracomAPIError) -> None:
        super().__init__(message)
        self.cause = cause


@dataclass(frozen=True)
class QueryResult:
    """A completed query whose gzipped CSV sits at `path`."""

    query_id: str
    path: Path
    row_count: int
    file_size: int
    columns: list[dict[str, Any]]
    used_exec_count: int | None


def _unavailable(error: SoracomAPIError) -> QueryUnavailable | SoracomAPIError:
    """403 on an Analysis call means the operator may not run queries now (not subscribed, or
    the monthly quota used up); every other refusal is a plain API error."""
    if error.status == 403:
        return QueryUnavailable(f"Soracom Query is not available to this operator: {error}", error)
    return error


def _window(start: datetime, end: datetime) -> tuple[int, int]:
    from_s, to_s = to_epoch_s(start, "start"), to_epoch_s(end, "end")
    if from_s >= to_s:
        raise ValueError(f"start {start.isoformat()} must be before end {end.isoformat()}")
    return from_s, to_s


async def query_schemas(client: CoreClient) -> list[dict[str, Any]]:
    """The Query tables and their columns (`GetAnalysisSchemasResponse`)."""
    try:
        data = await client.request_json("GET", "/analysis/schemas", operation="getAnalysisSchemas")
    except SoracomAPIError as error:
        raise _unavailable(error) from error
    if not isinstance(data, list):
        raise QueryError(f"getAnalysisSchemas: expected a JSON list, got {type(data).__name__}")
    return data


async def start_query(client: CoreClient, sql: str, start: datetime, end: datetime) -> str:
    """Start `sql` over the rows of [start, end) (sent in seconds); returns the query id."""
    from_s, to_s = _window(start, end)
    try:
        answer = await client.request_json(
            "POST",
            "/analysis/queries",
            json={"sql": sql, "from": from_s, "to": to_s},
            operation="startAnalysisQueries",
        )
    except SoracomAPIError as error:
        raise _unavailable(error) from error
    query_id = answer.get("queryId") if isinstance(answer, dict) else None
    if not query_id:
        raise QueryError(f"startAnalysisQueries: the answer holds no queryId: {str(answer)[:200]}")
    return str(query_id)


async def get_query(client: CoreClient, query_id: str) -> dict[str, Any]:
    """The status of a query (`GetAnalysisQueriesResponse`)."""
    try:
        data = await client.request_json(
            "GET",
            "/analysis/queries/{query_id}",
            path_params={"query_id": query_id},
            operation="getAnalysisQueries",
        )
    except SoracomAPIError as error:
        raise _unavailable(error) from error
    if not isinstance(data, dict):
        raise QueryError(f"getAnalysisQueries: expected a JSON object, got {type(data).__name__}")
    return data


async def wait_for_query(
    client: CoreClient, query_id: str, *, timeout_s: float | None = None
) -> dict[str, Any]:
    """Poll with growing, jittered delays until COMPLETED (returned) or FAILED / the deadline
    (QueryError naming the query and what to do)."""
    s = client.settings
    limit = s.export_timeout_s if timeout_s is None else timeout_s
    started = time.monotonic()
    delays = polling.poll_delays(s.export_poll_initial_s, s.export_poll_max_s)
    while True:
        answer = await get_query(client, query_id)
        status = answer.get("status")
        if status == "COMPLETED":
            if not answer.get("url"):
                raise QueryError(f"query {query_id}: COMPLETED without a download url")
            return answer
        if status == "FAILED":
            reason = answer.get("message") or answer.get("errorMessage") or "no reason given"
            raise QueryError(f"query {query_id} FAILED on the server: {reason}; fix the SQL or run it again")
        if status not in WAITING:
            log.debug("query %s: unexpected status %r, still waiting", query_id, status)
        waited, delay = time.monotonic() - started, next(delays)
        if waited + delay > limit:
            raise QueryError(
                f"query {query_id} still {status!r} after {waited:.0f}s (limit {limit:g}s, "
                "ClientSettings.export_timeout_s); try again later or query a shorter window"
            )
        await polling.sleep_before_poll(delay)


async def run_query_to_file(
    client: CoreClient,
    sql: str,
    start: datetime,
    end: datetime,
    dest: str | os.PathLike[str],
    *,
    timeout_s: float | None = None,
) -> QueryResult:
    """Start, wait for and download one query; the gzipped CSV is streamed to `dest`."""
    query_id = await start_query(client, sql, start, end)
    answer = await wait_for_query(client, query_id, timeout_s=timeout_s)
    path = Path(dest)
    try:
        size = await _download(client, f"query {query_id}", str(answer["url"]), path)
    except ExportError as error:
        raise QueryError(f"{error}; run the query again") from error
    client.stats.export_bytes += size
    rows = answer.get("rowCount")
    used = answer.get("usedExecCount")
    return QueryResult(
        query_id=query_id,
        path=path,
        row_count=int(rows) if isinstance(rows, int) else -1,
        file_size=size,
        columns=list(answer.get("columnInfo") or []),
        used_exec_count=int(used) if isinstance(used, int) else None,
    )
