"""CSV exports: start the job, poll `/files/exported/{id}`, download the file.

An export expected to be small (`expected_rows` at most `export_sync_max_rows`) asks for the
file at once (`export_mode=sync`: the answer holds the URL, no polling); the API notes warn
that a sync export can time out on a big file, so a sync export that fails (a 5xx such as a
gateway's 504, a timeout, a dropped connection) is started again async, once, and polled.
Unknown or big sizes go async straight away.

The download URL is presigned: it is fetched with a separate HTTP client that sends no
Soracom headers, and only its scheme, host and path ever appear in logs or errors
(the query holds the signature).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload
from urllib.parse import urljoin, urlsplit

import httpx

from . import polling
from .errors import ExportError, SoracomRetryError
from .retry import RetryBudget, is_retryable_status

if TYPE_CHECKING:
    from .client import CoreClient

log = logging.getLogger("pipelines.soracom")


def redact_url(url: str) -> str:
    """`scheme://host/.../<file name>` of a URL: no query (signature), no inner path (may hold a token)."""
    parts = urlsplit(url)
    name = parts.path.rstrip("/").rsplit("/", 1)[-1]
    return f"{parts.scheme}://{parts.netloc}/.../{name}"


async def run_export(
    client: CoreClient,
    path: str,
    body: Mapping[str, Any] | None,
    *,
    operation: str,
    path_params: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
    expected_rows: int | None = None,
) -> bytes:
    """Run one export (sync when `expected_rows` says it is small, else async) and return the
    file's bytes."""
    name, url = await _start_and_wait(client, path, body, operation, path_params, params, expected_rows)
    data = await _download(client, name, url)
    client.stats.export_bytes += len(data)
    return data


async def run_export_to_file(
    client: CoreClient,
    path: str,
    body: Mapping[str, Any] | None,
    dest: str | os.PathLike[str],
    *,
    operation: str,
    path_params: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
    expected_rows: int | None = None,
) -> int:
    """Run one export and stream the file to `dest` (never whole in memory); returns its size."""
    name, url = await _start_and_wait(client, path, body, operation, path_params, params, expected_rows)
    size = await _download(client, name, url, Path(dest))
    client.stats.export_bytes += size
    return size


def wants_sync(expected_rows: int | None, max_rows: int) -> bool:
    """Sync only when the file is known to be small: an unknown size is treated as big."""
    return expected_rows is not None and 0 <= expected_rows <= max_rows and max_rows > 0


async def _start_and_wait(
    client: CoreClient,
    path: str,
    body: Mapping[str, Any] | None,
    operation: str,
    path_params: Mapping[str, Any] | None,
    params: Mapping[str, Any] | None,
    expected_rows: int | None,
) -> tuple[str, str]:
    """Start the export (sync when `expected_rows` says it is small) and wait until it can be
    downloaded: (name for messages, URL)."""
    name = f"export {operation} ({path})"
    payload = dict(body) if body is not None else None
    if wants_sync(expected_rows, client.settings.export_sync_max_rows):
        try:
            answer = await client.request_json(
                "POST",
                path,
                params={"export_mode": "sync", **(params or {})},
                json=payload,
                path_params=path_params,
                operation=operation,
                retry_faults=False,
            )
        except SoracomRetryError as error:  # a 4xx (bad window, no such bill) raises as it is
            client.stats.export_sync_fallbacks += 1
            log.warning("%s: the sync export failed (%s); exporting async instead", name, error.last_error)
        else:
            client.stats.exports += 1
            if isinstance(answer, dict) and answer.get("url"):
                client.stats.exports_sync += 1
            return name, await _url_of(client, name, answer, time.monotonic())
    query = {"export_mode": "async", **(params or {})}
    started = time.monotonic()
    answer = await client.request_json(
        "POST", path, params=query, json=payload, path_params=path_params, operation=operation
    )
    client.stats.exports += 1
    return name, await _url_of(client, name, answer, started)


