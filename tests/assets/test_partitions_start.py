"""Partitions exist only where a new deployment can still load them (issue 14.4), or from
`SORACOM_PARTITIONS_START`; the retention guard is unchanged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from assets.partitions import partition_definitions, partitions_start
from assets.tables import SOURCES

NOWS = [datetime(2026, 12, 3, 8, 30, tzinfo=UTC), datetime(2027, 3, 1, 0, 5, tzinfo=UTC)]


def _partitioning(partitions_def: object) -> str:
    return {"0 0 * * *": "daily", "0 * * * *": "hourly", "0 0 1 * *": "monthly"}[
        partitions_def.cron_schedule  # type: ignore[attr-defined]
    ]


@pytest.mark.parametrize("now", NOWS)
def test_the_default_start_reaches_every_sources_retention_and_little_more(now: datetime) -> None:
    definitions = partition_definitions(env={}, now=now)
    reach: dict[str, datetime] = {}  # the oldest loadable start of each partitioning's sources
    for table in SOURCES:
        kind = _partitioning(table.partitions_def)
        oldest = table.retention.oldest_start(now)
        assert definitions[kind].start <= oldest, (table.name, oldest)  # all Soracom holds is listed
        reach[kind] = min(reach.get(kind, oldest), oldest)
    for kind, oldest in reach.items():
        assert oldest - definitions[kind].start < timedelta(days=32), (kind, oldest)  # and little more
    hours = definitions["hourly"].get_partition_keys(current_time=now)
    assert len(hours) <= 32 * 24, "hourly audit logs: about a month of partitions, not years"
    days = definitions["daily"].get_partition_keys(current_time=now)
    assert 18 * 28 <= len(days) <= 19 * 31


def test_the_start_is_configurable_and_validated() -> None:
    env = {"SORACOM_PARTITIONS_START": "2026-10-15"}
    definitions = partition_definitions(env=env, now=NOWS[0])
    assert {d.start for d in definitions.values()} == {datetime(2026, 10, 15, tzinfo=UTC)}
    assert definitions["hourly"].get_first_partition_key() == "2026-10-15-00:00"
    with pytest.raises(ValueError, match=r"SORACOM_PARTITIONS_START='lots'.*YYYY-MM-DD"):
        partitions_start("daily", env={"SORACOM_PARTITIONS_START": "lots"})


def test_the_default_follows_the_pipelines_clock() -> None:
    env = {"SORACOM_NOW": "2026-11-30T03:00:00Z"}
    assert partitions_start("hourly", env=env) == datetime(2026, 11, 1, tzinfo=UTC)
    assert partitions_start("daily", env=env) == datetime(2025, 5, 1, tzinfo=UTC)
    assert partitions_start("monthly", env=env) == datetime(2025, 6, 1, tzinfo=UTC)
