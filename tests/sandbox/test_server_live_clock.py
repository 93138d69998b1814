"""`--now live`: the world's `now` follows a clock, so new hours, days and months arrive while the
server runs, and the past stays as it was. The clock is injected (stepped by hand here; the
wall clock with `--now live`), so no test waits or fakes time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sandbox.server.state import wall_clock
from sandbox.testing import parse_clock, start_sandbox
from sandbox.world.api_audit import entry_time_ms
from tests.conftest import authenticated_client

START = datetime(2026, 11, 30, 22, 0, tzinfo=UTC)
DAY_S = 86_400


class Steps:
    """A clock a test moves by hand."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def test_now_follows_the_clock_new_data_arrives_and_the_past_stays():
    clock = Steps(START)
    with start_sandbox(sims=40, seed=11, now=START, clock=clock) as handle:
        api = authenticated_client(handle.url, handle.credentials)
        operator = f"/v1/stats/air/operators/{handle.operator_id}"
        day_window = {
            "from": int(START.timestamp()) - 3 * DAY_S,
            "to": int(START.timestamp()),
            "period": "day",
        }
        before = api.get(operator, params=day_window).json()
        month_before = api.get(operator, params={**day_window, "period": "month"}).json()
        assert api.get("/_sandbox/health").json()["now"] == START.isoformat()

        clock.at = START + timedelta(hours=3, seconds=20)  # past midnight: a new day and month
        health = api.get("/_sandbox/health").json()
        assert health["now"] == (START + timedelta(hours=3)).isoformat()
        assert handle.state.world.now == START + timedelta(hours=3)

        # the past (the days completed before START) is unchanged; START's own day has grown
        today = int(START.timestamp()) // DAY_S * DAY_S
        again = api.get(operator, params=day_window).json()
        assert [d for d in again if d["unixtime"] < today] == [d for d in before if d["unixtime"] < today]
        assert again[-1]["unixtime"] == before[-1]["unixtime"] == today
        assert again[-1]["downloadByteSizeTotal"] > before[-1]["downloadByteSizeTotal"]
        # the new day (December 1st) and month have arrived
        later = {"from": int(START.timestamp()) - 3 * DAY_S, "to": int(clock.at.timestamp())}
        days = api.get(operator, params={**later, "period": "day"}).json()
        months = api.get(operator, params={**later, "period": "month"}).json()
        december = int(datetime(2026, 12, 1, tzinfo=UTC).timestamp())
        assert any(d["unixtime"] == december for d in days), days
        assert any(m["unixtime"] == december for m in months), months
        assert not any(m["unixtime"] == december for m in month_before)

        # the API audit log keeps the calls made before the clock moved
        log = api.get(
            "/v1/audit_logs/api",
            params={"from_epoch_ms": int(START.timestamp() * 1000) - 1, "limit": 1000},
        ).json()
        assert any(
            e["requestPath"] == operator and entry_time_ms(e) < int(START.timestamp() * 1000) + 60_000
            for e in log
        ), log[:3]
        api.close()


def test_now_never_moves_back_and_a_fixed_sandbox_does_not_move():
    clock = Steps(START)
    with start_sandbox(sims=10, seed=11, now=START, clock=clock) as handle:
        clock.at = START - timedelta(hours=1)
        assert handle.state.world.now == START
    with start_sandbox(sims=10, seed=11, now=START) as handle:
        assert not handle.state.live and handle.state.world.now == START


def test_now_live_is_the_wall_clock():
    assert parse_clock("live") is wall_clock
    assert parse_clock("2026-11-30T00:00:00Z") is None and parse_clock(None) is None
