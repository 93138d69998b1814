"""The API side of exports: the `export_mode` answer and `GET /v1/files/exported/{id}`.

The API notes say a sync export "can time out on big files" but not where or how. The
sandbox's assumption: a sync export whose file is bigger than `export_sync_max_bytes` is
answered the way an API gateway answers a backend that took too long, after
`export_sync_timeout_s`: HTTP 504 `{"message": "Endpoint request timed out"}` (AWS API
Gateway's integration-timeout answer). No URL is handed out; an async export of the same
window works as usual.
"""

from __future__ import annotations

import asyncio
import time

from starlette.responses import Response

from sandbox.server.call import Call, Operation, json_response
from sandbox.server.errors import not_found
from sandbox.server.exports import Render


async def export_answer(call: Call, filename: str, render: Render) -> Response:
    """`sync` (the default) answers `{url}` (or a gateway timeout for a file too big, see the
    module's docstring); `async` answers `{exportedFileId, exportedFilePath}`."""
    mode = call.choice_query("export_mode", ("async", "sync"), "sync")
    registry = call.state.exports
    record = registry.create(call.coverage, filename, render, asynchronous=mode == "async")
    call.state.stats.exports_created += 1
    if mode == "sync":
        settings = call.state.settings
        if registry.rendered_size(record) > settings.export_sync_max_bytes:
            call.state.stats.export_sync_timeouts += 1
            await asyncio.sleep(settings.export_sync_timeout_s)
            return json_response({"message": "Endpoint request timed out"}, status=504)
        return json_response({"url": registry.download_url(call.request, record)})
    return json_response(
        {
            "exportedFileId": record.exported_file_id,
            # the official examples spell the path with a leading double slash
            "exportedFilePath": f"//files/exported/{record.exported_file_id}",
        }
    )


async def get_exported_file(call: Call) -> Response:
    exported_file_id = call.request.path_params["exported_file_id"]
    record = call.state.exports.get(exported_file_id)
    if record is None or record.coverage != call.coverage:
        raise not_found(f"No such exported file: {exported_file_id}")
    status = record.status(time.time())
    if status != "exported":
        return json_response({"status": status})
    return json_response({"status": status, "url": call.state.exports.download_url(call.request, record)})


OPERATIONS = [
    Operation("GET", "/files/exported/{exported_file_id}", "getExportedFile", get_exported_file),
]
