"""Each mart, built over a lake filled from the sandbox World, against values computed in plain
Python from the World's own answers and ground truth (tests/models/truth.py)."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, timedelta
from decimal import Decimal

import duckdb
import pytest

from testkit.world_lake import billing_months, closed_days
from tests.assets.truth import money
from tests.models import truth
from tests.models.conftest import BuiltLake

COVERAGES = ("jp", "g")


def loaded_days(built: BuiltLake, count: int) -> list[date]:
    return [d.date() for d in closed_days(built.world, count)]


def rows(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[tuple]:
    return con.execute(sql, params or []).fetchall()


@pytest.mark.parametrize("coverage", COVERAGES)
def test_sim_daily_usage_traffic(built: BuiltLake, con: duckdb.DuckDBPyConnection, coverage: str) -> None:
    days = loaded_days(built, built.plan.traffic_days)
    want = truth.daily_traffic(built.world, coverage, days)
    got = {
        (sim, day): (
            up,
            down,
            upp,
            downp,
            total,
            {k: v["upload_bytes"] + v["download_bytes"] for k, v in m.items()},
        )
        for sim, day, up, down, upp, downp, total, m in rows(
            con,
            "SELECT u.sim_id, u.date, u.upload_bytes, u.download_bytes, u.upload_packets, "
            "u.download_packets, u.total_bytes, (SELECT map_from_entries(list((t.type, {"
            "'upload_bytes': t.upload_bytes, 'download_bytes': t.download_bytes})))"
            " FROM sim_daily_traffic_by_type AS t WHERE t.coverage = u.coverage AND t.date = u.date"
            " AND t.sim_id IS NOT DISTINCT FROM u.sim_id"
            " AND t.unmapped_imsi IS NOT DISTINCT FROM u.unmapped_imsi)"
            " FROM sim_daily_usage AS u WHERE u.coverage = ? AND u.total_bytes > 0",
            [coverage],
        )
    }
    expected = {
        key: (
            v["upload_bytes"],
            v["download_bytes"],
            v["upload_packets"],
            v["download_packets"],
            v["upload_bytes"] + v["download_bytes"],
            v["by_class"],
        )
        for key, v in want.items()
        if v["upload_bytes"] + v["download_bytes"] > 0
    }
    assert len(expected) > 500
    assert got == expected
    # a day without traffic loaded is NULL, not 0
    assert rows(
        con, "SELECT count(*) FROM sim_daily_usage WHERE total_bytes IS NULL AND date >= ?", [days[0]]
    ) == [(0,)]


@pytest.mark.parametrize("coverage", COVERAGES)
def test_sim_daily_usage_sessions_cells_harvest(
    built: BuiltLake, con: duckdb.DuckDBPyConnection, coverage: str
) -> None:
    world = built.world
    days = loaded_days(built, built.plan.session_days)
    start_ms, end_ms = truth.ms_of_day(days[0]), truth.ms_of_day(days[-1]) + truth.DAY_MS
    want = truth.session_days(world, coverage, start_ms, end_ms)
    harvest = Counter(
        (e["resourceId"], truth.day_of_ms(e["time"]))
        for e in world.all_harvest_entries(coverage, start_ms, end_ms)
    )
    got = {
        (sim, day): (online, cells, started, entries)
        for sim, day, online, cells, started, entries in rows(
            con,
            "SELECT sim_id, date, online_minutes, distinct_cells, sessions_started, harvest_entries "
            "FROM sim_daily_usage WHERE coverage = ? AND date >= ? AND sim_id IS NOT NULL",
            [coverage, days[0]],
        )
    }
    checked = 0
    for key in {k for k in set(want) | set(harvest) if k[1] >= days[0]}:
        w = want.get(key, {"online_ms": 0, "cells": set(), "started": 0})
        if w["online_ms"] == 0 and w["started"] == 0 and not harvest[key] and key not in got:
            continue
        online, cells, started, entries = got[key]
        assert online == pytest.approx(w["online_ms"] / 60000.0, abs=1e-9), key
        assert (cells, started, entries) == (len(w["cells"]), w["started"], harvest[key]), key
        checked += 1
    assert checked > 150
    # SIM-days with nothing at all are not rows; rows on session days have no NULL session columns
    assert rows(
        con,
        "SELECT count(*) FROM sim_daily_usage WHERE coverage = ? AND date >= ? AND online_minutes IS NULL",
        [coverage, days[0]],
    ) == [(0,)]


def test_online_minutes_close_to_true_online_time(built: BuiltLake, con: duckdb.DuckDBPyConnection) -> None:
    """Late `Deleted` stamps (after the next `Created`) must not add time: against the World's true
    online intervals, each session can only be off by how late its Deleted is stamped (< 15 s),
    capped by the next session's start, never by a whole overlap."""
    days = loaded_days(built, built.plan.session_days)[1:]  # the first day has sessions begun before
    found = rows(
        con,
        "SELECT sim_id, date, online_minutes, sessions_started FROM sim_daily_usage "
        "WHERE coverage = 'jp' AND date >= ? AND online_minutes > 0 ORDER BY sim_id, date",
        [days[0]],
    )
    assert len(found) > 100
    assert max(minutes for _, _, minutes, _ in found) <= 1440  # overlapping sessions never double count
    for sim_id, day, minutes, started in found:
        true_ms = truth.true_online_ms(built.world, sim_id, day)
        assert abs(minutes * 60000 - true_ms) <= 15_000 * (started + 1), (sim_id, day, minutes, true_ms)


