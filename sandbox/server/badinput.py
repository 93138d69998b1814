"""Bad input: answers that break the API contract, so tests can prove the pipeline either
loads them correctly or fails the partition with a clear error (never silently wrong).

One mode at a time, chosen by the `bad_input` setting (`--bad-input` on the CLI,
`POST /_sandbox/settings {"bad_input": ...}`); `bad_input_operations` (comma-separated
operationIds, empty = every operation the mode applies to) and `bad_input_fields`
(comma-separated field names for the field modes) narrow it down. Like faults, a mode
changes how answers are served and never the World; unlike faults, it changes what a
client reads, and each transformation is a pure function here so a test can apply it to
the ground truth.

| mode | applies to | what the client gets |
|---|---|---|
| `not_json` | 200 JSON answers | `this is not JSON` as `application/json` |
| `html_200` | 200 JSON answers | an HTML error page (`text/html`) with status 200 |
| `truncated` | 200 JSON answers | the first half of the body, as a complete response |
| `missing_fields` | items of 200 JSON answers | the named fields (default `imei`) removed |
| `extra_fields` | items of 200 JSON answers | a new scalar and a new object field added |
| `number_as_string` | items of 200 JSON answers | named number fields (default `time`) as strings |
| `null_values` | items of 200 JSON answers | named fields (default `time`) set to null |
| `leading_zero_ids` | JSON answers and CSV files | every IMSI prefixed with `00` |
| `harvest_huge` | Harvest entries | 1 in 20 entries' content padded to ~1 MB of JSON |
| `harvest_binary` | Harvest entries | content = all 256 byte values as code points + a lone surrogate |
| `harvest_not_json` | Harvest entries | JSON content cut in half (invalid JSON, contentType kept) |
| `csv_no_bom` | export downloads | the UTF-8 BOM removed |
| `csv_header_only` | export downloads | only the header line |
| `csv_tag_collision` | export downloads | the last three (tag) columns renamed to the first three names |
| `csv_extra_columns` | export downloads | a new column inserted third and another appended |
| `csv_non_utf8` | export downloads | Shift-JIS bytes appended to the last field of every data row |
| `sql_strings` | JSON and CSV | `SQLISH` before every tag value, Harvest content, CSV `name` |
"""

from __future__ import annotations

import csv
import io
import json
import zlib
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from sandbox.server.settings import SandboxSettings

JSON_BODY_MODES = ("not_json", "html_200", "truncated")
FIELD_MODES = ("missing_fields", "extra_fields", "number_as_string", "null_values")
HARVEST_MODES = ("harvest_huge", "harvest_binary", "harvest_not_json")
CSV_MODES = ("csv_no_bom", "csv_header_only", "csv_tag_collision", "csv_extra_columns", "csv_non_utf8")
ID_MODES = ("leading_zero_ids", "sql_strings")  # JSON answers and CSV files alike
BAD_INPUT_MODES = ("", *JSON_BODY_MODES, *FIELD_MODES, *HARVEST_MODES, *CSV_MODES, *ID_MODES)

DEFAULT_FIELDS = {"missing_fields": ("imei",), "number_as_string": ("time",), "null_values": ("time",)}
HARVEST_OPERATIONS = ("getDataEntries", "getDataFromSim", "getDataFromSubscriber")
UNTOUCHED_OPERATIONS = ("auth", "generateAuthToken")  # a client that cannot log in tests nothing

NOT_JSON_BODY = b"this is not JSON"
HTML_PAGE = (
    b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head>"
    b"<body><h1>Bad Gateway</h1><p>The proxy received an invalid response.</p></body></html>"
)
EXTRA_SCALAR = "sandboxUnexpectedField"
EXTRA_OBJECT = "sandboxUnexpectedObject"
EXTRA_VALUES = {EXTRA_SCALAR: "surprise", EXTRA_OBJECT: {"nested": [1, 2, 3], "flag": True}}
IMSI_KEYS = ("imsi", "primaryImsi")
LEADING_ZEROS = "00"
HUGE_BYTES = 1_000_000
HUGE_ONE_IN = 20
CSV_NEW_MIDDLE = "sandboxNewColumn"
CSV_NEW_LAST = "sandboxNewTrailingColumn"
NON_UTF8_SUFFIX = "テスト".encode("cp932")  # what a spreadsheet saved as Shift-JIS would hold
BOM = b"\xef\xbb\xbf"
# Text that breaks any SQL built by splicing values in: both quote styles, a statement end, a comment.
SQLISH = "x'); DROP TABLE sims; --\" OR 1=1; DROP VIEW groups; -- "


def check_mode(value: object) -> str:
    if value not in BAD_INPUT_MODES:
        raise ValueError(f"setting bad_input must be one of {', '.join(repr(m) for m in BAD_INPUT_MODES)}")
    return str(value)


