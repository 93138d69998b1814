"""Async exports and queries are polled quickly at first, then less and less often (issue 15
section 3: a 0.5 s first delay growing 1.5x saw a 0.5 s export ~1.25 s after its start)."""

from __future__ import annotations

import itertools

import pytest

from pipelines.soracom import ClientSettings, polling

from .conftest import make_client, run


def _poll_times(settings: ClientSettings) -> list[float]:
    """Seconds after the start of each poll, unjittered, until `export_timeout_s`."""
    times = [0.0]
    for delay in polling.poll_delays(settings.export_poll_initial_s, settings.export_poll_max_s):
        if times[-1] + delay > settings.export_timeout_s:
            return times
        times.append(times[-1] + delay)
    raise AssertionError("unreachable")


def _seen_at(ready_s: float, times: list[float]) -> float:
    return next(t for t in times if t >= ready_s)


def test_a_job_is_seen_soon_after_it_is_ready_however_long_it_took():
    settings = ClientSettings()
    times = _poll_times(settings)
    for ready in [0.05, 0.25, 0.5, 0.75, 1.0, 2.0, 5.0, 30.0]:
        late = _seen_at(ready, times) - ready
        assert late <= 0.25 * ready + 0.2 + 1e-9, (ready, late)  # was up to 0.5 ready + 0.5 s
    # the sandbox's async export, ready just after 0.5 s: was seen at 1.25 s
    assert _seen_at(0.51, times) < 0.8


def test_polls_stay_bounded_over_a_long_job():
    settings = ClientSettings()
    delays = list(itertools.islice(polling.poll_delays(0.2, 10.0), 200))
    assert delays[:3] == pytest.approx([0.2, 0.25, 0.3125])
    assert max(delays) == delays[-1] == 10.0
    assert delays == sorted(delays)
    # a 30-minute wait costs about one poll per export_poll_max_s, plus the quick start
    polls = len(_poll_times(settings))
    assert polls <= settings.export_timeout_s / settings.export_poll_max_s + 20


def test_exports_wait_the_schedule_between_polls(sandbox, creds, monkeypatch):
    waits: list[float] = []
    real_sleep = polling.sleep_before_poll

    async def recorded(delay_s: float) -> None:
        waits.append(delay_s)
        await real_sleep(0.01)

    monkeypatch.setattr(polling, "sleep_before_poll", recorded)
    sandbox.settings.update({"export_delay_s": 0.1})  # the module's conftest restores it

    async def scenario() -> bytes:
        async with make_client(sandbox, creds, export_poll_initial_s=0.2, export_poll_max_s=10) as c:
            return await c.export_latest_bill()

    assert run(scenario())
    assert waits, "the export was never waited for"
    assert waits == list(itertools.islice(polling.poll_delays(0.2, 10), len(waits)))
