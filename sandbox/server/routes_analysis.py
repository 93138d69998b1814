"""Soracom Query (Analysis API): `POST /v1/analysis/queries`, `GET /v1/analysis/queries/{id}`,
`GET /v1/analysis/schemas`, and the result download outside `/v1`.

Answers the sandbox picks where Soracom documents none (codes are the sandbox's own):
- an operator without Soracom Query (setting `query_enabled=false`): 403 `ANL0001` on all three;
- the monthly execution quota used up (`query_monthly_quota`): 403 `ANL0002` on start;
- SQL that may not run (syntax, unknown table/column/function, not one SELECT, file access):
  400 `ANL0003` with DuckDB's message, file paths removed;
- an unknown or expired query id: 404.
A query that fails while running (or `query_outcome=failed`) polls as status `FAILED` with a
`message`, as the official client expects (the spec's enum does not list it).
The result URL is like S3's: another host in reality, so the download refuses Soracom headers.
"""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from sandbox.server.call import Call, Operation, json_response
from sandbox.server.errors import ApiError, bad_request, not_found
from sandbox.server.exports import _s3_error
from sandbox.server.queries import QUERY_DOWNLOAD_PREFIX, QueryJob, QueryRejected
from sandbox.server.state import SandboxState
from sandbox.world import analysis
from sandbox.world.timeutil import month_index, yyyymm

NOT_SUBSCRIBED = "ANL0001"
QUOTA_EXHAUSTED = "ANL0002"
BAD_SQL = "ANL0003"


def _month(call: Call) -> str:
    return yyyymm(month_index(call.world.now))


def _require_subscription(call: Call) -> None:
    if not call.state.settings.query_enabled:
        raise ApiError(
            403,
            NOT_SUBSCRIBED,
            "Soracom Query is not enabled for this operator; subscribe to it in the User Console.",
        )


def _int_field(body: dict, name: str) -> int:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_request(f"{name!r} must be a UNIX time in seconds (integer), got {value!r}")
    return value


async def start_analysis_queries(call: Call) -> Response:
    _require_subscription(call)
    body = await call.json_body()
    sql = body.get("sql")
    if not isinstance(sql, str) or not sql.strip():
        raise bad_request("'sql' must be a non-empty SQL string")
    from_s, to_s = _int_field(body, "from"), _int_field(body, "to")
    if not 0 <= from_s < to_s:
        raise bad_request(f"'from' ({from_s}) must be before 'to' ({to_s}), both UNIX seconds")
    if to_s - from_s > analysis.MAX_WINDOW_S:
        raise bad_request(f"the window from {from_s} to {to_s} is longer than 31 days; split it")
    registry = call.state.queries
    month = _month(call)
    if registry.used.get(month, 0) >= call.state.settings.query_monthly_quota:
        raise ApiError(
            403,
            QUOTA_EXHAUSTED,
            f"The monthly number of query executions ({call.state.settings.query_monthly_quota}) "
            "is used up; try again next month or raise the limit.",
        )
    try:
        job = registry.start(call.world, call.coverage, sql, from_s, to_s, month)
    except QueryRejected as exc:
        raise ApiError(400, BAD_SQL, f"SQL compilation error: {exc}") from None
    return json_response({"queryId": job.query_id})


def _completed(call: Call, job: QueryJob, used: int) -> dict:
    base = f"{call.request.url.scheme}://{call.request.url.netloc}"
    return {
        "status": "COMPLETED",
        "url": call.state.queries.download_url(base, job),
        "rowCount": job.row_count,
        "fileSize": job.file_size,
        "uncompressedFileSize": job.uncompressed_size,
        "columnInfo": job.columns,
        "sqlExecTime": int(job.exec_s),
        "sqlExportTime": int(job.export_s),
        "usedExecCount": used,
    }


async def get_analysis_queries(call: Call) -> Response:
    _require_subscription(call)
    query_id = call.request.path_params["query_id"]
    registry = call.state.queries
    job = registry.get(query_id)
    if job is None or job.coverage != call.coverage:
        raise not_found(f"No such query: {query_id}")
    used = registry.used.get(_month(call), 0)
    status = registry.status(job)
    if status == "COMPLETED":
        return json_response(_completed(call, job, used))
    if status == "FAILED":
        return json_response({"status": "FAILED", "message": job.error, "usedExecCount": used})
    return json_response({"status": status, "usedExecCount": used})


async def get_analysis_schemas(call: Call) -> Response:
    _require_subscription(call)
    return json_response(analysis.schemas())


OPERATIONS = [
    Operation("POST", "/analysis/queries", "startAnalysisQueries", start_analysis_queries),
    Operation("GET", "/analysis/queries/{query_id}", "getAnalysisQueries", get_analysis_queries),
    Operation("GET", "/analysis/schemas", "getAnalysisSchemas", get_analysis_schemas),
]


def download_routes(state: SandboxState) -> list[Route]:
    """`GET /_query-results/{token}/{name}`: a result file, S3-like (no Soracom headers wanted)."""

    async def download(request: Request) -> Response:
        if "x-soracom-api-key" in request.headers or "x-soracom-token" in request.headers:
            return _s3_error(
                400, "InvalidArgument", "Soracom credentials were sent to the result file host; send none"
            )
        job = state.queries.by_token(request.path_params["token"])
        if job is None or job.path is None:
            return _s3_error(403, "AccessDenied", "Access Denied")
        if time.time() >= job.downloads[request.path_params["token"]]:
            return _s3_error(403, "AccessDenied", "Request has expired")
        state.stats.downloads += 1
        return FileResponse(job.path, media_type="application/octet-stream")

    return [Route(QUERY_DOWNLOAD_PREFIX + "/{token}/{name}", download, methods=["GET"])]
