"""The agreement invariants of docs/sandbox-design.md: every view of the world tells the same story."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pytest

from sandbox.world import UnknownResource, World, retention
from sandbox.world.inventory import NEVER, TERMINATED
from sandbox.world.pricing import SPEED_CLASSES

NOW = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)
DAY_MS = 86_400_000
DAY_S = 86_400


@pytest.fixture(scope="module")
def world() -> World:
    return World(seed=5, sims=250, now=NOW, coverages=("jp", "g"))


def _now_s(world: World) -> int:
    return world.now_ms // 1000


def _csv(data: bytes) -> list[dict[str, str]]:
    assert data.startswith(b"\xef\xbb\xbf"), "CSV must start with a UTF-8 BOM"
    return list(csv.DictReader(io.StringIO(data[3:].decode("utf-8"))))


def _imsis(world: World, sim_id: str) -> set[str]:
    sim = world.sim(sim_id)
    return {imsi for p in sim["profiles"].values() for imsi in p["subscribers"]}


def _online_from_events(events: list[dict]) -> list[tuple[int, int]]:
    """[Created, Deleted] intervals per sessionId (Deleted missing = still online)."""
    created: dict[str, int] = {}
    deleted: dict[str, int] = {}
    for e in events:
        if e["event"] == "Created":
            created[e["sessionId"]] = e["time"]
        elif e["event"] == "Deleted":
            deleted[e["sessionId"]] = e["time"]
    return [(t, deleted.get(sid, 1 << 62)) for sid, t in created.items()]


# --- billing -----------------------------------------------------------------------------
@pytest.mark.parametrize("cov", ["jp", "g"])
@pytest.mark.parametrize("month_offset", [0, 1, 5])
def test_billing_rows_sum_to_the_monthly_bill(world, cov, month_offset):
    month = world.bill_months(cov)[month_offset]
    rows = world.billing_rows(cov, month)
    assert rows
    total = sum((r["amount"] for r in rows), Decimal(0))
    assert total == world.bill_amount(cov, month)
    assert world.monthly_bill(cov, month)["amount"] == pytest.approx(float(total), rel=1e-12)
    for r in rows:
        exact = r["unitPrice"] * r["quantity"]
        if cov == "jp":  # yen lines are whole yen (Soracom's examples): rounded half up
            assert r["amount"] == exact.quantize(Decimal(1), rounding=ROUND_HALF_UP), r
        else:
            assert r["amount"] == exact, r
    csv_rows = _csv(world.billing_csv(cov, month))
    assert len(csv_rows) == len(rows)
    assert sum((Decimal(r["amount"]) for r in csv_rows), Decimal(0)) == total
    assert all("E" not in r["unitPrice"] for r in csv_rows), "no scientific notation in the CSV"
    names = {r["billItemName"] for r in rows}
    data, basic = ("データ通信料金", "基本料金") if cov == "jp" else ("Data usage fee", "Basic fee")
    assert any(n.startswith(data) for n in names)
    assert any(n.startswith(basic) for n in names)
    non_sim = [r for r in rows if r["imsi"] == ""]
    assert any(r["amount"] < 0 for r in non_sim), "a discount row"
    assert any(r["vpgId"] for r in non_sim), "a VPG row"


@pytest.mark.parametrize("cov", ["jp", "g"])
def test_daily_bills_sum_the_usage_rows_of_each_day(world, cov):
    month = world.bill_months(cov)[1]
    per_day: dict[str, Decimal] = defaultdict(Decimal)
    for r in world.billing_rows(cov, month):
        if len(r["date"]) == 8:
            per_day[r["date"]] += r["amount"]
    daily = world.daily_bills(cov, month)
    assert {d["date"]: Decimal(str(d["amount"])) for d in daily} == pytest.approx(dict(per_day))
    assert [d["date"] for d in daily] == sorted(per_day, reverse=True)
    assert len(daily) >= 28


def test_data_fees_match_the_air_usage_export(world):
    month = world.bill_months("jp")[1]
    first = datetime.strptime(month, "%Y%m").replace(tzinfo=UTC)
    usage = world.air_usage_rows("jp", "month", int(first.timestamp()), int(first.timestamp()))
    billed: dict[tuple[str, str], int] = defaultdict(int)
    for r in world.billing_rows("jp", month):
        if r["billItemName"].startswith("データ通信料金"):
            billed[(r["imsi"], r["billItemName"].split("(")[1].rstrip(")"))] += r["quantity"]
    exported = {(r["imsi"], r["type"]): r["uploadByteSizeTotal"] + r["downloadByteSizeTotal"] for r in usage}
    assert billed == exported


def test_bill_states_follow_the_closing_rule():
    early = World(seed=5, sims=20, now=datetime(2026, 11, 2, 12, tzinfo=UTC))
    late = World(seed=5, sims=20, now=datetime(2026, 11, 3, 0, 1, tzinfo=UTC))
    assert early.monthly_bill("jp", "202611")["state"] == "temporary"
    assert early.monthly_bill("jp", "202610")["state"] == "temporary"
    assert early.monthly_bill("jp", "202609")["state"] == "closed"
    assert late.monthly_bill("jp", "202610")["state"] == "closed"
    assert late.monthly_bill("jp", "202611")["state"] == "temporary"
    assert late.monthly_bill("jp", "202505") is None, "older than 18 months"
    assert late.latest_bill("jp")["lastEvaluatedTime"] == "20261103000100"
    assert late.latest_bill("jp")["amount"] == late.monthly_bill("jp", "202611")["amount"]


@pytest.mark.parametrize("cov", ["jp", "g"])
def test_summaries_cover_four_months_and_agree_with_the_bills(world, cov):
    items = world.bill_item_summaries(cov)
    sims = world.sim_bill_summaries(cov)
    assert [s["yearMonth"] for s in items] == world.bill_months(cov)[:4] == [s["yearMonth"] for s in sims]
    for summary in items:
        amounts = [b["amount"] for b in summary["costBreakdownList"]]
        assert amounts == sorted(amounts, reverse=True)
        assert sum(amounts) == pytest.approx(world.monthly_bill(cov, summary["yearMonth"])["amount"])
    capped = False
    for summary in sims:
        per_sim: dict[str, Decimal] = defaultdict(Decimal)
        imsi_to_sim = {imsi: s for s in world.sim_ids(cov) for imsi in _imsis(world, s)}
        for r in world.billing_rows(cov, summary["yearMonth"]):
            if r["imsi"]:
                per_sim[imsi_to_sim[r["imsi"]]] += r["amount"]
        # the spec: "sorted by amount in descending order, and include up to 100 items" (TOP 100)
        top = sorted(per_sim.items(), key=lambda kv: (-kv[1], kv[0]))[:100]
        capped |= len(per_sim) > 100
        assert {b["simId"]: b["amount"] for b in summary["costBreakdownList"]} == pytest.approx(
            {k: float(v) for k, v in top}
        )
    assert cov == "g" or capped, "jp has more than 100 billed SIMs a month: the cap must show"


# --- Air stats ---------------------------------------------------------------------------
def _rows_by_sim(world: World, cov: str, period: str, from_s: int, to_s: int) -> dict[str, dict]:
    imsi_to_sim = {imsi: s for s in world.sim_ids(cov) for imsi in _imsis(world, s)}
    out: dict[str, dict] = defaultdict(lambda: defaultdict(lambda: np.zeros(4, np.int64)))
    for r in world.air_usage_rows(cov, period, from_s, to_s):
        out[imsi_to_sim[r["imsi"]]][(r["date"], r["type"])] += [
            r["uploadByteSizeTotal"],
            r["uploadPacketCountTotal"],
            r["downloadByteSizeTotal"],
            r["downloadPacketCountTotal"],
        ]
    return out


def _stats_as_rows(stats: list[dict]) -> dict:
    return {
        (item["date"], sc): np.asarray(
            [
                v["uploadByteSizeTotal"],
                v["uploadPacketSizeTotal"],
                v["downloadByteSizeTotal"],
                v["downloadPacketSizeTotal"],
            ]
        )
        for item in stats
        for sc, v in item["dataTrafficStatsMap"].items()
    }


def _per_date(rows: dict) -> dict:
    out: dict = defaultdict(lambda: np.zeros(4, np.int64))
    for (date, _), values in rows.items():
        out[date] = out[date] + values
    return dict(out)


@pytest.mark.parametrize(
    ("cov", "period", "days"),
    [("jp", "day", 10), ("g", "day", 10), ("jp", "month", 70), ("jp", "minutes", 0.25)],
)
def test_per_sim_stats_equal_the_export_rows(world, cov, period, days):
    to_s = _now_s(world)
    from_s = to_s - int(days * DAY_S)
    rows = _rows_by_sim(world, cov, period, from_s, to_s)
    assert rows
    checked = 0
    for sim_id in list(world.sim_ids(cov))[:60]:
        stats = _stats_as_rows(world.air_stats_sim(sim_id, period, from_s, to_s))
        expected = rows.get(sim_id, {})
        if cov == "g":  # the export's type is the subscription there: compare per date
            stats, expected = _per_date(stats), _per_date(expected)
        assert stats.keys() == expected.keys(), sim_id
        for key, values in stats.items():
            assert values.tolist() == expected[key].tolist(), (sim_id, key)
        checked += bool(stats)
    assert checked > 10


def test_stats_by_imsi_split_a_dual_imsi_sim(world):
    to_s = _now_s(world)
    for sim_id in world.sim_ids("jp"):
        imsis = _imsis(world, sim_id)
        if len(imsis) == 2:
            whole = _stats_as_rows(world.air_stats_sim(sim_id, "day", to_s - 30 * DAY_S, to_s))
            parts: dict = defaultdict(lambda: np.zeros(4, np.int64))
            for imsi in imsis:
                for key, v in _stats_as_rows(
                    world.air_stats_subscriber(imsi, "day", to_s - 30 * DAY_S, to_s)
                ).items():
                    parts[key] += v
            assert {k: v.tolist() for k, v in parts.items()} == {k: v.tolist() for k, v in whole.items()}
            return
    pytest.fail("no dual-IMSI SIM in the world")


def test_minutes_buckets_add_up_to_the_day(world):
    day_start = (_now_s(world) // DAY_S - 2) * DAY_S
    for sim_id in list(world.sim_ids("jp"))[:25]:
        minutes = _stats_as_rows(world.air_stats_sim(sim_id, "minutes", day_start, day_start + DAY_S - 1))
        day = _stats_as_rows(world.air_stats_sim(sim_id, "day", day_start, day_start))
        summed: dict = defaultdict(lambda: np.zeros(4, np.int64))
        for (_, sc), v in minutes.items():
            summed[sc] += v
        assert {sc: v.tolist() for sc, v in summed.items()} == {sc: v.tolist() for (_, sc), v in day.items()}


@pytest.mark.parametrize("period", ["day", "month"])
def test_operator_stats_are_the_sum_over_its_sims(world, period):
    to_s = _now_s(world)
    from_s = to_s - 6 * DAY_S
    for cov in ("jp", "g"):
        totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for r in world.air_usage_rows(cov, period, from_s, to_s):
            totals[r["date"]][0] += r["uploadByteSizeTotal"]
            totals[r["date"]][1] += r["downloadByteSizeTotal"]
        stats = world.air_stats_operator(cov, period, from_s, to_s)
        fmt = "%Y%m%d" if period == "day" else "%Y%m"
        got = {
            datetime.fromtimestamp(s["unixtime"], UTC).strftime(fmt): [
                s["uploadByteSizeTotal"],
                s["downloadByteSizeTotal"],
            ]
            for s in stats
        }
        assert got == dict(totals)


def test_group_stats_are_the_sum_over_the_group_sims(world):
    to_s = _now_s(world)
    group = world.groups("jp")[0]
    members = [s for s in world.sims(world.sim_ids("jp")) if s.get("groupId") == group["groupId"]]
    assert members
    expected: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for sim in members:
        for item in world.air_stats_sim(sim["simId"], "day", to_s - 5 * DAY_S, to_s):
            for v in item["dataTrafficStatsMap"].values():
                expected[item["unixtime"]][0] += v["uploadByteSizeTotal"]
                expected[item["unixtime"]][1] += v["downloadByteSizeTotal"]
    got = {
        s["unixtime"]: [s["uploadByteSizeTotal"], s["downloadByteSizeTotal"]]
        for s in world.air_stats_group(group["groupId"], "day", to_s - 5 * DAY_S, to_s)
    }
    assert got == dict(expected)
    with pytest.raises(UnknownResource):
        world.air_stats_group("no-such-group", "day", to_s - DAY_S, to_s)


def test_usage_export_shape_tags_and_terminated_sims(world):
    to_s = _now_s(world)
    data = world.air_usage_csv("jp", "day", to_s - 500 * DAY_S, to_s)
    rows = _csv(data)
    header = data[3:].decode().splitlines()[0].split(",")
    assert header[:7] == [
        "imsi",
        "date",
        "type",
        "uploadByteSizeTotal",
        "uploadPacketCountTotal",
        "downloadByteSizeTotal",
        "downloadPacketCountTotal",
    ]
    assert "name" in header[7:]
    values = {v for r in rows for v in r.values()}
    assert "東京 第一工場" in values and "Osaka, Plant 2" in values
    assert any(r["site"] == "" for r in rows), "some SIMs lack some tag keys"
    terminated_imsis = {
        imsi
        for s in world.sim_ids("jp")
        for imsi in _imsis(world, s)
        if world.sim(s)["status"] == "terminated"
    }
    assert terminated_imsis & {r["imsi"] for r in rows}, "export includes terminated SIMs"
    empty = world.air_usage_csv("jp", "day", to_s + 2 * DAY_S, to_s + 3 * DAY_S)
    assert empty.decode("utf-8-sig").strip().count("\n") == 0, "header only when there is no traffic"


def test_speed_class_change_splits_a_day_by_type(world):
    inv = world.inv
    history_start = world.now_ms - 500 * DAY_MS
    candidates = np.flatnonzero(
        (inv.sc_change_ms > history_start)
        & (inv.sc_change_ms < world.now_ms)
        & (inv.sc_change_ms < inv.change_ms)
        & (inv.cov == 0)
    )
    assert len(candidates)
    found = False
    for i in candidates.tolist():
        change_s = int(inv.sc_change_ms[i]) // 1000
        stats = world.air_stats_sim(inv.sim_id[i], "day", change_s - 3 * DAY_S, change_s + 3 * DAY_S)
        found |= any(len(item["dataTrafficStatsMap"]) == 2 for item in stats)
    assert found


def test_some_sim_days_are_anomalous(world):
    to_s = _now_s(world)
    rows = _rows_by_sim(world, "jp", "day", to_s - 200 * DAY_S, to_s - DAY_S)
    truth = world.anomalous_sim_days("jp", to_s - 200 * DAY_S, to_s - DAY_S)
    assert truth
    checked = 0
    for hot in truth:
        totals: dict[str, int] = defaultdict(int)
        for (date, _), v in rows[hot["simId"]].items():
            totals[date] += int(v[0] + v[2])
        if len(totals) > 20:
            assert totals[hot["date"]] >= 5 * np.median(list(totals.values())), hot
            checked += 1
    assert checked


def test_bulk_harvest_entries_equal_the_per_resource_entries(world):
    lo, hi = world.now_ms - DAY_MS, world.now_ms
    bulk = world.all_harvest_entries("jp", lo, hi)
    per_resource = [
        e
        for r in world.harvest_resources("jp")
        for e in world.harvest_entries("Sim", r["resourceId"], lo, hi)
    ]
    assert bulk
    assert bulk == sorted(per_resource, key=lambda e: (e["time"], e["resourceId"]))


# --- sessions, traffic and Harvest vs online time -------------------------------------------
def test_traffic_and_harvest_only_while_online(world):
    lo, hi = world.now_ms - 2 * DAY_MS, world.now_ms
    harvest_sims = {r["resourceId"] for r in world.harvest_resources("jp")}
    assert harvest_sims
    for sim_id in list(world.sim_ids("jp"))[:80]:
        online = _online_from_events(world.session_events(sim_id, lo - 2 * DAY_MS, hi))
        for item in world.air_stats_sim(sim_id, "minutes", lo // 1000, hi // 1000 - 1):
            b0, b1 = item["unixtime"] * 1000, item["unixtime"] * 1000 + 300_000
            assert any(c < b1 and d > b0 for c, d in online), (sim_id, item["unixtime"])
        if sim_id in harvest_sims:
            for entry in world.harvest_entries("Sim", sim_id, lo, hi, "asc"):
                assert any(c <= entry["time"] < d for c, d in online), (sim_id, entry["time"])


def test_harvest_entries_shapes_sort_and_size(world):
    kinds = set()
    for res in world.harvest_resources("jp") + world.harvest_resources("g"):
        asc = world.harvest_entries("Sim", res["resourceId"], world.now_ms - DAY_MS * 3, world.now_ms, "asc")
        desc = world.harvest_entries(
            "Sim", res["resourceId"], world.now_ms - DAY_MS * 3, world.now_ms, "desc"
        )
        assert asc == desc[::-1]
        if asc:
            assert asc[-1]["time"] == res["lastModifiedTime"]
        for e in asc:
            assert len(e["content"].encode()) <= 1024
            kinds.add(e["contentType"])
            if e["contentType"] == "application/octet-stream":
                assert e["content"].startswith('{"payload":"')
    assert kinds == {"application/json", "text/plain", "application/octet-stream"}
    with pytest.raises(ValueError, match="sort"):
        world.harvest_entries("Sim", "x", 0, 1, "up")


def test_sessions_cross_midnight_and_show_the_late_deleted_quirk(world):
    lo, hi = world.now_ms - 3 * DAY_MS, world.now_ms
    events = world.all_session_events("jp", lo, hi)
    by_sim: dict[str, list[dict]] = defaultdict(list)
    for e in events:
        by_sim[e["simId"]].append(e)
    quirk = crosses = 0
    for sim_events in by_sim.values():
        chron = sorted(sim_events, key=lambda e: e["time"])
        created = {e["sessionId"]: e["time"] for e in chron if e["event"] == "Created"}
        for e in chron:
            if e["event"] == "Deleted" and e["sessionId"] in created:
                crosses += created[e["sessionId"]] // DAY_MS != e["time"] // DAY_MS
                later = [
                    c for sid, c in created.items() if sid != e["sessionId"] and created[e["sessionId"]] < c
                ]
                quirk += bool(later) and min(later) < e["time"]
    assert quirk > 0, "some Deleted events are stamped after the next Created"
    assert crosses > 0, "some sessions cross UTC midnight"
    assert events == sorted(events, key=lambda e: e["time"], reverse=True)
    per_sim = [e for s in world.sim_ids("jp") for e in world.session_events(s, lo, hi)]

    def key(e: dict) -> tuple:
        return e["time"], e["simId"], e["event"]

    assert sorted(events, key=key) == sorted(per_sim, key=key), "bulk events == per-SIM events"


def test_session_status_agrees_with_the_events(world):
    sims = world.sims(world.sim_ids("jp"))
    for sim in sims:
        events = world.session_events(sim["simId"], world.now_ms - 40 * DAY_MS, world.now_ms)
        status = sim["sessionStatus"]
        if not events:
            assert status["online"] is False or sim["status"] != "active"
            continue
        chron = sorted(events, key=lambda e: e["time"])
        last_created = (
            [e for e in chron if e["event"] == "Created"][-1]
            if any(e["event"] == "Created" for e in chron)
            else None
        )
        open_now = last_created is not None and not any(
            e["event"] == "Deleted" and e["sessionId"] == last_created["sessionId"] for e in chron
        )
        assert status["online"] is open_now, sim["simId"]
        if open_now:
            assert status["sessionId"] == last_created["sessionId"]
        deletes = [e for e in chron if e["event"] == "Deleted"]
        if deletes:
            assert sim["previousSession"]["deletedTime"] == deletes[-1]["time"]
            assert sim["previousSession"]["sessionId"] == deletes[-1]["sessionId"]
        if sim["status"] in ("ready",):
            assert not events
    assert any(s["sessionStatus"]["online"] for s in sims)


def test_no_sessions_outside_the_active_life(world):
    inv = world.inv
    for i in range(inv.n):
        if inv.change_ms[i] == NEVER and inv.final_status[i] != TERMINATED:
            continue
        change = int(inv.change_ms[i])
        sim_id = inv.sim_id[i]
        if change < world.now_ms - 5 * DAY_MS:
            assert world.session_events(sim_id, change, world.now_ms) == []


# --- audit logs -------------------------------------------------------------------------------
def test_api_audit_log_spellings_and_recorded_calls(world):
    lo, hi = world.now_ms - DAY_MS, world.now_ms
    entries = world.api_audit_logs("jp", lo, hi)
    assert any("requestedTimeEpochMs" in e for e in entries)
    quirky = [e for e in entries if "requestedTimeEpocMs" in e]
    assert quirky and all("statusCode" in e for e in quirky)
    assert any(e.get("statusCode") == 401 for e in entries), "failed auths"
    mine = {
        "apiKind": "/v1/sims",
        "operatorId": world.operator_id,
        "remoteIpAddress": "127.0.0.1",
        "requestPath": "/v1/sims",
        "requestedTimeEpochMs": world.now_ms + 5_000,
        "userName": "test",
    }
    fresh = World(seed=5, sims=10, now=NOW)
    fresh.record_api_call("jp", mine)
    assert fresh.api_audit_logs("jp", world.now_ms, world.now_ms + 10_000) == [mine]
    with pytest.raises(ValueError, match="requestedTimeEpochMs"):
        fresh.record_api_call("jp", {"apiKind": "/v1/sims"})


def test_napter_log_types_and_online_times(world):
    lo, hi = world.now_ms - 7 * DAY_MS, world.now_ms
    logs = world.napter_audit_logs("jp", lo, hi)
    assert {e["type"] for e in logs} == {
        "ACCESS",
        "CONNECTED",
        "CLOSED",
        "DENIED",
        "REFUSED",
        "CREATED",
        "DELETED",
        "EXPIRED",
    }
    assert logs == sorted(logs, key=lambda e: e["createdAt"], reverse=True)
    imsi_to_sim = {imsi: s for s in world.sim_ids("jp") for imsi in _imsis(world, s)}
    for e in logs:
        if e["type"] == "CREATED":
            online = _online_from_events(world.session_events(imsi_to_sim[e["imsi"]], lo - 2 * DAY_MS, hi))
            assert any(c <= e["createdAt"] < d for c, d in online)


# --- retention and bad input -------------------------------------------------------------------
def test_retention_windows():
    start, end = retention.window("session_events", NOW)
    assert (end - start) == timedelta(days=32) and end == NOW
    assert retention.window("bills", NOW)[0] == datetime(2025, 6, 1, tzinfo=UTC)
    assert retention.window("billing_summaries", NOW)[0] == datetime(2026, 8, 1, tzinfo=UTC)
    assert retention.window("api_audit_log", NOW)[0] == NOW - timedelta(hours=24)
    assert retention.holds("harvest", NOW, NOW - timedelta(days=39))
    assert not retention.holds("harvest", NOW, NOW - timedelta(days=41))
    with pytest.raises(ValueError, match="unknown retention source"):
        retention.window("nope", NOW)


def test_bad_input_is_refused_with_a_clear_message(world):
    with pytest.raises(ValueError, match="coverages"):
        World(coverages=("eu",))
    with pytest.raises(ValueError, match="timezone-aware"):
        World(now=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="sims"):
        World(sims=-1)
    with pytest.raises(ValueError, match="period"):
        world.air_stats_sim(world.sim_ids("jp")[0], "hour", 0, 1)
    with pytest.raises(ValueError, match="from"):
        world.air_usage_rows("jp", "day", 10, 1)
    with pytest.raises(ValueError, match="yyyyMM"):
        world.monthly_bill("jp", "2026-11")
    with pytest.raises(ValueError, match="not in this world"):
        World(sims=5).groups("g")
    with pytest.raises(UnknownResource):
        world.session_events("0000000000000000000", 0, 1)
    assert world.sim("0000000000000000000") is None


@pytest.mark.parametrize("period", ["day", "minutes"])
def test_the_usage_export_type_is_the_speed_class_on_jp_and_the_subscription_on_g(world, period):
    to_s = _now_s(world)
    from_s = to_s - (3 * DAY_S if period == "day" else 3 * 3600)
    jp = world.air_usage_rows("jp", period, from_s, to_s)
    assert jp and {r["type"] for r in jp} <= set(SPEED_CLASSES)
    g = world.air_usage_rows("g", period, from_s, to_s)
    assert g and {r["type"] for r in g} <= {"plan01s", "planX3"}
    subscription = {}
    for sim_id in world.sim_ids("g"):
        for event in world.session_events(sim_id, from_s * 1000 - 2 * DAY_MS, to_s * 1000):
            subscription[event["imsi"]] = event["subscription"]
    assert all(r["type"] == subscription[r["imsi"]] for r in g if r["imsi"] in subscription)
    keys = [(r["date"], r["imsi"], r["type"]) for r in g]
    assert len(keys) == len(set(keys)), "one row per date, IMSI and subscription"
    # the streamed CSV says the same as the rows
    csv_rows = _csv(world.air_usage_csv("g", period, from_s, to_s))
    assert [(r["imsi"], r["date"], r["type"]) for r in csv_rows] == [
        (r["imsi"], r["date"], r["type"]) for r in g
    ]