@pytest.mark.parametrize("coverage", COVERAGES)
def test_sim_monthly_cost(built: BuiltLake, con: duckdb.DuckDBPyConnection, coverage: str) -> None:
    world = built.world
    for _, yyyymm in billing_months(world, built.plan.billing_months):
        want = truth.sim_month_costs(world, coverage, yyyymm)
        got = {
            sim: (basic, data, other, total, nbytes, per_mb, prelim)
            for sim, basic, data, other, total, nbytes, per_mb, prelim in rows(
                con,
                "SELECT sim_id, coalesce(basic_fee_amount, 0), coalesce(data_amount, 0), "
                "coalesce(other_amount, 0), total_amount, data_bytes, cost_per_mb, preliminary "
                "FROM sim_monthly_cost WHERE coverage = ? AND year_month = ?",
                [coverage, yyyymm],
            )
        }
        assert set(got) == set(want)
        current = yyyymm == world.now.strftime("%Y%m")
        for sim, w in want.items():
            basic, data, other, total, nbytes, per_mb, prelim = got[sim]
            assert (basic, data, other, total, nbytes) == (
                w["basic_fee"],
                w["data"],
                w["other"],
                w["total"],
                w["bytes"],
            )
            if w["bytes"]:
                assert per_mb == pytest.approx(float(w["total"]) / (w["bytes"] / 1e6))
            assert prelim is current


@pytest.mark.parametrize("coverage", COVERAGES)
def test_cost_by_group_monthly(built: BuiltLake, con: duckdb.DuckDBPyConnection, coverage: str) -> None:
    world = built.world
    sims = truth.sims_by_id(world, coverage)
    names = truth.group_names(world, coverage)
    for _, yyyymm in billing_months(world, built.plan.billing_months):
        want: dict[str, Decimal] = defaultdict(Decimal)
        members: dict[str, set[str]] = defaultdict(set)
        for sim, cost in truth.sim_month_costs(world, coverage, yyyymm).items():
            group = sims[sim].get("groupId")
            label = (names.get(group) or group) if group else "(no group)"
            want[label] += cost["total"]
            members[label].add(sim)
        want["(not a SIM)"] = truth.non_sim_total(world, coverage, yyyymm)
        got = rows(
            con,
            "SELECT group_name, total_amount, sims FROM cost_by_group_monthly "
            "WHERE coverage = ? AND year_month = ?",
            [coverage, yyyymm],
        )
        assert {g: t for g, t, _ in got} == dict(want)
        assert {g: n for g, _, n in got if g != "(not a SIM)"} == {g: len(m) for g, m in members.items()}
        assert sum(t for _, t, _ in got) == world.bill_amount(coverage, yyyymm)


def test_cost_by_tag_monthly(built: BuiltLake, con: duckdb.DuckDBPyConnection) -> None:
    world = built.world
    coverage, yyyymm = "jp", billing_months(world, 1)[0][1]
    sims = truth.sims_by_id(world, coverage)
    costs = truth.sim_month_costs(world, coverage, yyyymm)
    keys = {k for s in sims.values() for k in (s.get("tags") or {})}
    assert {"name", "site", "customer"} <= keys
    want: dict[tuple[str, str | None], tuple[Decimal, int]] = {}
    for key in keys:
        for sim, cost in costs.items():
            value = (sims[sim].get("tags") or {}).get(key)
            amount, count = want.get((key, value), (Decimal(0), 0))
            want[(key, value)] = (amount + cost["total"], count + 1)
    got = {
        (k, v): (t, n)
        for k, v, t, n in rows(
            con,
            "SELECT tag_key, tag_value, total_amount, sims FROM cost_by_tag_monthly "
            "WHERE coverage = ? AND year_month = ?",
            [coverage, yyyymm],
        )
    }
    assert got == want
    # every key's rows add up to the month's SIM cost
    sim_total = sum((c["total"] for c in costs.values()), Decimal(0))
    for key in keys:
        assert sum(t for (k, _), (t, _) in got.items() if k == key) == sim_total


