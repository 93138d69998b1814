"""Exported files (billing and Air usage CSVs) and their presigned-like download URLs.

An export is registered with a function that writes its file. `sync` mode renders at
once and answers `{url}` (or a gateway timeout for a file over `export_sync_max_bytes`, see
`exports_api`); `async` answers `{exportedFileId, exportedFilePath}` and the
file reports `processing` until `export_delay_s` has passed, then its final outcome
(the `export_outcome` setting at creation time: `exported`, or `processing` forever, or
`failed`). The download URL lives outside `/v1`, needs no Soracom headers, carries an
unguessable token and expires after `download_url_ttl_s` (403, S3-style XML body).
"""

from __future__ import annotations

import os
import secrets
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from sandbox.server.settings import SandboxSettings

DOWNLOAD_PREFIX = "/_files"
KEPT_RENDERED_FILES = 2  # rendered export files kept on disk (older ones are rendered again)

Render = Callable[[BinaryIO], object]  # writes the export file into the binary file given


@dataclass
class ExportRecord:
    exported_file_id: str
    coverage: str
    filename: str
    render: Render
    created: float
    ready_at: float
    outcome: str
    path: str | None = None  # the rendered file, while kept
    downloads: dict[str, float] = field(default_factory=dict)  # token -> expiry (time.time())

    def status(self, now: float) -> str:
        if now < self.ready_at:
            return "processing"
        return self.outcome


class ExportRegistry:
    """Every export of this server process, by exported file id and by download token."""

    def __init__(self, settings: SandboxSettings) -> None:
        self._settings = settings
        self._by_id: dict[str, ExportRecord] = {}
        self._by_token: dict[str, ExportRecord] = {}
        self._rendered: list[ExportRecord] = []  # records holding a rendered file, oldest first
        self._dir = tempfile.TemporaryDirectory(prefix="soracom-sandbox-exports-")

    def create(self, coverage: str, filename: str, render: Render, asynchronous: bool) -> ExportRecord:
        now = time.time()
        record = ExportRecord(
            exported_file_id=f"fe_{uuid.uuid4()}",
            coverage=coverage,
            filename=filename,
            render=render,
            created=now,
            ready_at=now + (self._settings.export_delay_s if asynchronous else 0.0),
            outcome=self._settings.export_outcome if asynchronous else "exported",
        )
        self._by_id[record.exported_file_id] = record
        return record

    def _render(self, record: ExportRecord) -> None:
        """Render a record's file (again, if it was dropped) to disk, streamed: a day of 5-minute
        usage of 100k SIMs is ~1 GB, which must not sit in the server's memory. Only the last few
        rendered files are kept; the world renders the same bytes again whenever asked."""
        if record.path is None or not os.path.exists(record.path):
            path = os.path.join(self._dir.name, f"{record.exported_file_id}.csv")
            with open(path + ".tmp", "wb") as out:
                record.render(out)
            os.replace(path + ".tmp", path)
            record.path = path
        self._rendered = [r for r in self._rendered if r is not record] + [record]
        while len(self._rendered) > KEPT_RENDERED_FILES:
            dropped = self._rendered.pop(0)
            if dropped.path is not None:
                os.unlink(dropped.path)  # a download already streaming keeps its open file
                dropped.path = None

    def rendered_size(self, record: ExportRecord) -> int:
        """The size in bytes of the record's file (rendered now if it is not kept)."""
        self._render(record)
        assert record.path is not None
        return os.path.getsize(record.path)

    def get(self, exported_file_id: str) -> ExportRecord | None:
        return self._by_id.get(exported_file_id)

    def download_url(self, request: Request, record: ExportRecord) -> str:
        """A fresh, expiring, unguessable URL on this server for the record's file."""
        self._render(record)
        token = secrets.token_urlsafe(32)
        expires = time.time() + self._settings.download_url_ttl_s
        record.downloads[token] = expires
        self._by_token[token] = record
        base = f"{request.url.scheme}://{request.url.netloc}"
        return f"{base}{DOWNLOAD_PREFIX}/{token}/{record.filename}?Expires={int(expires)}"

    def download(self, token: str) -> Response:
        record = self._by_token.get(token)
        if record is None:
            return _s3_error(403, "AccessDenied", "Access Denied")
        if time.time() >= record.downloads[token]:
            return _s3_error(403, "AccessDenied", "Request has expired")
        self._render(record)
        assert record.path is not None
        return FileResponse(
            record.path,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{record.filename}"'},
        )


def _s3_error(status: int, code: str, message: str) -> Response:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    )
    return Response(body, status_code=status, media_type="application/xml")
