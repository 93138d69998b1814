"""The core of the client: one pooled HTTP connection set, auth headers, retries,
rate limiting, pagination and bounded fan-out. Typed helpers live in `api.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json as jsonlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from . import first_contact
from .auth import TokenManager
from .credentials import Credentials
from .endpoints import check_endpoint, coverage_endpoint
from .errors import (
    PaginationLoopError,
    SoracomAPIError,
    SoracomAuthError,
    SoracomError,
    SoracomRetryError,
    parse_error_body,
)
from .pagination import CURSOR_PARAM, next_page
from .ratelimit import OperationLimiter, RateLimiter
from .retry import FaultKind, RetryBudget, is_retryable_status, server_advised_wait
from .settings import ClientSettings
from .stats import ClientStats
from .tls import shared_ssl_context

log = logging.getLogger("pipelines.soracom")

T = TypeVar("T")
R = TypeVar("R")

Params = Mapping[str, Any] | None

_CONNECTIONS_PER_SHARD = 4  # connections per httpx pool (see `open`)
_MAX_REPLAYS = 3  # 401s answered by a new token per call: the first always, more only when time explains them


@dataclass(frozen=True)
class ApiResponse:
    """A successful answer: status, headers (case-insensitive) and the JSON body parsed once."""

    status: int
    headers: httpx.Headers
    data: Any


@dataclass(frozen=True)
class _Call:
    method: str
    template: str
    path: str
    operation: str
    params: dict[str, Any] | None
    body: Any

    @property
    def name(self) -> str:
        return f"{self.operation} ({self.method} {self.template})"


@dataclass(frozen=True)
class _Attempt:
    """One send: the answer, or the transport error that came instead."""

    response: httpx.Response | None
    error: httpx.TransportError | None
    generation: int  # of the token sent (0 for unmanaged calls)
    seconds: float


@dataclass(frozen=True)
class _Replay:
    """A 401 on a managed call: re-authenticate (unless someone did) and send once more."""

    generation: int


@dataclass(frozen=True)
class _Fault:
    """An attempt to retry: its kind for the budget, its reason for the stats, what to report."""

    kind: FaultKind
    reason: str
    status: int | None
    detail: str
    advised_s: float | None = None
    error: BaseException | None = None


def _format_path(template: str, path_params: Mapping[str, Any] | None) -> str:
    if not path_params:
        return template
    try:
        return template.format(**{k: quote(str(v), safe="") for k, v in path_params.items()})
    except KeyError as exc:
        raise ValueError(f"path {template!r} needs the path parameter {exc.args[0]!r}") from None


def _clean_params(params: Params) -> dict[str, Any] | None:
    if not params:
        return None
    return {k: v for k, v in params.items() if v is not None}


def _snippet(body: bytes) -> str:
    return body[:60].decode("utf-8", "replace").replace("\n", " ")


class CoreClient:
    """Async Soracom API client. Use as `async with SoracomClient(...) as c:`."""

    def __init__(
        self,
        credentials: Credentials,
        *,
        endpoint: str | None = None,
        coverage: str = "jp",
        settings: ClientSettings | None = None,
    ) -> None:
        if not isinstance(credentials, Credentials):
            raise TypeError("credentials must be a Credentials (see resolve_credentials())")
        self.coverage = coverage
        self.endpoint = check_endpoint(endpoint) if endpoint else coverage_endpoint(coverage)
        self.base_url = self.endpoint + "/v1"
        self.settings = settings or ClientSettings()
        self.stats = ClientStats()
        self._principal = credentials.principal
        self._credentials = credentials
        self._contact_key = first_contact.key_of(self.endpoint, credentials)
        self._limiter = RateLimiter(
            enabled=self.settings.rate_limit, margin_s=self.settings.rate_limit_margin_s
        )
        self._slots = asyncio.Semaphore(self.settings.max_concurrency)
        self._tokens = TokenManager(credentials, self.settings, self._send_unmanaged)
        self._http: httpx.AsyncClient | None = None
        self._shards: list[httpx.AsyncClient] = []
        self._next_shard = itertools.cycle([0])
        self._download_transport: httpx.AsyncHTTPTransport | None = None

    def __repr__(self) -> str:
        return f"SoracomClient({self.base_url}, coverage={self.coverage}, {self._principal})"

    # ---- lifecycle -------------------------------------------------------------------
    async def __aenter__(self: T) -> T:
        await self.open()  # type: ignore[attr-defined]
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def open(self) -> None:
        """Open the connection pool and authenticate (the one `/auth` of this client)."""
        if self._http is None:
            s = self.settings
            # httpcore scans every connection of a pool for every queued request (and polls each
            # socket), so one pool of N connections costs O(N^2) per request: at N=32 that cost
            # more CPU than the request. Small pools, used in turn, keep it flat.
            shards = max(1, -(-s.max_concurrency // _CONNECTIONS_PER_SHARD))
            per_shard = -(-s.max_concurrency // shards) + 1
            tls = shared_ssl_context()  # one CA load, not one per pool (see `tls`)
            self._shards = [
                httpx.AsyncClient(
                    base_url=self.base_url,
                    verify=tls,
                    timeout=httpx.Timeout(s.timeout_s, connect=s.connect_timeout_s),
                    limits=httpx.Limits(max_connections=per_shard, max_keepalive_connections=per_shard),
                    headers={"User-Agent": s.user_agent, "Accept": "application/json"},
                    follow_redirects=False,
                )
                for _ in range(shards)
            ]
            self._http = self._shards[0]
            self._next_shard = itertools.cycle(range(shards))
        try:
            await self._first_contact()
        except BaseException:
            await self.aclose()
            raise
        self._sync_auth_stats()

    async def preflight(self) -> None:
        """Check the endpoint and credentials now: `open()`, whose first `/auth` fails within
        `first_contact_retry_seconds` with a one-line `SoracomSetupError` (or its subclass
        `CredentialsRejectedError`) naming the cause and the setting to fix."""
        await self.open()

    async def _first_contact(self) -> None:
        """`POST /auth`; a failure that means wrong setup is raised as a `SoracomSetupError`
        (see `first_contact`), and remembered so the run's other clients fail at once."""
        if self._tokens.operator_id is not None:
            return
        first_contact.raise_remembered(self._contact_key)
        try:
            await self._tokens.authenticate()
        except SoracomError as exc:
            error = first_contact.setup_error(
                exc, endpoint=self.endpoint, coverage=self.coverage, credentials=self._credentials
            )
            if error is None:
                raise
            first_contact.failed(self._contact_key, error)
            raise error from exc
        first_contact.succeeded(self._contact_key)

    async def aclose(self) -> None:
        for shard in self._shards:
            await shard.aclose()
        self._shards = []
        if self._download_transport is not None:
            await self._download_transport.aclose()
        self._http = self._download_transport = None

    def _download_pool(self) -> httpx.AsyncHTTPTransport:
        """The transport for presigned downloads (no Soracom headers), opened on first use."""
        if self._download_transport is None:
            self._download_transport = httpx.AsyncHTTPTransport(verify=shared_ssl_context(), retries=0)
        return self._download_transport

    @property
    def operator_id(self) -> str:
        """The operator id returned by `/auth`."""
        if self._tokens.operator_id is None:
            raise SoracomError("the client is not authenticated yet: use `async with SoracomClient(...)`")
        return self._tokens.operator_id

    def _sync_auth_stats(self) -> None:
        self.stats.auths = self._tokens.auths
        self.stats.token_refreshes = self._tokens.refreshes

    # ---- requests --------------------------------------------------------------------
    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Params = None,
        json: Any = None,
        path_params: Mapping[str, Any] | None = None,
        operation: str | None = None,
        raw: bool = False,
        retry_faults: bool = True,
    ) -> ApiResponse:
        """One API call (with retries); `path` is relative to `/v1` and may hold `{name}`s.

        With `raw`, `data` is the body's bytes, not parsed: for pages decoded in bulk
        (columnar, many pages at once) instead of one Python object per item. A 2xx body that
        is not framed as a JSON array or object (HTML, truncated) is retried like invalid JSON.
        Without `retry_faults`, the first 5xx, transport error or unusable answer raises
        `SoracomRetryError` at once (429s still wait for the window): for a call whose caller
        has a better plan than sending it again (a sync export that timed out goes async).
        """
        method = method.upper()
        call = _Call(
            method=method,
            template=path,
            path=_format_path(path, path_params),
            operation=operation or f"{method} {path}",
            params=_clean_params(params),
            body=json,
        )
        return await self._execute(call, "managed", raw=raw, retry_faults=retry_faults)

    async def request_raw(
        self,
        method: str,
        path: str,
        *,
        params: Params = None,
        path_params: Mapping[str, Any] | None = None,
        operation: str | None = None,
    ) -> ApiResponse:
        """`request(..., raw=True)`: the body's bytes, unparsed."""
        return await self.request(
            method, path, params=params, path_params=path_params, operation=operation, raw=True
        )

    async def request_json(
        self,
        method: str,
        path: str,
        *,
        params: Params = None,
        json: Any = None,
        path_params: Mapping[str, Any] | None = None,
        operation: str | None = None,
        retry_faults: bool = True,
    ) -> Any:
        """The parsed JSON body of one call (None for an empty body)."""
        response = await self.request(
            method,
            path,
            params=params,
            json=json,
            path_params=path_params,
            operation=operation,
            retry_faults=retry_faults,
        )
        return response.data

    async def _send_unmanaged(
        self, method: str, path: str, body: dict[str, Any], operation: str, headers: dict[str, str] | None
    ) -> Any:
        """Calls of the token manager itself: fixed headers, no 401 replay, no slot (it is called
        while a slot is held for the request that needs the token)."""
        call = _Call(method, path, path, operation, None, body)
        response = await self._execute(call, headers)
        return response.data

    async def _execute(
        self, call: _Call, auth: str | dict[str, str] | None, raw: bool = False, retry_faults: bool = True
    ) -> ApiResponse:
        """One call with its retries: send, judge the answer, wait and send again until an
        answer is returned, a refusal is raised or the retry budget is spent."""
        if self._http is None:
            raise SoracomError(f"{call.name}: the client is closed; use `async with SoracomClient(...)`")
        managed = auth == "managed"
        budget = self._retry_budget(call)
        limiter = self._limiter.for_operation(call.operation)
        replays = 0
        while True:
            budget.start_attempt()
            attempt = await self._attempt(call, auth, limiter)
            outcome = self._judge(
                call,
                attempt,
                raw=raw,
                managed=managed,
                may_replay=self._may_replay(managed, replays, attempt),
            )
            if isinstance(outcome, ApiResponse):
                return outcome
            if isinstance(outcome, _Replay):
                replays += 1
                self.stats.unauthorized_replays += 1
                await self._tokens.unauthorized(outcome.generation)
                self._sync_auth_stats()
                continue
            if not retry_faults and outcome.kind != "rate_limited":
                raise SoracomRetryError(
                    call.name, budget.attempts, budget.elapsed, outcome.status, outcome.detail
                ) from outcome.error
            await self._wait_to_retry(call, budget, outcome)

    def _may_replay(self, managed: bool, replays: int, attempt: _Attempt) -> bool:
        """A 401 is answered with a new token once; again only if the refused token was
        superseded or had outlived the lifetime the server gives tokens (it expired on the way:
        a slow answer on a busy machine), never more than `_MAX_REPLAYS` times."""
        if not managed or replays >= _MAX_REPLAYS:
            return False
        return replays == 0 or self._tokens.outlived(attempt.generation)

    def _retry_budget(self, call: _Call) -> RetryBudget:
        s = self.settings
        seconds = s.max_retry_seconds
        if self._is_first_contact(call):
            seconds = first_contact.retry_seconds(self._contact_key, s)
        return RetryBudget(
            s.max_attempts, s.max_rate_limited_attempts, seconds, s.backoff_base_s, s.backoff_max_s
        )

    async def _attempt(
        self, call: _Call, auth: str | dict[str, str] | None, limiter: OperationLimiter | None
    ) -> _Attempt:
        """Send once. The token is read after the slot and rate waits, right before sending: a
        request that queued longer than the token lived must not send an expired one."""
        managed = auth == "managed"
        async with self._slots if managed else contextlib.nullcontext():
            if limiter is not None:
                self.stats.rate_limit_wait_s += await limiter.acquire()
            started = time.monotonic()
            response: httpx.Response | None = None
            try:  # released whatever happens once acquired (a failed re-auth too)
                headers, generation = await self._headers(auth)
                self.stats.calls_by_operation[call.operation] += 1
                shard = self._shards[next(self._next_shard)]
                started = time.monotonic()
                try:
                    response = await shard.request(
                        call.method, call.path, params=call.params, json=call.body, headers=headers
                    )
                    return _Attempt(response, None, generation, time.monotonic() - started)
                except httpx.TransportError as exc:
                    return _Attempt(None, exc, generation, time.monotonic() - started)
            finally:
                if limiter is not None:
                    await limiter.release(
                        response.headers if response is not None else None,
                        response.status_code if response is not None else None,
                        sent_at=started,
                    )

    async def _headers(self, auth: str | dict[str, str] | None) -> tuple[dict[str, str] | None, int]:
        if auth != "managed":
            return auth, 0  # type: ignore[return-value]
        headers, generation = await self._tokens.headers()
        self._sync_auth_stats()
        return headers, generation

    def _judge(
        self, call: _Call, attempt: _Attempt, *, raw: bool, managed: bool, may_replay: bool
    ) -> ApiResponse | _Replay | _Fault:
        """What one attempt means: an answer, a 401 to replay with a new token, a fault to retry, or (raised)
        a refusal."""
        response = attempt.response
        if response is None:
            return self._transport_fault(call, attempt)
        status, body = response.status_code, response.content
        self.stats.bytes_received += len(body)
        log.debug("%s -> %s (%d bytes) in %.3fs", call.name, status, len(body), attempt.seconds)
        if 200 <= status < 300:
            if managed:
                self._tokens.succeeded(attempt.generation)
            return self._answer(response, body, raw)
        if status == 401 and may_replay:
            return _Replay(attempt.generation)
        if is_retryable_status(status):
            return self._status_fault(response, body)
        code, message = parse_error_body(body)
        if status == 401:
            if not managed:
                hint = "Check the credentials"
            elif self._tokens.outlived(attempt.generation):
                hint = (
                    f"New tokens expired before the server read them {_MAX_REPLAYS} times: its answers "
                    "take longer than it lets a token live"
                )
            else:
                hint = "The token was refused again right after re-authenticating"
            raise SoracomAuthError(call.name, status, code, message, hint=hint)
        raise SoracomAPIError(call.name, status, code, message)

    def _is_first_contact(self, call: _Call) -> bool:
        return call.operation == "auth" and self._tokens.operator_id is None

    def _transport_fault(self, call: _Call, attempt: _Attempt) -> _Fault:
        """No answer: retried, except a first contact whose host name does not exist."""
        failure = attempt.error
        self.stats.transport_errors += 1
        log.debug("%s: transport error %s after %.3fs", call.name, type(failure).__name__, attempt.seconds)
        detail = f"{type(failure).__name__}: {failure}" if str(failure) else type(failure).__name__
        final = self._is_first_contact(call) and first_contact.unresolvable(failure)
        return _Fault("final" if final else "transient", "transport", None, detail, error=failure)

    def _answer(self, response: httpx.Response, body: bytes, raw: bool) -> ApiResponse | _Fault:
        """A 2xx answer: its body parsed (or kept as bytes with `raw`), or an invalid-answer fault."""
        status = response.status_code
        if not body.strip():
            return ApiResponse(status, response.headers, b"" if raw else None)
        if raw and _framed_as_json(body):
            return ApiResponse(status, response.headers, body)
        if not raw:
            try:
                return ApiResponse(status, response.headers, jsonlib.loads(body))
            except ValueError:
                pass
        self.stats.invalid_json += 1
        ctype = response.headers.get("content-type", "no content-type")
        detail = f"answered {status} with a body that is not JSON ({ctype}: {_snippet(body)!r})"
        return _Fault("invalid_answer", "invalid_json", status, detail)

    def _status_fault(self, response: httpx.Response, body: bytes) -> _Fault:
        """A 429 or 5xx: retried, waiting at least what the server advised."""
        status = response.status_code
        code, message = parse_error_body(body)
        detail = f"{code}: {message}" if code else (message or "no error body")
        advised = server_advised_wait(response.headers, status)
        if status == 429:
            self.stats.http_429 += 1
            return _Fault("rate_limited", "rate_limited", status, detail, advised)
        self.stats.http_5xx += 1
        return _Fault("transient", "server_error", status, detail, advised)

    async def _wait_to_retry(self, call: _Call, budget: RetryBudget, fault: _Fault) -> None:
        delay = budget.next_delay(fault.kind, fault.advised_s)
        if delay is None:
            raise SoracomRetryError(
                call.name, budget.attempts, budget.elapsed, fault.status, fault.detail
            ) from fault.error
        self.stats.retries += 1
        self.stats.retries_by_reason[fault.reason] += 1
        log.debug(
            "%s: retrying in %.2fs after %s (attempt %d)", call.name, delay, fault.reason, budget.attempts
        )
        await asyncio.sleep(delay)

    # ---- pagination ------------------------------------------------------------------
    async def _page_responses(
        self,
        method: str,
        path: str,
        *,
        params: Params,
        json: Any,
        path_params: Mapping[str, Any] | None,
        operation: str | None,
        raw: bool,
    ) -> AsyncIterator[ApiResponse]:
        """The answer of every page of a list call, following `x-soracom-next-key` or
        `link: rel=next`. Pages may be short or empty while more follow; only the absence of
        a cursor ends the listing. A cursor seen twice raises `PaginationLoopError`."""
        current: dict[str, Any] = dict(_clean_params(params) or {})
        operation = operation or f"{method.upper()} {path}"
        seen: set[str] = set()
        if current.get(CURSOR_PARAM):
            seen.add(str(current[CURSOR_PARAM]))
        count = 0
        while True:
            response = await self.request(
                method,
                path,
                params=current,
                json=json,
                path_params=path_params,
                operation=operation,
                raw=raw,
            )
            count += 1
            self.stats.pages_by_operation[operation] += 1
            yield response
            following = next_page(response.headers, current)
            if following is None:
                return
            if following.cursor in seen:
                raise PaginationLoopError(f"{operation} ({method.upper()} {path})", following.cursor, count)
            seen.add(following.cursor)
            current = following.params

    async def pages(
        self,
        method: str,
        path: str,
        *,
        params: Params = None,
        json: Any = None,
        path_params: Mapping[str, Any] | None = None,
        operation: str | None = None,
        items_key: str | None = None,
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """The items of every page of a list call (see `_page_responses`)."""
        name = operation or f"{method.upper()} {path}"
        async for response in self._page_responses(
            method, path, params=params, json=json, path_params=path_params, operation=name, raw=False
        ):
            yield _page_items(response.data, items_key, name)

    async def raw_pages(
        self,
        method: str,
        path: str,
        *,
        params: Params = None,
        path_params: Mapping[str, Any] | None = None,
        operation: str | None = None,
    ) -> AsyncIterator[bytes]:
        """The body (bytes, a JSON array) of every page of a list call, unparsed, following the
        cursor like `pages`: for decoding many pages at once (see `request_raw`)."""
        async for response in self._page_responses(
            method, path, params=params, json=None, path_params=path_params, operation=operation, raw=True
        ):
            yield response.data

    async def items(
        self,
        method: str,
        path: str,
        *,
        params: Params = None,
        json: Any = None,
        path_params: Mapping[str, Any] | None = None,
        operation: str | None = None,
        items_key: str | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """Every item of every page of a list call."""
        async for page in self.pages(
            method,
            path,
            params=params,
            json=json,
            path_params=path_params,
            operation=operation,
            items_key=items_key,
        ):
            for item in page:
                yield item

    # ---- fan-out ---------------------------------------------------------------------
    async def iter_concurrent(
        self, func: Callable[[T], Awaitable[R]], items: Iterable[T], *, concurrency: int | None = None
    ) -> AsyncIterator[tuple[T, R]]:
        """Run `func(item)` for each item with at most `concurrency` in flight.

        Yields `(item, result)` as they complete. The first exception (with a note naming
        the item) cancels the rest and propagates unchanged.
        """
        limit = concurrency or self.settings.max_concurrency
        if limit < 1:
            raise ValueError(f"concurrency must be >= 1, got {limit}")
        source = iter(items)
        pending: dict[asyncio.Task[R], T] = {}

        def launch(count: int) -> None:
            for item in itertools.islice(source, count):
                pending[asyncio.ensure_future(func(item))] = item

        try:
            launch(limit)
            while pending:
                done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    item = pending.pop(task)
                    exc = task.exception()
                    if exc is not None:
                        exc.add_note(f"while processing {item!r}")
                        raise exc
                    yield item, task.result()
                launch(limit - len(pending))
        finally:
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)

    async def map_concurrent(
        self, func: Callable[[T], Awaitable[R]], items: Iterable[T], *, concurrency: int | None = None
    ) -> list[R]:
        """`[await func(x) for x in items]` with bounded concurrency, results in input order."""
        indexed = list(enumerate(items))
        results: dict[int, R] = {}

        async def run(pair: tuple[int, T]) -> R:
            return await func(pair[1])

        async for (index, _), result in self.iter_concurrent(run, indexed, concurrency=concurrency):
            results[index] = result
        return [results[i] for i in range(len(indexed))]


_JSON_WS = b" \t\r\n"


def _framed_as_json(body: bytes) -> bool:
    """Cheap check of a body kept unparsed: starts with `[`/`{` and ends with the match."""
    head = body[:64].lstrip(_JSON_WS)[:1]
    tail = body[-64:].rstrip(_JSON_WS)[-1:]
    return (head, tail) in ((b"[", b"]"), (b"{", b"}"))


def _page_items(data: Any, items_key: str | None, operation: str) -> list[dict[str, Any]]:
    if data is None:
        return []
    if items_key is not None and isinstance(data, dict):
        data = data.get(items_key) or []
    if not isinstance(data, list):
        raise SoracomError(
            f"{operation}: expected a JSON list of items, got {type(data).__name__}"
            + ("" if items_key else " (pass items_key= for answers that wrap the list)")
        )
    return data
