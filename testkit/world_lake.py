"""A lake filled straight from a sandbox World, through the ingestion modules' own typing code.

No HTTP: each table's partition is typed by the same frame function its asset uses, from the
World's answers, and written with `Lake.write_partition`. That keeps model tests fast and lets
them cover a month of traffic; the HTTP + Dagster path is covered by tests/test_report.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import polars as pl

from assets import audit_logs, billing, error_logs, harvest, inventory, sessions, traffic
from assets.frames import add_lineage, table_columns
from assets.partitions import Window
from pipelines.lake import Lake, TableSpec
from sandbox.world import World
from sandbox.world.error_logs import error_logs as world_error_logs

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class LoadPlan:
    """Which windows of each source the lake gets (all UTC, all closed before the World's now)."""

    traffic_days: int = 30  # air_traffic_daily: the last N closed days
    session_days: int = 4  # session_events, harvest_entries and error_logs
    minute_days: int = 1  # air_traffic_5min
    audit_days: int = 2  # API and Napter audit logs, hour by hour
    billing_months: int = 2  # the current month and the ones before it


def _window(start: datetime, length: timedelta) -> Window:
    return Window(key=start.isoformat(), start=start, end=start + length)


def _write(
    lake: Lake, spec: TableSpec, partition: dict[str, object], frames: dict[str, pl.DataFrame]
) -> None:
    loaded_at = datetime(2030, 1, 1, tzinfo=UTC)
    parts = [add_lineage(frame, coverage, loaded_at) for coverage, frame in frames.items()]
    frame = pl.concat(parts, how="diagonal_relaxed")
    lake.write_partition(spec, partition, table_columns(frame, spec.schema, spec.partition_by))


def closed_days(world: World, count: int) -> list[datetime]:
    today = world.now.replace(hour=0, minute=0, second=0, microsecond=0)
    return [today - DAY * n for n in range(count, 0, -1)]


def billing_months(world: World, count: int) -> list[tuple[datetime, str]]:
    first = world.now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    months = []
    for back in range(count - 1, -1, -1):
        index = first.year * 12 + first.month - 1 - back
        start = datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)
        months.append((start, start.strftime("%Y%m")))
    return months


def fill_lake(lake: Lake, world: World, plan: LoadPlan = LoadPlan()) -> None:
    days = closed_days(world, plan.traffic_days)
    load_snapshot(lake, world, days[-1])
    for day in days:
        load_traffic_day(lake, world, day)
    for day in days[-plan.session_days :]:
        load_session_day(lake, world, day)
    for day in days[-plan.minute_days :]:
        load_minutes_day(lake, world, day)
    for day in days[-plan.audit_days :]:
        load_audit_day(lake, world, day)
    for start, yyyymm in billing_months(world, plan.billing_months):
        load_billing_month(lake, world, start, yyyymm)
    load_billing_summaries(lake, world, days[-1])


def load_snapshot(lake: Lake, world: World, day: datetime) -> None:
    """The SIM and group snapshots of `day`."""
    covs = world.coverages
    snapshot_day = {"date": day.strftime("%Y-%m-%d")}
    _write(
        lake,
        inventory.SIMS_SPEC,
        snapshot_day,
        {c: inventory.sims_frame(world.sims(list(world.sim_ids(c)))) for c in covs},
    )
    _write(
        lake, inventory.GROUPS_SPEC, snapshot_day, {c: inventory.groups_frame(world.groups(c)) for c in covs}
    )


def load_traffic_day(lake: Lake, world: World, day: datetime) -> None:
    """A day of daily air traffic."""
    covs = world.coverages
    w = _window(day, DAY)
    to_s = int(w.end.timestamp()) - 1
    csvs = {c: world.air_usage_csv(c, "day", int(w.start.timestamp()), to_s) for c in covs}
    _write(
        lake,
        traffic.DAILY_SPEC,
        {"date": day.strftime("%Y-%m-%d")},
        {c: traffic.usage_frame(csv, w, "day") for c, csv in csvs.items()},
    )


def load_session_day(lake: Lake, world: World, day: datetime) -> None:
    """A day of session events, Harvest entries and error logs."""
    covs = world.coverages
    w = _window(day, DAY)
    partition = {"date": day.strftime("%Y-%m-%d")}
    _write(
        lake,
        sessions.SPEC,
        partition,
        {c: sessions.events_frame(world.all_session_events(c, w.start_ms, w.end_ms), w) for c in covs},
    )
    _write(
        lake,
        harvest.SPEC,
        partition,
        {c: harvest.entries_frame(world.all_harvest_entries(c, w.start_ms, w.end_ms), w) for c in covs},
    )
    _write(
        lake,
        error_logs.SPEC,
        partition,
        {c: error_logs.logs_frame(world_error_logs(world, c, w.start_ms, w.end_ms), w) for c in covs},
    )


def load_minutes_day(lake: Lake, world: World, day: datetime) -> None:
    """A day of 5-minute air traffic."""
    covs = world.coverages
    w = _window(day, DAY)
    to_s = int(w.end.timestamp()) - 1
    _write(
        lake,
        traffic.MINUTES_SPEC,
        {"date": day.strftime("%Y-%m-%d")},
        {
            c: traffic.usage_frame(
                world.air_usage_csv(c, "minutes", int(w.start.timestamp()), to_s), w, "minutes"
            )
            for c in covs
        },
    )


def load_audit_day(lake: Lake, world: World, day: datetime) -> None:
    """A day of API and Napter audit logs, hour by hour."""
    covs = world.coverages
    for h in range(24):
        w = _window(day + HOUR * h, HOUR)
        partition = audit_logs.hour_partition(w)
        _write(
            lake,
            audit_logs.API_SPEC,
            partition,
            {c: audit_logs.api_frame(world.api_audit_logs(c, w.start_ms, w.end_ms), w) for c in covs},
        )
        _write(
            lake,
            audit_logs.NAPTER_SPEC,
            partition,
            {c: audit_logs.napter_frame(world.napter_audit_logs(c, w.start_ms, w.end_ms), w) for c in covs},
        )


def load_billing_month(lake: Lake, world: World, start: datetime, yyyymm: str) -> None:
    """A billing month as the billing job loads it (preliminary until its bill is closed)."""
    covs = world.coverages
    partition = {"month": start.strftime("%Y-%m")}
    current = start <= world.now
    current = current and (start.month == world.now.month and start.year == world.now.year)
    bills, dailies, items = {}, {}, {}
    for c in covs:
        if current:
            bill = {**world.latest_bill(c), "yearMonth": yyyymm}
            preliminary = True
        else:
            bill = world.monthly_bill(c, yyyymm)
            preliminary = bill is None or bill.get("state") != "closed"
        bills[c] = billing.bills_frame([bill] if bill else [], [preliminary] if bill else [])
        dailies[c] = billing.daily_bills_frame(world.daily_bills(c, yyyymm), preliminary)
        items[c] = billing.items_frame(world.billing_csv(c, yyyymm), yyyymm, preliminary)
    _write(lake, billing.BILLS_SPEC, partition, bills)
    _write(lake, billing.DAILY_BILLS_SPEC, partition, dailies)
    _write(lake, billing.ITEMS_SPEC, partition, items)


def load_billing_summaries(lake: Lake, world: World, day: datetime) -> None:
    """The billing summaries snapshot of `day`."""
    covs = world.coverages
    _write(
        lake,
        billing.SUMMARIES_SPEC,
        {"date": day.strftime("%Y-%m-%d")},
        {c: billing.summaries_frame(world.bill_item_summaries(c), world.sim_bill_summaries(c)) for c in covs},
    )
