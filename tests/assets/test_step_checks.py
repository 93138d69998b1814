"""Checks run in their asset's own step (issue 14.2): a source load and a model build evaluate
their checks without a step (a process, under the multiprocess executor) per check, and a
failed blocking check keeps the models of the run from building on wrong data."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq

from assets.models import MODELS_BY_NAME, model_asset
from assets.tables import source
from pipelines.lake import Lake
from tests.reliability import harness

TABLE = "air_traffic_daily"
MODEL = "stg_air_traffic_daily"
MART = "sim_daily_traffic_by_type"  # reads only MODEL


def _materialize(assets: list[dg.AssetsDefinition], day: str, res: dict) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        assets, partition_key=day, resources=res, instance=dg.DagsterInstance.ephemeral(),
        run_config=harness.QUIET, raise_on_error=False,
    )  # fmt: skip


def test_a_load_and_a_model_evaluate_their_checks_in_their_own_steps(
    sandbox, sandbox_now, tmp_path: Path
) -> None:
    day = (sandbox_now - timedelta(days=1)).strftime("%Y-%m-%d")
    res = harness.resources({"jp": sandbox.url_for("jp")}, sandbox.credentials, tmp_path, now=sandbox_now)
    model = model_asset(MODELS_BY_NAME[MODEL])
    result = _materialize([source(TABLE).asset, model], day, res)
    assert result.success
    evaluations = {
        (e.asset_key.to_user_string(), e.check_name): e for e in result.get_asset_check_evaluations()
    }
    want = {(TABLE, "unique_key"), (TABLE, "required_not_null"), (TABLE, "rows_match_load")}
    want |= {(MODEL, "unique_key"), (MODEL, "required_not_null")}
    assert set(evaluations) == want
    assert all(e.passed for e in evaluations.values()), [e.description for e in evaluations.values()]
    steps = {e.step_key for e in result.all_events if e.is_step_success}
    assert steps == {TABLE, MODEL}, "no step of its own for any check"


def test_a_failed_blocking_check_stops_the_models_that_read_it(sandbox, sandbox_now, tmp_path: Path) -> None:
    """A load checks the partitions it wrote (an old partition it did not touch cannot fail it);
    duplicates anywhere in the table fail the staging model's blocking grain check, and no mart
    is built on them."""
    first, second = ((sandbox_now - timedelta(days=n)).strftime("%Y-%m-%d") for n in (2, 1))
    res = harness.resources({"jp": sandbox.url_for("jp")}, sandbox.credentials, tmp_path, now=sandbox_now)
    table = source(TABLE)
    assert _materialize([table.asset], first, res).success
    lake = Lake(tmp_path / "lake")
    file = lake.storage.uri(lake.partition_key(table.spec, table.lake_partition_of(first)))
    rows = pq.read_table(file)
    assert rows.num_rows > 0
    pq.write_table(pa.concat_tables([rows, rows]), file)  # a partition gone wrong since its load

    model, mart = (model_asset(MODELS_BY_NAME[name]) for name in (MODEL, MART))
    result = _materialize([table.asset, model, mart], second, res)
    assert not result.success
    failed = {
        (e.asset_key.path[-1], e.check_name) for e in result.get_asset_check_evaluations() if not e.passed
    }
    assert (MODEL, "unique_key") in failed
    assert (TABLE, "unique_key") not in failed, "the load's own partition is clean"
    assert result.asset_materializations_for_node(MART) == [], "no mart may build on duplicates"
    assert lake.partition_rows(table.spec, table.lake_partition_of(second)), "the new partition is kept"
