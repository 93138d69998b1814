"""Every key of every answer lands in the lake (issue 16 item 1).

For each registered source (`assets.tables.SOURCES`) the test runs its own fetch against the
sandbox, records every JSON answer and every downloaded CSV, and checks that each key path of
each answer (`previousSession.cell.lac`, a CSV column) has its values in one typed column of
the frame, or under the same key in a JSON text column (`_extra`, tags, profiles, ...).
A key the shape declares (so kept out of `_extra`) but the frame never outputs fails here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import polars as pl
import pytest

from assets.loading import Batches, Fetched, Progress
from assets.partitions import window_for
from assets.source import Source
from assets.tables import SOURCES
from pipelines.soracom import ClientSettings, Credentials, SoracomClient, exports, parse_csv
from pipelines.soracom.client import CoreClient

pytestmark = pytest.mark.integration

# Calls a fetch makes to steer itself, whose answers are stored by another table or never
# (export handles and polls are file ids and presigned URLs, never stored).
CONTROL = {
    "auth",
    "exportAirStats",
    "exportBilling",
    "exportLatestBilling",
    "getExportedFile",
}
CONTROL_BY_TABLE = {
    # the SIMs whose events to read; the SIM list itself is the `sims` table
    "session_events": {"listSims"},
    # the resources whose entries to read; the entries are the table
    "harvest_entries": {"listDataSourceResources"},
    # read only for the month's preliminary flag; the bill itself is the `bills` table
    "daily_bills": {"getBilling", "getLatestBilling"},
    "billing_items": {"getBilling", "getLatestBilling"},
}
JSON_TEXT = re.compile(r"^(\{|\[)")


class _Log:
    def info(self, message: str) -> None: ...

    def warning(self, message: str) -> None: ...


def _key_of(source: Source, now: datetime) -> str:
    """A closed partition with data: the previous month, yesterday, or an hour of yesterday."""
    name = type(source.partitions_def).__name__
    if name.startswith("Monthly"):
        first = now.replace(day=1) - timedelta(days=1)
        return first.strftime("%Y-%m-01")
    day = (now - timedelta(days=1)).strftime("%Y-%m-%d")
    return f"{day}-12:00" if name.startswith("Hourly") else day


def _flatten(value: Any, path: str, out: dict[str, list[Any]]) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            _flatten(inner, f"{path}.{key}" if path else key, out)
    elif isinstance(value, list):
        for inner in value:
            _flatten(inner, path, out)
    elif value is not None and value != "":
        out.setdefault(path, []).append(value)


def _norm(value: Any) -> set[Any]:
    """The forms a value may take in a column: numbers as Decimals, dates as text and yyyyMMdd."""
    if isinstance(value, bool):
        return {value}
    if isinstance(value, int | float | Decimal):
        return {Decimal(str(value)).normalize()}
    if isinstance(value, datetime):
        texts = (value.isoformat(), value.strftime("%Y%m%d%H%M"), value.strftime("%Y%m%d%H%M%S"))
        epoch = Decimal(str(value.timestamp()))
        return {texts[0], Decimal(texts[1]), Decimal(texts[2]), epoch.normalize(), (epoch * 1000).normalize()}
    if isinstance(value, date):
        return {value.isoformat(), Decimal(value.strftime("%Y%m%d"))}
    text = str(value).strip()
    forms: set[Any] = {text}
    with contextlib.suppress(InvalidOperation):
        forms.add(Decimal(text).normalize())
    return forms


def _frame_of(fetched: Fetched) -> pl.DataFrame:
    if isinstance(fetched.frame, Batches):
        return pl.concat(list(fetched.frame.read()), how="diagonal_relaxed")
    return fetched.frame


def _stored(frame: pl.DataFrame) -> tuple[list[set[Any]], dict[str, set[Any]]]:
    """Each typed column's normalised values, and the leaf values of JSON text columns by key."""
    columns: list[set[Any]] = []
    by_key: dict[str, set[Any]] = {}
    for name in frame.columns:
        values = [v for v in frame[name].to_list() if v is not None]
        if frame[name].dtype == pl.Utf8 and values and all(JSON_TEXT.match(v) for v in values):
            for text in values:
                leaves: dict[str, list[Any]] = {}
                _flatten(json.loads(text), "", leaves)
                for path, found in leaves.items():
                    leaf = path.rsplit(".", 1)[-1]
                    by_key.setdefault(leaf, set()).update(*(_norm(v) for v in found))
            continue
        if isinstance(frame[name].dtype, pl.List):
            values = [v for inner in values for v in inner]
        forms: set[Any] = set()
        for v in values:
            forms |= _norm(v)
        columns.append(forms)
    return columns, by_key


