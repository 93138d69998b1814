"""The client against the real sandbox server: completeness, faults, auth, errors, exports."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from datetime import timedelta

import pytest

from pipelines.soracom import (
    Credentials,
    ExportError,
    PaginationLoopError,
    SoracomAPIError,
    SoracomAuthError,
    SoracomRetryError,
    parse_csv,
)

from .conftest import make_client, run

pytestmark = pytest.mark.integration


def event_key(event: dict) -> tuple:
    return (event.get("simId") or event.get("imsi"), event["time"], event["event"], event.get("sessionId"))


async def collect(aiter) -> list:
    return [item async for item in aiter]


def test_inventory_lists_are_complete(sandbox, creds):
    async def scenario():
        async with make_client(sandbox, creds) as c:
            sims = await collect(c.list_sims(limit=7))
            groups = await collect(c.list_groups(limit=2))
            subscribers = await collect(c.list_subscribers(limit=9))
            assert c.operator_id == sandbox.operator_id
            return sims, groups, subscribers, c.stats

    sims, groups, subscribers, stats = run(scenario())
    assert Counter(s["simId"] for s in sims) == Counter(sandbox.world.sim_ids("jp"))
    assert sorted(g["groupId"] for g in groups) == sorted(g["groupId"] for g in sandbox.world.groups("jp"))
    world = sandbox.world
    expected_imsis = [
        imsi
        for sim_id in world.sim_ids("jp")
        for p in world.sim(sim_id)["profiles"].values()
        for imsi in p["subscribers"]
    ]
    # listSubscribers pages by `link` header only; listSims by both headers.
    assert Counter(s["imsi"] for s in subscribers) == Counter(expected_imsis)
    assert stats.auths == 1
    assert stats.pages_by_operation["listSims"] >= len(sandbox.world.sim_ids("jp")) // 7


def test_every_page_arrives_once_under_faults(sandbox, creds):
    """Errors, dropped connections and expiring tokens: the data still matches the world."""
    world = sandbox.world
    end = world.now
    start = end - timedelta(days=3)
    sandbox.settings.update({"error_rate": 0.15, "drop_rate": 0.1, "token_ttl": 1})

    async def scenario():
        async with make_client(sandbox, creds, max_concurrency=8) as c:
            sims = await collect(c.list_sims(limit=10))
            sim_ids = [s["simId"] for s in sims][:60]

            async def events_of(sim_id: str) -> list[dict]:
                return await collect(c.list_sim_session_events(sim_id, start, end, limit=3))

            per_sim = await c.map_concurrent(events_of, sim_ids)
            resources = await collect(c.list_harvest_resources(limit=5))
            entries = {}
            for r in resources[:5]:
                key = (r["resourceType"], r["resourceId"])
                entries[key] = await collect(c.list_harvest_entries(*key, start, end, limit=7))
            napter = await collect(c.list_napter_audit_logs(end - timedelta(hours=20), end, limit=5))
            return sims, sim_ids, per_sim, resources, entries, napter, c.stats

    sims, sim_ids, per_sim, resources, entries, napter, stats = run(scenario())
    assert Counter(s["simId"] for s in sims) == Counter(world.sim_ids("jp"))
    from_ms, to_ms = world.now_ms - 3 * 86_400_000, world.now_ms
    for sim_id, events in zip(sim_ids, per_sim, strict=True):
        assert [event_key(e) for e in events] == [
            event_key(e) for e in world.session_events(sim_id, from_ms, to_ms)
        ]
    assert sorted((r["resourceType"], r["resourceId"]) for r in resources) == sorted(
        (r["resourceType"], r["resourceId"]) for r in world.harvest_resources("jp")
    )
    for (rtype, rid), got in entries.items():
        expected = world.harvest_entries(rtype, rid, from_ms, to_ms, sort="asc")
        assert [(e["time"], e["content"]) for e in got] == [(e["time"], e["content"]) for e in expected]
    expected_napter = world.napter_audit_logs("jp", world.now_ms - 20 * 3_600_000, world.now_ms)
    assert [(n["createdAt"], n.get("connectionId")) for n in napter] == [
        (n["createdAt"], n.get("connectionId")) for n in expected_napter
    ]
    # The faults really happened, and were absorbed.
    assert stats.retries > 0
    assert stats.http_5xx > 0 and stats.transport_errors > 0


def test_token_expiry_reauthenticates_once_and_replays(sandbox, creds):
    async def scenario():
        async with make_client(sandbox, creds) as c:
            first = await collect(c.list_groups())
            sandbox.expire_tokens()
            second = await collect(c.list_groups())
            return first, second, c.stats

    first, second, stats = run(scenario())
    assert first == second
    assert stats.auths == 2
    assert stats.unauthorized_replays == 1


def test_short_token_lifetime_is_learned_and_renewed(sandbox, creds):
    """After one 401 the client renews tokens before the server's cap instead of failing again."""
    sandbox.settings.update({"token_ttl": 2})

    async def scenario():
        async with make_client(sandbox, creds) as c:
            for _ in range(20):
                await c.request_json("GET", "/groups", operation="listGroups")
                await asyncio.sleep(0.2)
            return c.stats

    stats = run(scenario())
    assert stats.unauthorized_replays == 1
    assert stats.auths == 2
    assert stats.token_refreshes >= 1


