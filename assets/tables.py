"""Every source table: its asset, its lake spec, its retention and how a Dagster partition
key maps to its lake partition. Adding a source = one module plus one line here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import dagster as dg

from assets import audit_logs, billing, harvest, inventory, sessions, traffic
from assets.partitions import Window, by_day, by_month, window_for
from assets.retention import (
    AIR_DAILY,
    AIR_MINUTES,
    API_AUDIT,
    BILLING_SUMMARIES,
    BILLS,
    HARVEST,
    NAPTER_AUDIT,
    SESSION_EVENTS,
    SIM_INVENTORY,
    Retention,
)
from pipelines.lake import TableSpec


@dataclass(frozen=True)
class SourceTable:
    asset: dg.AssetsDefinition
    spec: TableSpec
    retention: Retention
    lake_partition: Callable[[Window], dict[str, object]]

    @property
    def partitions_def(self) -> dg.TimeWindowPartitionsDefinition:
        return self.asset.partitions_def  # type: ignore[return-value]

    def lake_partition_of(self, key: str) -> dict[str, object]:
        """Typed lake partition values of a Dagster partition key."""
        return self.spec.partition_values(self.lake_partition(window_for(self.partitions_def, key)))


SOURCES: tuple[SourceTable, ...] = (
    SourceTable(inventory.sims, inventory.SIMS_SPEC, SIM_INVENTORY, by_day),
    SourceTable(inventory.groups, inventory.GROUPS_SPEC, SIM_INVENTORY, by_day),
    SourceTable(sessions.session_events, sessions.SPEC, SESSION_EVENTS, by_day),
    SourceTable(traffic.air_traffic_daily, traffic.DAILY_SPEC, AIR_DAILY, by_day),
    SourceTable(traffic.air_traffic_5min, traffic.MINUTES_SPEC, AIR_MINUTES, by_day),
    SourceTable(harvest.harvest_entries, harvest.SPEC, HARVEST, by_day),
    SourceTable(audit_logs.api_audit_logs, audit_logs.API_SPEC, API_AUDIT, audit_logs.hour_partition),
    SourceTable(
        audit_logs.napter_audit_logs, audit_logs.NAPTER_SPEC, NAPTER_AUDIT, audit_logs.hour_partition
    ),
    SourceTable(billing.bills, billing.BILLS_SPEC, BILLS, by_month),
    SourceTable(billing.daily_bills, billing.DAILY_BILLS_SPEC, BILLS, by_month),
    SourceTable(billing.billing_items, billing.ITEMS_SPEC, BILLS, by_month),
    SourceTable(billing.billing_summaries, billing.SUMMARIES_SPEC, BILLING_SUMMARIES, by_day),
)

TABLE_ASSETS = [s.asset for s in SOURCES]
TABLE_SPECS = [s.spec for s in SOURCES]


def source(name: str) -> SourceTable:
    for s in SOURCES:
        if s.spec.name == name:
            return s
    raise KeyError(f"no source table {name!r}; known: {[s.spec.name for s in SOURCES]}")
