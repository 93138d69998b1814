"""`soracom-lake report` end to end: sandbox on loopback -> Dagster loads -> models -> catalog -> report,
compared with the World; plus its errors, and the load-count checks over real Dagster history."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from assets import check_rules
from assets.resources import ClockResource, LakeResource, SoracomResource
from assets.tables import SOURCES, TABLE_SPECS
from pipelines.cli import main
from pipelines.demo import execute_runs, plan_runs
from pipelines.lake import Lake, build_catalog
from sandbox.testing import SandboxHandle, start_sandbox
from tests.models import truth

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@dataclass
class Loaded:
    box: SandboxHandle
    root: Path
    catalog: Path
    instance: dg.DagsterInstance
    resources: dict[str, dg.ConfigurableResource]


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    """One load of 2 days. One instant is the sandbox's now, what the runs are planned from and
    the pipeline's clock, so a load that crosses midnight UTC (or a month's end) does not load a
    snapshot day or billing month that a wall clock already counts differently."""
    root = tmp_path_factory.mktemp("report")
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    with start_sandbox(sims=40, seed=5, now=now, coverage="jp") as box:
        resources: dict[str, dg.ConfigurableResource] = {
            "soracom": SoracomResource(
                auth_key_id=box.credentials["authKeyId"],
                auth_key=box.credentials["authKey"],
                endpoint_jp=box.url_for("jp"),
                coverages="jp",
            ),
            "lake": LakeResource(root=str(root / "lake"), catalog_path=str(root / "soracom.duckdb")),
            "clock": ClockResource(now_setting=now.isoformat()),
        }
        instance = dg.DagsterInstance.ephemeral()
        outcomes = execute_runs(plan_runs(now, 2), resources, instance)
        assert all(o.success for o in outcomes), [(o.run.label, o.errors) for o in outcomes]
        yield Loaded(box, root, root / "soracom.duckdb", instance, resources)


def report(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["report", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_report_summarises_usage_and_cost_from_the_catalog(
    loaded: Loaded, capsys: pytest.CaptureFixture[str]
) -> None:
    world = loaded.box.world
    month = world.now.strftime("%Y-%m")
    before = loaded.catalog.read_bytes()
    code, out, err = report(capsys, "--catalog", str(loaded.catalog), "--top", "3")
    assert (code, err) == (0, "")
    assert loaded.catalog.read_bytes() == before, "the report must open the catalog read-only"
    assert not Path(str(loaded.catalog) + ".wal").exists()
    for section in (
        f"Bill {month}",
        "Reconciliation",
        "Top 3 SIMs by cost",
        "Top 3 SIMs by traffic",
        "Cost by group",
        "Idle SIMs",
        "Traffic anomalies",
    ):
        assert section in out
    # the month's bill and the SIM that cost most, from the World
    yyyymm = world.now.strftime("%Y%m")
    bill = Decimal(repr(world.latest_bill("jp")["amount"]))
    assert f"{bill:,.2f}" in out
    sim_of = truth.imsi_to_sim(world, "jp")
    per_sim: dict[str, Decimal] = defaultdict(Decimal)
    for row in world.billing_rows("jp", yyyymm):
        if row.get("imsi"):
            per_sim[sim_of[row["imsi"]]] += Decimal(row["amount"])
    top_sim = max(per_sim, key=lambda s: per_sim[s])
    cost_section = out.split("Top 3 SIMs by cost")[1].split("Top 3 SIMs by traffic")[0]
    assert cost_section.splitlines()[3].split()[1] == top_sim
    assert f"{per_sim[top_sim]:,.2f}" in cost_section
    assert "MISMATCH" not in out and " ok" in out


def test_report_for_an_earlier_month_and_bad_months(
    loaded: Loaded, capsys: pytest.CaptureFixture[str]
) -> None:
    world = loaded.box.world
    index = world.now.year * 12 + world.now.month - 2
    previous = f"{index // 12}-{index % 12 + 1:02d}"
    code, out, _ = report(capsys, "--catalog", str(loaded.catalog), "--month", previous)
    assert code == 0 and f"Bill {previous}" in out
    code, _, err = report(capsys, "--catalog", str(loaded.catalog), "--month", "2026/11")
    assert code == 2 and "YYYY-MM" in err
    code, _, err = report(capsys, "--catalog", str(loaded.catalog), "--month", "2001-01")
    assert code == 2 and "no billing data for 2001-01" in err and previous in err


def test_report_without_a_catalog_says_what_to_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = report(capsys, "--catalog", str(tmp_path / "missing.duckdb"))
    assert code == 2 and out == ""
    assert "does not exist yet" in err and "make demo" in err
    assert not (tmp_path / "missing.duckdb").exists()


def test_report_on_a_catalog_without_models_says_what_to_run(
    loaded: Loaded, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bare = build_catalog(Lake(loaded.root / "lake"), tmp_path / "bare.duckdb", TABLE_SPECS, ())
    code, _, err = report(capsys, "--catalog", str(bare))
    assert code == 2 and "no SQL models" in err and "models_job" in err


def test_models_are_views_in_the_catalog_built_by_the_pipeline(loaded: Loaded) -> None:
    con = duckdb.connect(str(loaded.catalog), read_only=True)
    try:
        kinds = dict(con.execute("SELECT name, kind FROM _catalog").fetchall())
        assert kinds["sim_daily_usage"] == "model:marts" and kinds["stg_sims"] == "model:staging"
        (sims,) = con.execute(
            "SELECT count(DISTINCT sim_id) FROM sim_daily_usage WHERE total_bytes > 0"
        ).fetchall()[0]
        assert sims > 5
    finally:
        con.close()


def test_loaded_partitions_match_the_counts_their_loads_reported(loaded: Loaded) -> None:
    lake = Lake(loaded.root / "lake")
    compared = 0
    for table in SOURCES:
        reported = check_rules.reported_rows(loaded.instance, table.asset.key)
        outcome = check_rules.evaluate_load_counts(lake, table.spec, table.lake_partition_of, reported)
        assert outcome.passed, outcome.description
        compared += len(reported)
    assert compared >= 20  # days, hours, months and snapshots of every source