async def _url_of(client: CoreClient, name: str, answer: Any, started: float) -> str:
    """The download URL of an export's answer: given at once, or polled for by its file id."""
    if not isinstance(answer, dict):
        raise ExportError(f"{name}: expected a JSON object, got {type(answer).__name__}")
    url = answer.get("url")
    if not url:
        file_id = answer.get("exportedFileId")
        if not file_id:
            raise ExportError(f"{name}: the answer holds neither url nor exportedFileId")
        url = await _wait_for_file(client, name, str(file_id), started)
    return str(url)


async def _wait_for_file(client: CoreClient, name: str, file_id: str, started: float) -> str:
    s = client.settings
    delays = polling.poll_delays(s.export_poll_initial_s, s.export_poll_max_s)
    while True:
        status = await client.request_json(
            "GET",
            "/files/exported/{exported_file_id}",
            path_params={"exported_file_id": file_id},
            operation="getExportedFile",
        )
        state = status.get("status") if isinstance(status, dict) else None
        if state == "exported" and status.get("url"):
            return str(status["url"])
        if state == "failed":
            raise ExportError(f"{name}: export {file_id} failed on the server; start it again")
        if state not in ("processing", "exported", None):
            log.debug("%s: unexpected export status %r, still waiting", name, state)
        waited, delay = time.monotonic() - started, next(delays)
        if waited + delay > s.export_timeout_s:
            raise ExportError(
                f"{name}: export {file_id} still {state!r} after {waited:.0f}s "
                f"(export_timeout_s={s.export_timeout_s:g}); try again later"
            )
        await polling.sleep_before_poll(delay)


@overload
async def _download(client: CoreClient, name: str, url: str) -> bytes: ...
@overload
async def _download(client: CoreClient, name: str, url: str, dest: Path) -> int: ...


async def _download(client: CoreClient, name: str, url: str, dest: Path | None = None) -> bytes | int:
    """GET the presigned URL without Soracom headers, retrying transient failures; the body is
    returned, or streamed to `dest` (rewritten from the start on a retry) and its size returned.

    The request goes straight to an httpx transport, not through an `httpx.AsyncClient`,
    because the client logs every request URL (with its signed query) at INFO level.
    """
    s = client.settings
    if url.startswith("/"):
        url = urljoin(client.endpoint + "/", url)
    shown = redact_url(url)
    transport = client._download_pool()
    timeout = httpx.Timeout(s.timeout_s * 5, connect=s.connect_timeout_s).as_dict()
    last = ""
    budget = RetryBudget(
        s.max_attempts, s.max_rate_limited_attempts, s.max_retry_seconds, s.backoff_base_s, s.backoff_max_s
    )
    while True:  # transient failures retried for max_retry_seconds, like API calls
        budget.start_attempt()
        try:
            request = httpx.Request(
                "GET", url, headers={"User-Agent": s.user_agent}, extensions={"timeout": timeout}
            )
            response = await transport.handle_async_request(request)
            try:
                if dest is None or response.status_code != 200:
                    content = await response.aread()
                else:
                    size = 0
                    with open(dest, "wb") as sink:
                        async for chunk in response.aiter_bytes(1 << 20):
                            sink.write(chunk)
                            size += len(chunk)
            finally:
                await response.aclose()
        except httpx.TransportError as exc:
            last = type(exc).__name__
        except httpx.InvalidURL:
            raise ExportError(f"{name}: the download URL is not valid ({shown})") from None
        else:
            if response.status_code == 200 and dest is not None:
                client.stats.bytes_received += size
                log.debug("%s: downloaded %d bytes from %s to a file", name, size, shown)
                return size
            if response.status_code == 200:
                client.stats.bytes_received += len(content)
                log.debug("%s: downloaded %d bytes from %s", name, len(content), shown)
                return content
            last = f"HTTP {response.status_code}"
            if not is_retryable_status(response.status_code):
                raise ExportError(
                    f"{name}: downloading {shown} failed with {last} (link expired? export again)"
                )
        delay = budget.next_delay("transient")
        if delay is None:
            raise ExportError(
                f"{name}: downloading {shown} failed {budget.attempts} times "
                f"in {budget.elapsed:.1f}s; last: {last}"
            )
        await asyncio.sleep(delay)