def test_billing_reconciliation(built: BuiltLake, con: duckdb.DuckDBPyConnection) -> None:
    world = built.world
    got = {
        (c, m): rest
        for c, m, *rest in rows(
            con,
            "SELECT coverage, year_month, csv_total, bill_amount, daily_bills_total, csv_daily_total, "
            "reconciled, preliminary FROM billing_reconciliation",
        )
    }
    months = billing_months(world, built.plan.billing_months)
    assert set(got) == {(c, m) for c in COVERAGES for _, m in months}
    for coverage in COVERAGES:
        for _, yyyymm in months:
            csv_total, bill, daily, csv_daily, reconciled, prelim = got[(coverage, yyyymm)]
            exact = world.bill_amount(coverage, yyyymm)
            assert csv_total == exact
            assert abs(bill - exact) < Decimal("0.01")  # the open month's bill is a float in JSON
            want_daily = sum((money(b["amount"]) for b in world.daily_bills(coverage, yyyymm)), Decimal(0))
            assert daily == want_daily == csv_daily
            assert reconciled is True
            assert prelim is (yyyymm == world.now.strftime("%Y%m"))


@pytest.mark.parametrize("coverage", COVERAGES)
def test_idle_sims(built: BuiltLake, con: duckdb.DuckDBPyConnection, coverage: str) -> None:
    (idle_days,) = rows(con, "SELECT idle_days FROM report_params")[0]
    days = loaded_days(built, built.plan.traffic_days)
    last = days[-1]
    first = max(last - timedelta(days=idle_days - 1), days[0])
    want = truth.idle_sims(built.world, coverage, first, last)
    got = rows(
        con,
        "SELECT sim_id, charges_in_window, window_start, window_end FROM idle_sims WHERE coverage = ?",
        [coverage],
    )
    assert {s: c for s, c, _, _ in got} == want
    assert want, "the sandbox has idle SIMs (inactive, suspended, standby)"
    assert {(ws, we) for _, _, ws, we in got} == {(first, last)}


@pytest.mark.parametrize("coverage", COVERAGES)
def test_traffic_anomalies(built: BuiltLake, con: duckdb.DuckDBPyConnection, coverage: str) -> None:
    trailing, history, factor, floor = rows(
        con,
        "SELECT anomaly_trailing_days, anomaly_min_history_days, anomaly_factor, anomaly_baseline_min_bytes "
        "FROM report_params",
    )[0]
    days = loaded_days(built, built.plan.traffic_days)
    totals = {
        key: v["upload_bytes"] + v["download_bytes"]
        for key, v in truth.daily_traffic(built.world, coverage, days).items()
    }
    want = truth.anomalies(totals, days, trailing, history, float(factor), floor)
    got = set(rows(con, "SELECT sim_id, date FROM traffic_anomalies WHERE coverage = ?", [coverage]))
    assert got == want
    # The rule finds the days the World made anomalous (weight x10-50), and little else.
    start_s = truth.ms_of_day(days[0]) // 1000
    injected = {
        (a["simId"], _day(a["date"]))
        for a in built.world.anomalous_sim_days(coverage, start_s, start_s + len(days) * 86400 - 1)
    }
    judgeable = {
        (s, d)
        for s, d in injected
        if sum(1 for x in days if d - timedelta(days=trailing) <= x < d) >= history
    }
    assert judgeable, "the sandbox injects anomalies in the loaded window"
    assert len(got & judgeable) >= 0.9 * len(judgeable)
    assert len(got - injected) <= max(1, 0.2 * len(got))


def _day(text: str) -> date:
    return date(int(text[:4]), int(text[4:6]), int(text[6:8]))