def _lost(
    answers: list[dict[str, list[Any]]], frame: pl.DataFrame, partition: set[Any]
) -> dict[str, list[Any]]:
    """Key paths whose values are in no typed column, not under their key in any JSON column,
    and not the partition's own value (a day's `date` lives in the lake path)."""
    columns, by_key = _stored(frame)
    columns.append(partition)
    lost: dict[str, list[Any]] = {}
    for answer in answers:
        for path, values in answer.items():
            wanted: list[set[Any]] = [_norm(v) for v in values]
            leaf = path.rsplit(".", 1)[-1]
            if all(w & by_key.get(leaf, set()) for w in wanted):
                continue
            if any(all(w & column for w in wanted) for column in columns):
                continue
            lost[path] = values[:3]
    return lost


class _Recorder:
    """Every JSON answer (by operationId) and every downloaded file of one fetch."""

    def __init__(self) -> None:
        self.json: list[tuple[str, Any]] = []
        self.files: list[bytes] = []

    def clear(self) -> None:
        self.json.clear()
        self.files.clear()

    def answers(self, table: str) -> list[dict[str, list[Any]]]:
        skip = CONTROL | CONTROL_BY_TABLE.get(table, set())
        out = []
        for operation, data in self.json:
            if operation in skip:
                continue
            leaves: dict[str, list[Any]] = {}
            _flatten(data, "", leaves)
            out.append(leaves)
        for body in self.files:
            csv = parse_csv(body)
            out.append({c: [v for v in csv[c].to_list() if v not in (None, "")] for c in csv.columns})
        return [a for a in out if a]


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Recorder]:
    record = _Recorder()
    execute, download = CoreClient._execute, exports._download

    async def recorded_execute(
        self: CoreClient, call: Any, auth: Any, raw: bool = False, **options: Any
    ) -> Any:
        response = await execute(self, call, auth, raw, **options)
        data = response.data
        if isinstance(data, bytes | bytearray) and data:
            data = json.loads(data)
        if data is not None:
            record.json.append((call.operation, data))
        return response

    async def recorded_download(client: Any, name: str, url: str, dest: Any = None) -> Any:
        result = (
            await download(client, name, url, dest) if dest is not None else await download(client, name, url)
        )
        record.files.append(dest.read_bytes() if dest is not None else result)
        return result

    monkeypatch.setattr(CoreClient, "_execute", recorded_execute)
    monkeypatch.setattr(exports, "_download", recorded_download)
    yield record


@pytest.mark.parametrize("source", SOURCES, ids=[s.name for s in SOURCES])
def test_each_key_of_each_answer_lands_in_a_column_or_extra(sandbox, recorder, source: Source) -> None:
    now = sandbox.world.now
    credentials = Credentials.auth_key_pair(sandbox.credentials["authKeyId"], sandbox.credentials["authKey"])

    async def fetch() -> Fetched:
        settings = ClientSettings(export_poll_initial_s=0.05, export_poll_max_s=0.2)
        async with SoracomClient(credentials, endpoint=sandbox.url, settings=settings) as client:
            return await source.fetch(client, window, Progress(_Log(), "jp", now))

    key = _key_of(source, now)
    for _ in range(24):  # sparse sources (Napter audit hours): step back to a partition with data
        window = window_for(source.partitions_def, key)
        recorder.clear()
        fetched = asyncio.run(fetch())
        try:
            frame = _frame_of(fetched)
        finally:
            if fetched.cleanup is not None:
                fetched.cleanup()
        answers = recorder.answers(source.name)
        if answers and frame.height:
            break
        key = source.partitions_def.get_partition_key_for_timestamp(
            (window.start - timedelta(seconds=1)).timestamp()
        )
    assert answers and frame.height, f"{source.name}: the sandbox answered nothing to check"
    partition = set().union(*(_norm(v) for v in (window.start, window.start.date())))
    assert _lost(answers, frame, partition) == {}
