"""The shrink guard (assets/shrink_guard.py): an empty or much smaller answer never replaces a
loaded partition; the partition fails naming table, partition and both row counts, the old file
is kept byte for byte, and `SORACOM_ALLOW_SHRINK` is the explicit override."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest

from assets import billing, traffic
from assets.partitions import last_days
from assets.shrink_guard import Loaded, ShrinkPolicy, ShrinkRefused, guard, refusal
from pipelines import settings
from pipelines.lake import Lake, TableSpec
from sandbox.testing import SandboxHandle, start_sandbox
from tests.reliability import harness

# The middle of last month: the month before it is closed in the sandbox, whatever today is.
NOW = (datetime.now(UTC).replace(day=1) - timedelta(days=1)).replace(
    day=15, hour=0, minute=0, second=0, microsecond=0
)
CLOSED_MONTH = (NOW.replace(day=1) - timedelta(days=1)).replace(day=1).strftime("%Y-%m-%d")
DAY = last_days(NOW, 1)[0]


@pytest.fixture(scope="module")
def box() -> Iterator[SandboxHandle]:
    with start_sandbox(sims=20, seed=7, now=NOW, coverage="jp") as handle:
        yield handle


@pytest.mark.integration
def test_an_empty_export_does_not_replace_a_loaded_day(box: SandboxHandle, tmp_path: Path) -> None:
    res = harness.resources({"jp": box.url}, box.credentials, tmp_path, now=NOW)
    first = harness.materialize([traffic.air_traffic_daily], DAY, res)
    assert first.success, harness.failure_messages(first)
    before = harness.file_digests(tmp_path / "lake")
    rows = Lake(tmp_path / "lake").read(traffic.DAILY_SPEC).height
    assert rows > 0
    with box.configured(bad_input="csv_header_only"):
        second = harness.materialize([traffic.air_traffic_daily], DAY, res)
    assert not second.success
    message = " | ".join(harness.failure_messages(second))
    for text in ("air_traffic_daily", f"partition {DAY}", f"holds {rows}", "has 0 rows", "kept"):
        assert text in message, f"{text!r} not in {message}"
    assert harness.file_digests(tmp_path / "lake") == before, "the loaded day was replaced"


@pytest.mark.integration
def test_a_closed_billing_month_needs_the_override_to_shrink(
    box: SandboxHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    res = harness.resources({"jp": box.url}, box.credentials, tmp_path, now=NOW)
    first = harness.materialize([billing.billing_items], CLOSED_MONTH, res)
    assert first.success, harness.failure_messages(first)
    items = Lake(tmp_path / "lake").read(billing.ITEMS_SPEC)
    assert items.height > 0 and not items["preliminary"].any(), "the month must be closed"
    before = harness.file_digests(tmp_path / "lake")
    with box.configured(bad_input="csv_header_only"):
        refused = harness.materialize([billing.billing_items], CLOSED_MONTH, res)
        assert not refused.success
        message = " | ".join(harness.failure_messages(refused))
        assert "billing_items" in message and "final (closed)" in message, message
        assert f"{settings.ALLOW_SHRINK}=billing_items" in message, message
        assert harness.file_digests(tmp_path / "lake") == before
        monkeypatch.setenv(settings.ALLOW_SHRINK, "billing_items")
        allowed = harness.materialize([billing.billing_items], CLOSED_MONTH, res)
    assert allowed.success, harness.failure_messages(allowed)
    assert Lake(tmp_path / "lake").read(billing.ITEMS_SPEC).height == 0


def _write(lake: Lake, spec: TableSpec, values: list[int], policy: ShrinkPolicy, final: bool = False) -> None:
    partition = {"date": datetime(2026, 1, 1).date()}
    frame = pl.DataFrame({"date": [partition["date"]] * len(values), "n": values, "preliminary": not final})
    lake.write_partition(spec, partition, frame, guard(lake, spec, partition, "2026-01-01", policy))


def test_the_fraction_and_the_final_flag(tmp_path: Path) -> None:
    policy = ShrinkPolicy(min_fraction=0.5)
    open_ = Loaded(rows=100, final=False)
    closed = Loaded(rows=100, final=True)
    assert refusal(policy, "t", "p", open_, 60) is None  # a mild shrink of an open partition
    assert "below SORACOM_SHRINK_MIN_FRACTION=0.5" in (refusal(policy, "t", "p", open_, 40) or "")
    assert "has 0 rows" in (refusal(policy, "t", "p", open_, 0) or "")
    assert "final (closed)" in (refusal(policy, "t", "p", closed, 99) or "")
    assert refusal(policy, "t", "p", closed, 100) is None
    assert refusal(policy, "t", "p", None, 0) is None  # nothing loaded: nothing to protect
    assert refusal(ShrinkPolicy(allowed=frozenset({"t"})), "t", "p", closed, 0) is None
    assert refusal(ShrinkPolicy(allowed=frozenset({"*"})), "t", "p", open_, 0) is None


def test_a_refused_write_keeps_the_old_file(tmp_path: Path) -> None:
    spec = TableSpec(
        name="t",
        schema=pa.schema([("date", pa.date32()), ("n", pa.int64()), ("preliminary", pa.bool_())]),
        partition_by=("date",),
    )
    lake = Lake(tmp_path)
    policy = ShrinkPolicy(min_fraction=0.5)
    _write(lake, spec, list(range(10)), policy)
    with pytest.raises(
        ShrinkRefused, match="t partition 2026-01-01: the reload has 3 rows where the lake holds 10"
    ):
        _write(lake, spec, [1, 2, 3], policy)
    assert lake.read(spec)["n"].to_list() == list(range(10))
    assert not [p for p in tmp_path.rglob("*") if p.is_file() and p.name != "part-0.parquet"]
    _write(lake, spec, list(range(12)), policy, final=True)  # growing is always fine
    with pytest.raises(ShrinkRefused, match="final"):  # every row is final (closed): no shrink at all
        _write(lake, spec, list(range(11)), policy)
    assert lake.read(spec).height == 12


def test_the_policy_comes_from_the_settings() -> None:
    env = {settings.SHRINK_MIN_FRACTION: "0.25", settings.ALLOW_SHRINK: "sims, Bills"}
    policy = ShrinkPolicy.from_env(env)
    assert policy.min_fraction == 0.25 and policy.allows("bills") and not policy.allows("billing_items")
    assert ShrinkPolicy.from_env({}) == ShrinkPolicy(min_fraction=0.5)
    with pytest.raises(ValueError, match="SORACOM_SHRINK_MIN_FRACTION='half' is not valid"):
        ShrinkPolicy.from_env({settings.SHRINK_MIN_FRACTION: "half"})


@pytest.mark.integration
def test_in_a_range_run_the_other_partitions_still_load(box: SandboxHandle, tmp_path: Path) -> None:
    first_day, last_day = last_days(NOW, 2)
    res = harness.resources({"jp": box.url}, box.credentials, tmp_path, now=NOW)
    loaded = harness.materialize([traffic.air_traffic_daily], last_day, res)
    assert loaded.success, harness.failure_messages(loaded)
    lake = Lake(tmp_path / "lake")
    held = lake.read(traffic.DAILY_SPEC).height
    with box.configured(bad_input="csv_header_only"):
        ranged = harness.materialize([traffic.air_traffic_daily], first_day, res, last=last_day)
    assert not ranged.success
    message = " | ".join(harness.failure_messages(ranged))
    assert f"partition {last_day}: the reload has 0 rows where the lake holds {held}" in message, message
    assert f"partition {first_day}" not in message, message
    assert [p["date"].isoformat() for p in lake.partitions(traffic.DAILY_SPEC)] == [first_day, last_day]
    assert lake.read(traffic.DAILY_SPEC).height == held  # the new day loaded (empty), the old one kept