def test_api_activity_daily(built: BuiltLake, con: duckdb.DuckDBPyConnection) -> None:
    world = built.world
    days = loaded_days(built, built.plan.audit_days)
    for coverage in COVERAGES:
        start = truth.ms_of_day(days[0])
        entries = world.api_audit_logs(coverage, start, start + len(days) * truth.DAY_MS)
        calls: Counter = Counter()
        failed: Counter = Counter()
        for e in entries:
            key = (
                truth.day_of_ms(e.get("requestedTimeEpochMs", e.get("requestedTimeEpocMs"))),
                e["userName"],
                e["apiKind"],
                e.get("statusCode"),
            )
            calls[key] += 1
            failed[key] += e["apiKind"] == "/v1/auth" and (e.get("statusCode") or 0) >= 400
        got = rows(
            con,
            "SELECT date, user_name, api_kind, status_code, calls, failed_auths FROM api_activity_daily "
            "WHERE coverage = ?",
            [coverage],
        )
        assert {(d, u, a, s): (n, f) for d, u, a, s, n, f in got} == {k: (calls[k], failed[k]) for k in calls}
        assert sum(failed.values()) > 0


def test_napter_access_daily(built: BuiltLake, con: duckdb.DuckDBPyConnection) -> None:
    world = built.world
    days = loaded_days(built, built.plan.audit_days)
    start = truth.ms_of_day(days[0])
    want: dict[tuple, list] = {}
    for coverage in COVERAGES:
        for e in world.napter_audit_logs(coverage, start, start + len(days) * truth.DAY_MS):
            entry = want.setdefault(
                (coverage, truth.day_of_ms(e["createdAt"]), e["imsi"]), [set(), Counter()]
            )
            entry[0].add(e["connectionId"])
            entry[1][e["type"]] += 1
    got = rows(
        con,
        "SELECT coverage, date, imsi, connections, accesses, connected, denied, refused "
        "FROM napter_access_daily",
    )
    expected = {
        k: (len(c), t["ACCESS"], t["CONNECTED"], t["DENIED"], t["REFUSED"]) for k, (c, t) in want.items()
    }
    assert {(c, d, i): tuple(rest) for c, d, i, *rest in got} == expected
    assert len(expected) >= 3


def test_harvest_daily(built: BuiltLake, con: duckdb.DuckDBPyConnection) -> None:
    world = built.world
    days = loaded_days(built, built.plan.session_days)
    start = truth.ms_of_day(days[0])
    want: dict[tuple, list[int]] = {}
    for coverage in COVERAGES:
        for e in world.all_harvest_entries(coverage, start, start + len(days) * truth.DAY_MS):
            entry = want.setdefault(
                (coverage, truth.day_of_ms(e["time"]), e["resourceType"], e["resourceId"]), [0, 0]
            )
            entry[0] += 1
            entry[1] += len((e.get("content") or "").encode("utf-8"))
    got = rows(con, "SELECT coverage, date, resource_type, resource_id, entries, bytes FROM harvest_daily")
    assert {(c, d, t, r): [n, b] for c, d, t, r, n, b in got} == want
    assert len(want) > 20


def test_monthly_summary(built: BuiltLake, con: duckdb.DuckDBPyConnection) -> None:
    world = built.world
    for coverage in COVERAGES:
        for _, yyyymm in billing_months(world, built.plan.billing_months):
            costs = truth.sim_month_costs(world, coverage, yyyymm)
            active = sum(1 for c in costs.values() if c["bytes"] > 0)
            (row,) = rows(
                con,
                "SELECT csv_total, data_bytes, active_sims, billed_sims, cost_per_active_sim "
                "FROM monthly_summary JOIN billing_reconciliation USING (coverage, year_month) "
                "WHERE coverage = ? AND year_month = ?",
                [coverage, yyyymm],
            )
            csv_total, data_bytes, active_sims, billed_sims, per_sim = row
            assert csv_total == world.bill_amount(coverage, yyyymm)
            assert data_bytes == sum(c["bytes"] for c in costs.values())
            assert (active_sims, billed_sims) == (active, len(costs))
            assert per_sim == pytest.approx(float(world.bill_amount(coverage, yyyymm)) / active, rel=1e-6)


def test_staging_sims_is_the_latest_snapshot(built: BuiltLake, con: duckdb.DuckDBPyConnection) -> None:
    world = built.world
    for coverage in COVERAGES:
        sims = truth.sims_by_id(world, coverage)
        names = truth.group_names(world, coverage)
        got = rows(
            con,
            "SELECT sim_id, status, group_id, group_name, imsis FROM stg_sims WHERE coverage = ?",
            [coverage],
        )
        assert len(got) == len(sims)
        for sim_id, status, group_id, group_name, imsis in got:
            sim = sims[sim_id]
            assert (status, group_id) == (sim["status"], sim.get("groupId"))
            assert group_name == names.get(group_id) if group_id else group_name is None
            assert set(imsis) == {i for p in sim["profiles"].values() for i in p["subscribers"]}