def _names(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def applies(settings: SandboxSettings, operation_id: str) -> bool:
    """Whether the current mode corrupts answers of this /v1 operation."""
    mode = settings.bad_input
    if not mode or mode in CSV_MODES or operation_id in UNTOUCHED_OPERATIONS:
        return False
    if mode in HARVEST_MODES and operation_id not in HARVEST_OPERATIONS:
        return False
    wanted = _names(settings.bad_input_operations)
    return not wanted or operation_id in wanted


# --- pure transformations (tests apply them to the ground truth) --------------------------


def with_leading_zeros(imsi: str) -> str:
    return LEADING_ZEROS + imsi


def is_huge_target(entry: dict[str, Any]) -> bool:
    """Which Harvest entries `harvest_huge` inflates: a fixed 1 in 20, by resource and time."""
    key = f"{entry.get('resourceType')}|{entry.get('resourceId')}|{entry.get('time')}"
    return zlib.crc32(key.encode()) % HUGE_ONE_IN == 0


def huge_content(content: str | None) -> str:
    """Valid JSON text of about `HUGE_BYTES` holding the original content."""
    return json.dumps({"original": content, "padding": "x" * HUGE_BYTES}, separators=(",", ":"))


def binary_content() -> str:
    """Every byte value as a code point (NUL and controls included), then a lone surrogate:
    what raw binary looks like after a careless decode with `surrogateescape`."""
    return "".join(chr(b) for b in range(256)) + "\udcff"


def not_json_content(content: str | None) -> str:
    text = content or '{"value": 1}'
    return text[: max(1, len(text) // 2)]


def corrupt_harvest_entry(entry: dict[str, Any], mode: str) -> dict[str, Any]:
    content = entry.get("content")
    if mode == "harvest_huge":
        return {**entry, "content": huge_content(content)} if is_huge_target(entry) else entry
    if mode == "harvest_binary":
        return {**entry, "content": binary_content(), "contentType": "application/octet-stream"}
    if mode == "harvest_not_json":
        return {**entry, "content": not_json_content(content), "contentType": "application/json"}
    return entry


def corrupt_record(record: dict[str, Any], mode: str, fields: tuple[str, ...]) -> dict[str, Any]:
    """One item of a JSON answer under a field mode."""
    if mode == "missing_fields":
        return {k: v for k, v in record.items() if k not in fields}
    if mode == "extra_fields":
        return {**record, **EXTRA_VALUES}
    if mode == "number_as_string":
        return {
            k: str(v) if k in fields and isinstance(v, int | float) and not isinstance(v, bool) else v
            for k, v in record.items()
        }
    if mode == "null_values":
        return {k: None if k in fields else v for k, v in record.items()}
    return record


def _prefix_imsis(value: Any) -> Any:
    if isinstance(value, list):
        return [_prefix_imsis(v) for v in value]
    if isinstance(value, dict):
        return {
            k: with_leading_zeros(v) if k in IMSI_KEYS and isinstance(v, str) else _prefix_imsis(v)
            for k, v in value.items()
        }
    return value


def with_sql(text: str | None) -> str | None:
    return None if text is None else SQLISH + text


def _sql_strings(value: Any, key: str = "") -> Any:
    """Tag values (any `tags` map) and Harvest `content` get `SQLISH` in front."""
    if isinstance(value, list):
        return [_sql_strings(v) for v in value]
    if isinstance(value, dict):
        if key == "tags":
            return {k: with_sql(v) if isinstance(v, str) else v for k, v in value.items()}
        return {
            k: with_sql(v) if k == "content" and isinstance(v, str) else _sql_strings(v, k)
            for k, v in value.items()
        }
    return value


def _records(data: Any, change: Callable[[dict[str, Any]], dict[str, Any]]) -> Any:
    """Apply `change` to every item of a list answer, or to an object answer itself."""
    if isinstance(data, list):
        return [change(item) if isinstance(item, dict) else item for item in data]
    if isinstance(data, dict):
        return change(data)
    return data


def corrupt_json(body: bytes, mode: str, fields: tuple[str, ...] = ()) -> tuple[bytes, str]:
    """(new body, media type) of a 200 JSON answer under `mode`."""
    if mode == "not_json":
        return NOT_JSON_BODY, "application/json"
    if mode == "html_200":
        return HTML_PAGE, "text/html; charset=utf-8"
    if mode == "truncated":
        return body[: len(body) // 2], "application/json"
    data = json.loads(body)
    if mode in FIELD_MODES:
        chosen = fields or DEFAULT_FIELDS.get(mode, ())
        data = _records(data, lambda r: corrupt_record(r, mode, chosen))
    elif mode in HARVEST_MODES:
        data = _records(data, lambda r: corrupt_harvest_entry(r, mode))
    elif mode == "leading_zero_ids":
        data = _prefix_imsis(data)
    elif mode == "sql_strings":
        data = _sql_strings(data)
    # ensure_ascii keeps a lone surrogate encodable (as an escape), as a real JSON encoder would
    return json.dumps(data, separators=(",", ":"), ensure_ascii=mode == "harvest_binary").encode(), (
        "application/json"
    )


def _read_csv(data: bytes) -> list[list[str]]:
    text = data[len(BOM) :] if data.startswith(BOM) else data
    return list(csv.reader(io.StringIO(text.decode("utf-8"), newline="")))


def _write_csv(rows: Iterable[list[str]], bom: bool = True) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    return (BOM if bom else b"") + buf.getvalue().encode("utf-8")


def corrupt_csv(data: bytes, mode: str) -> bytes:
    """An export file's bytes under a CSV mode (or `leading_zero_ids`)."""
    if mode == "csv_no_bom":
        return data[len(BOM) :] if data.startswith(BOM) else data
    rows = _read_csv(data)
    if not rows:
        return data
    header, body = rows[0], rows[1:]
    if mode == "csv_header_only":
        return _write_csv([header])
    if mode == "csv_tag_collision" and len(header) >= 6:
        header = [*header[:-3], *header[:3]]
        return _write_csv([header, *body])
    if mode == "csv_extra_columns":
        rows = [
            [*r[:2], CSV_NEW_MIDDLE if i == 0 else "x", *r[2:], CSV_NEW_LAST if i == 0 else str(i)]
            for i, r in enumerate([header, *body])
        ]
        return _write_csv(rows)
    if mode == "csv_non_utf8":
        out = _write_csv([header]).rstrip(b"\r\n") + b"\r\n"
        for row in body:
            line = _write_csv([row], bom=False).rstrip(b"\r\n")
            out += line + NON_UTF8_SUFFIX + b"\r\n"
        return out
    if mode == "sql_strings" and "name" in header:
        at = header.index("name")
        body = [[with_sql(v) if i == at and v else v for i, v in enumerate(r)] for r in body]
        return _write_csv([header, *body])
    if mode == "leading_zero_ids" and "imsi" in header:
        at = header.index("imsi")
        body = [[with_leading_zeros(v) if i == at and v else v for i, v in enumerate(r)] for r in body]
        return _write_csv([header, *body])
    return data


# --- wiring into the app ----------------------------------------------------------------------

Endpoint = Callable[[Request], Awaitable[Response]]


def _replaced(response: Response, body: bytes, media_type: str) -> Response:
    headers = {
        k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "content-type")
    }
    return Response(body, status_code=response.status_code, headers=headers, media_type=media_type)


def corrupting(endpoint: Endpoint, operation_id: str, state: Any) -> Endpoint:
    """Wrap a /v1 endpoint so its 200 JSON answers follow the current bad-input mode."""

    async def wrapped(request: Request) -> Response:
        response = await endpoint(request)
        settings: SandboxSettings = state.settings
        if response.status_code != 200 or not applies(settings, operation_id):
            return response
        body = getattr(response, "body", None)  # a dropped connection has no body to corrupt
        if not isinstance(body, bytes | memoryview) or not body:
            return response
        new_body, media_type = corrupt_json(
            bytes(body), settings.bad_input, _names(settings.bad_input_fields)
        )
        state.stats.bad_inputs += 1
        return _replaced(response, new_body, media_type)

    wrapped.__name__ = getattr(endpoint, "__name__", operation_id)
    return wrapped


def _download_body(response: Response) -> bytes:
    """The bytes of a download answer: exports are served from disk as a `FileResponse`."""
    if isinstance(response, FileResponse):
        with open(response.path, "rb") as f:
            return f.read()
    return bytes(response.body)


def corrupting_downloads(routes: list[Route], download_prefix: str, state: Any) -> list[Route]:
    """The admin routes with the export download route wrapped for the CSV modes."""

    def wrap(endpoint: Endpoint) -> Endpoint:
        async def wrapped(request: Request) -> Response:
            response = await endpoint(request)
            mode = state.settings.bad_input
            if response.status_code != 200 or mode not in (*CSV_MODES, *ID_MODES) or not mode:
                return response
            state.stats.bad_inputs += 1
            return _replaced(response, corrupt_csv(_download_body(response), mode), "text/csv")

        return wrapped

    return [
        Route(r.path, wrap(r.endpoint), methods=list(r.methods or ()))
        if r.path.startswith(download_prefix)
        else r
        for r in routes
    ]