def test_secrets_never_logged_or_shown(sandbox, creds, caplog):
    caplog.set_level(logging.DEBUG)
    sandbox.settings.update({"error_rate": 0.1})
    texts: list[str] = []

    async def scenario():
        async with make_client(sandbox, creds, max_retry_seconds=2) as c:
            await collect(c.list_sims())
            sandbox.expire_tokens()
            await collect(c.list_groups())
            await c.export_latest_bill()
            texts.extend([repr(c), str(c), repr(c._tokens), repr(c.stats), str(c.stats.as_dict())])
            sandbox.settings.update({"error_rate": 1.0})
            try:
                await c.request_json("GET", "/sims", operation="listSims")
            except SoracomRetryError as exc:
                texts.append(str(exc))
                texts.append(repr(exc))
        bad = Credentials.auth_key_pair("keyId-sandbox", "secret-WRONG-value")
        sandbox.settings.update({"error_rate": 0.0})
        try:
            async with make_client(sandbox, bad):
                pass
        except SoracomAuthError as exc:
            texts.append(str(exc))
            texts.append(repr(exc))

    run(scenario())
    secrets = {"secret-sandbox", "secret-WRONG-value"}
    for principal in sandbox.state.tokens._by_token.values():
        secrets.update({principal.token, principal.api_key})
    download_tokens = set(sandbox.state.exports._by_token)  # the signed part of download URLs
    assert download_tokens
    secrets.update(download_tokens)
    assert len(secrets) > 3
    logged = "\n".join(r.getMessage() + " " + str(r.args) for r in caplog.records) + "\n".join(
        caplog.messages
    )
    haystack = logged + "\n" + "\n".join(texts)
    assert len(texts) >= 7
    for secret in secrets:
        assert secret not in haystack


def test_bad_credentials_raise_a_clear_auth_error(sandbox):
    bad = Credentials.auth_key_pair("keyId-sandbox", "not-the-key")

    async def scenario():
        async with make_client(sandbox, bad):
            pass

    with pytest.raises(SoracomAuthError) as info:
        run(scenario())
    text = str(info.value)
    assert info.value.status == 401
    assert "auth" in text and "keyId-sandbox" in text
    assert "not-the-key" not in text


def test_sam_user_and_root_credentials(sandbox):
    settings = sandbox.settings

    async def operator_of(creds: Credentials) -> str:
        async with make_client(sandbox, creds) as c:
            await collect(c.list_groups())
            return c.operator_id

    sam = Credentials.sam_user(sandbox.operator_id, settings.sam_user_name, settings.sam_user_password)
    root = Credentials.root(settings.email, settings.password)
    assert run(operator_of(sam)) == sandbox.operator_id
    assert run(operator_of(root)) == sandbox.operator_id


def test_repeated_cursor_is_detected(sandbox, creds):
    sandbox.settings.update({"repeat_cursor": True})

    async def scenario():
        async with make_client(sandbox, creds) as c:
            await collect(c.list_sims(limit=10))

    with pytest.raises(PaginationLoopError, match=r"listSims \(GET /sims\)"):
        run(scenario())


def test_retry_exhaustion_names_the_call(sandbox, creds):
    world = sandbox.world
    sim_id = world.sim_ids("jp")[0]

    async def scenario():
        async with make_client(sandbox, creds, max_attempts=3, max_retry_seconds=1) as c:
            sandbox.settings.update({"error_rate": 1.0})
            await c.get_air_stats_sim(sim_id, "day", world.now - timedelta(days=1), world.now)

    with pytest.raises(SoracomRetryError) as info:
        run(scenario())
    error = info.value
    assert error.attempts > 3  # 5xx are bounded by time, not by max_attempts (3 here)
    assert 1.0 <= error.elapsed_s < 5
    assert error.last_status is not None and error.last_status >= 500
    assert "getAirStatsOfSim (GET /stats/air/sims/{sim_id})" in str(error)
    assert f"after {error.attempts} attempts" in str(error)


