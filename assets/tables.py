"""The registry of source tables: one line per `Source` (declared in its own module).

Jobs (`pipelines/jobs.py`), the definitions, the retention checks, the catalog, the models'
table list, the docs table (`python -m tools.docs`) and the asset-graph snapshot test all
derive from `SOURCES`. Adding a source = its module plus one line here (docs/ingestion.md).
"""

from __future__ import annotations

import dagster as dg

from assets import audit_logs, billing, error_logs, harvest, inventory, sessions, traffic
from assets.source import LoadJob, Source

SOURCES: tuple[Source, ...] = (
    inventory.SIMS_SOURCE,
    inventory.GROUPS_SOURCE,
    sessions.SESSION_EVENTS_SOURCE,
    traffic.AIR_TRAFFIC_DAILY_SOURCE,
    traffic.AIR_TRAFFIC_5MIN_SOURCE,
    harvest.HARVEST_ENTRIES_SOURCE,
    audit_logs.API_AUDIT_LOGS_SOURCE,
    audit_logs.NAPTER_AUDIT_LOGS_SOURCE,
    billing.BILLS_SOURCE,
    billing.DAILY_BILLS_SOURCE,
    billing.BILLING_ITEMS_SOURCE,
    billing.BILLING_SUMMARIES_SOURCE,
    error_logs.ERROR_LOGS_SOURCE,
)

TABLE_ASSETS = [s.asset for s in SOURCES]
TABLE_SPECS = [s.spec for s in SOURCES]


def api_pools() -> list[str]:
    """Every Dagster pool of the source assets (`soracom_api.<family>`), sorted: the pools whose
    slots an instance needs (`pipelines/instance.py`)."""
    return sorted({s.pool_key for s in SOURCES})


def source(name: str) -> Source:
    for s in SOURCES:
        if s.spec.name == name:
            return s
    raise KeyError(f"no source table {name!r}; known: {[s.spec.name for s in SOURCES]}")


def assets_of_job(job: LoadJob) -> list[dg.AssetsDefinition]:
    """The source assets a load job materialises."""
    return [s.asset for s in SOURCES if s.job == job]


def markdown_table() -> str:
    """The README's "What is in the lake" table (kept in step by a test)."""
    lines = ["| table | partitions | retention at Soracom | load job | from |", "|---|---|---|---|---|"]
    for s in SOURCES:
        partitions = "daily snapshot" if s.retention.snapshot else "/".join(s.spec.partition_by)
        kept = "current state only" if s.retention.snapshot else s.retention.describe()
        lines.append(f"| `{s.name}` | {partitions} | {kept} | {s.job} | {s.api} |")
    return "\n".join(lines)
