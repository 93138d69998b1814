"""The naive baseline: what soracom-cli's fetch-all does, one request at a time.

Sequential paging with no concurrency: list every SIM, then every SIM's session events;
export the usage CSVs synchronously and download them; list the Harvest resources, then
every resource's entries. No call is skipped, 429s and 5xx wait the CLI's fixed 10, 10,
20, 30, 50 s schedule. It only fetches (no decoding, no Parquet), so it is a lower bound
on what a naive loader would take.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx

from pipelines.soracom.pagination import next_page

CLI_RETRY_WAITS_S = (10, 10, 20, 30, 50)


@dataclass
class BaselineRun:
    source: str
    wall_s: float = 0.0
    calls: Counter[str] = field(default_factory=Counter)
    http_429: int = 0
    items: int = 0
    bytes: int = 0


class NaiveClient:
    """One blocking HTTP connection, one request at a time."""

    def __init__(self, origin: str, credentials: dict[str, str]) -> None:
        self.http = httpx.Client(base_url=origin + "/v1", timeout=600)
        answer = self.http.post("/auth", json=credentials)
        answer.raise_for_status()
        body = answer.json()
        self.operator_id = body["operatorId"]
        self.http.headers.update({"X-Soracom-API-Key": body["apiKey"], "X-Soracom-Token": body["token"]})
        self.run = BaselineRun("auth")

    def close(self) -> None:
        self.http.close()

    def call(self, operation: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        for wait in (*CLI_RETRY_WAITS_S, None):
            self.run.calls[operation] += 1
            answer = self.http.request(method, path, **kwargs)
            if answer.status_code != 429 and answer.status_code < 500:
                answer.raise_for_status()
                self.run.bytes += len(answer.content)
                return answer
            self.run.http_429 += answer.status_code == 429
            if wait is None:
                answer.raise_for_status()
            time.sleep(wait or 0)
        raise AssertionError("unreachable")

    def fetch_all(self, operation: str, path: str, params: dict[str, Any]) -> list[Any]:
        items: list[Any] = []
        while True:
            answer = self.call(operation, "GET", path, params=params)
            items.extend(answer.json())
            following = next_page(answer.headers, params)
            if following is None:
                return items
            params = following.params

    def download(self, url: str) -> bytes:
        content = httpx.get(url, timeout=600).content
        self.run.bytes += len(content)
        return content


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def session_events(c: NaiveClient, start: datetime, end: datetime) -> int:
    sims = c.fetch_all("listSims", "/sims", {"limit": 100})
    window = {"from": _ms(start), "to": _ms(end), "limit": 1000}
    return sum(
        len(c.fetch_all("listSimSessionEvents", f"/sims/{sim['simId']}/events/sessions", dict(window)))
        for sim in sims
    )


def _usage_export(c: NaiveClient, start: datetime, end: datetime, period: str) -> int:
    body = {
        "from": int(start.timestamp()),
        "to": int((end - timedelta(seconds=1)).timestamp()),
        "period": period,
    }
    answer = c.call(
        "exportAirStats",
        "POST",
        f"/stats/air/operators/{c.operator_id}/export",
        params={"export_mode": "sync"},
        json=body,
    )
    return c.download(answer.json()["url"]).count(b"\n") - 1


def air_traffic_daily(c: NaiveClient, start: datetime, end: datetime) -> int:
    return _usage_export(c, start, end, "day")


def air_traffic_5min(c: NaiveClient, start: datetime, end: datetime) -> int:
    return _usage_export(c, start, end, "minutes")


def harvest_entries(c: NaiveClient, start: datetime, end: datetime) -> int:
    resources = c.fetch_all("listDataSourceResources", "/data/resources", {"limit": 1000})
    window = {"from": _ms(start), "to": _ms(end), "sort": "asc", "limit": 1000}
    return sum(
        len(c.fetch_all("getDataEntries", f"/data/{r['resourceType']}/{r['resourceId']}", dict(window)))
        for r in resources
    )


FETCHERS = {
    "session_events": session_events,
    "air_traffic_daily": air_traffic_daily,
    "air_traffic_5min": air_traffic_5min,
    "harvest_entries": harvest_entries,
}


def run_baseline(origin: str, credentials: dict[str, str], source: str, start: datetime) -> BaselineRun:
    """Fetch one UTC day of `source` the naive way; the run's wall time excludes `/auth`."""
    client = NaiveClient(origin, credentials)
    try:
        client.run = BaselineRun(source)
        started = time.perf_counter()
        client.run.items = FETCHERS[source](client, start, start + timedelta(days=1))
        client.run.wall_s = time.perf_counter() - started
        return client.run
    finally:
        client.close()