def test_dropped_connections_exhaust_as_transport_errors(sandbox, creds):
    async def scenario():
        async with make_client(sandbox, creds, max_retry_seconds=0.5) as c:
            sandbox.settings.update({"drop_rate": 1.0})
            await c.request_json("GET", "/groups", operation="listGroups")

    with pytest.raises(SoracomRetryError, match=r"listGroups \(GET /groups\).*no HTTP status"):
        run(scenario())


def test_client_errors_fail_at_once_with_the_api_code(sandbox, creds):
    async def scenario():
        async with make_client(sandbox, creds) as c:
            with pytest.raises(SoracomAPIError) as info:
                await c.request_json(
                    "GET",
                    "/stats/air/sims/{sim_id}",
                    path_params={"sim_id": sandbox.world.sim_ids("jp")[0]},
                    params={"from": 1, "to": 2, "period": "weekly"},
                    operation="getAirStatsOfSim",
                )
            assert await c.get_bill("200001") is None
            return info.value, c.stats

    error, stats = run(scenario())
    assert error.status == 400 and error.code
    assert error.message
    assert stats.retries == 0


def test_low_rate_limit_is_respected(sandbox, creds):
    """More calls than the window's limit: the limiter waits for the window, few 429s. The window
    is 10 s instead of Soracom's 60 (the answers' headers say so), to wait seconds, not a minute;
    12 quick calls are far inside 10 s even on a loaded machine, so the 13th must wait."""
    sandbox.settings.update({"rate_limit_per_minute": 12, "rate_limit_window_s": 10.0})
    world = sandbox.world
    sim_ids = list(world.sim_ids("jp"))[:20]

    async def scenario():
        async with make_client(sandbox, creds, max_concurrency=8) as c:

            async def stats_of(sim_id: str) -> list[dict]:
                return await c.get_air_stats_sim(sim_id, "day", world.now - timedelta(days=2), world.now)

            results = await c.map_concurrent(stats_of, sim_ids)
            return results, c.stats

    results, stats = run(scenario())
    assert len(results) == 20
    assert stats.calls_by_operation["getAirStatsOfSim"] <= 21
    assert stats.http_429 <= 1
    assert stats.rate_limit_wait_s > 0


def test_exports_async_and_sync(sandbox, creds):
    world = sandbox.world

    async def scenario():
        async with make_client(sandbox, creds) as c:
            usage = await c.export_air_usage(world.now - timedelta(days=2), world.now, "day")
            month = world.bill_months("jp")[1]
            bill = await c.export_bill(month)
            sync_bill = await c.export(
                "/bills/{yyyyMM}/export",
                None,
                operation="exportBilling",
                path_params={"yyyyMM": month},
                params={"export_mode": "sync"},
            )
            return usage, bill, sync_bill, month, c.stats

    usage, bill, sync_bill, month, stats = run(scenario())
    assert usage.startswith(b"\xef\xbb\xbf")
    frame = parse_csv(bill)
    assert bill == sync_bill == world.billing_csv("jp", month)
    assert frame.height == len(world.billing_rows("jp", month))
    assert stats.calls_by_operation["getExportedFile"] >= 2
    assert stats.exports == 3


def test_failed_and_stuck_exports_raise_export_error(sandbox, creds):
    async def scenario(outcome: str):
        sandbox.settings.update({"export_outcome": outcome, "export_delay_s": 0.05})
        async with make_client(sandbox, creds, export_timeout_s=1.0) as c:
            await c.export_latest_bill()

    with pytest.raises(ExportError, match="failed"):
        run(scenario("failed"))
    with pytest.raises(ExportError, match="still 'processing'"):
        run(scenario("processing"))


def test_global_coverage_is_served_under_its_prefix(sandbox, creds):
    async def scenario():
        async with make_client(sandbox, creds, coverage="g") as c:
            return await collect(c.list_sims()), await c.get_latest_bill()

    sims, latest = run(scenario())
    assert Counter(s["simId"] for s in sims) == Counter(sandbox.world.sim_ids("g"))
    assert latest["currency"] == "USD"


def test_map_concurrent_keeps_order_and_propagates_errors(sandbox, creds):
    async def scenario():
        async with make_client(sandbox, creds) as c:

            async def double(x: int) -> int:
                return 2 * x

            assert await c.map_concurrent(double, range(50), concurrency=4) == [2 * x for x in range(50)]

            async def fail_on_7(x: int) -> int:
                if x == 7:
                    raise ValueError("seven")
                return x

            with pytest.raises(ValueError, match="seven") as info:
                await c.map_concurrent(fail_on_7, range(20), concurrency=3)
            assert any("7" in note for note in info.value.__notes__)

    run(scenario())
