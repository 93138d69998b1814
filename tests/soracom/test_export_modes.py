"""Sync or async exports: a small expected file is asked for at once (no polling), an unknown
or big one runs async, and a sync export that times out (the sandbox's gateway 504, or the
client's own read timeout) is run again async, giving the same bytes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from pipelines.soracom import SoracomAPIError
from pipelines.soracom.exports import wants_sync

from .conftest import make_client, run

pytestmark = pytest.mark.integration


def _export(sandbox, creds, expected_rows: int | None, **settings):
    world = sandbox.world

    async def scenario():
        async with make_client(sandbox, creds, **settings) as c:
            start, end = world.now - timedelta(days=2), world.now - timedelta(days=1)
            data = await c.export_air_usage(start, end, "day", expected_rows=expected_rows)
            return data, c.stats

    return run(scenario())


def test_wants_sync_only_for_a_known_small_file():
    assert wants_sync(100, 200)
    assert wants_sync(200, 200)
    assert not wants_sync(201, 200)
    assert not wants_sync(None, 200)  # unknown size: async
    assert not wants_sync(0, 0)  # 0 turns sync off


def test_a_small_export_is_sync_and_equals_the_async_one(sandbox, creds):
    sync_data, sync_stats = _export(sandbox, creds, expected_rows=150)
    async_data, async_stats = _export(sandbox, creds, expected_rows=None)
    assert sync_data == async_data and sync_data.startswith(b"\xef\xbb\xbf")
    assert sync_stats.exports_sync == 1 and sync_stats.export_sync_fallbacks == 0
    assert sync_stats.calls_by_operation["getExportedFile"] == 0
    assert async_stats.exports_sync == 0 and async_stats.calls_by_operation["getExportedFile"] >= 1


def test_a_big_expected_export_runs_async(sandbox, creds):
    _, stats = _export(sandbox, creds, expected_rows=10_000, export_sync_max_rows=1_000)
    assert stats.exports_sync == 0 and stats.export_sync_fallbacks == 0
    assert stats.calls_by_operation["exportAirStats"] == 1
    assert stats.calls_by_operation["getExportedFile"] >= 1


def test_a_sync_export_answered_504_falls_back_to_async_once(sandbox, creds):
    expected, _ = _export(sandbox, creds, expected_rows=None)
    sandbox.settings.update({"export_sync_max_bytes": 10, "export_sync_timeout_s": 0.0})
    timeouts_before = sandbox.state.stats.export_sync_timeouts
    data, stats = _export(sandbox, creds, expected_rows=150)
    assert data == expected
    assert sandbox.state.stats.export_sync_timeouts - timeouts_before == 1
    assert stats.export_sync_fallbacks == 1 and stats.exports_sync == 0
    assert stats.calls_by_operation["exportAirStats"] == 2  # the 504 was not retried as sync
    assert stats.calls_by_operation["getExportedFile"] >= 1


def test_a_sync_export_that_outlasts_the_client_timeout_falls_back(sandbox, creds):
    expected, _ = _export(sandbox, creds, expected_rows=None)
    sandbox.settings.update({"export_sync_max_bytes": 10, "export_sync_timeout_s": 3.0})
    data, stats = _export(sandbox, creds, expected_rows=150, timeout_s=1.0)
    assert data == expected
    assert stats.export_sync_fallbacks == 1 and stats.transport_errors >= 1
    assert stats.calls_by_operation["exportAirStats"] == 2


def test_a_refused_sync_export_is_an_error_not_a_fallback(sandbox, creds):
    """A 4xx (here a window outside what Soracom keeps) would fail async too: no second try."""
    world = sandbox.world

    async def scenario():
        async with make_client(sandbox, creds) as c:
            with pytest.raises(SoracomAPIError) as raised:
                await c.export_air_usage(
                    world.now - timedelta(days=4000), world.now - timedelta(days=3999), "day", expected_rows=1
                )
            return raised.value, c.stats

    error, stats = run(scenario())
    assert error.status == 400
    assert stats.calls_by_operation["exportAirStats"] == 1 and stats.export_sync_fallbacks == 0
