"""One primary-key check per written partition (issue 15 section 3): the lake write verifies
the key, and the in-step `unique_key` check takes that result instead of scanning the
partition again; a partition whose write did not verify its key is still scanned, and
duplicates there still fail the blocking check."""

from collections.abc import Callable, Sequence
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from assets import check_rules
from assets.tables import source
from pipelines.lake import Lake, SchemaError, TableSpec
from tests.reliability import harness

TABLE = "air_traffic_daily"
DAY = "2026-01-02"
SPEC = TableSpec(
    name="readings",
    schema=pa.schema([("date", pa.date32()), ("coverage", pa.string()), ("sim_id", pa.string())]),
    partition_by=("date",),
    primary_key=("coverage", "sim_id"),
)
ROWS = pa.table({"coverage": ["jp", "jp", "g"], "sim_id": ["a", "b", "a"]})


def _scans(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Relations the source checks scan for duplicates (the model checks import their own)."""
    scanned: list[str] = []
    scan = check_rules.evaluate_unique

    def recorded(con: duckdb.DuckDBPyConnection, relation: str, key: Sequence[str]) -> check_rules.Outcome:
        scanned.append(relation)
        return scan(con, relation, key)

    monkeypatch.setattr(check_rules, "evaluate_unique", recorded)
    return scanned


def test_a_load_checks_its_key_once_and_reports_it_as_before(
    sandbox, sandbox_now, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scanned = _scans(monkeypatch)
    day = (sandbox_now - timedelta(days=1)).strftime("%Y-%m-%d")
    res = harness.resources({"jp": sandbox.url_for("jp")}, sandbox.credentials, tmp_path, now=sandbox_now)
    result = dg.materialize(
        [source(TABLE).asset], partition_key=day, resources=res,
        instance=dg.DagsterInstance.ephemeral(), run_config=harness.QUIET,
    )  # fmt: skip
    assert scanned == [], "the write verified the key: no second scan"
    (check,) = [e for e in result.get_asset_check_evaluations() if e.check_name == "unique_key"]
    (materialization,) = result.asset_materializations_for_node(TABLE)
    rows = materialization.metadata["rows"].value
    assert rows > 0
    assert check.passed
    assert check.metadata["rows"].value == rows
    key = ", ".join(check_rules.table_key(source(TABLE).spec))
    assert check.description == f"{TABLE}: ({key}) unique over {rows} rows"


Write = Callable[[Lake, dict], bool]  # writes a partition; True when the write verified its key


def _asset_pair(lake: Lake, write: Write) -> list[dg.AssetsDefinition]:
    """A source-like asset writing one partition and running the source checks, and a
    downstream asset its blocking checks guard."""

    @dg.asset(
        name=SPEC.name,
        partitions_def=dg.DailyPartitionsDefinition(start_date="2026-01-01"),
        check_specs=check_rules.source_check_specs(SPEC),
    )
    def readings(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        day = date.fromisoformat(context.partition_key)
        verified = write(lake, {"date": day})
        checks = check_rules.source_check_results(
            context, lake, SPEC, lambda key: {"date": date.fromisoformat(key)}, {DAY: 3},
            [DAY] if verified else [],
        )  # fmt: skip
        return dg.MaterializeResult(check_results=checks)

    @dg.asset(deps=[readings], partitions_def=readings.partitions_def)
    def downstream() -> None:
        return None

    return [readings, downstream]


def _run(assets: list[dg.AssetsDefinition]) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        assets, partition_key=DAY, instance=dg.DagsterInstance.ephemeral(), run_config=harness.QUIET,
        raise_on_error=False,
    )  # fmt: skip


def test_duplicates_in_a_partition_not_verified_by_its_write_fail_the_blocking_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scanned = _scans(monkeypatch)
    lake = Lake(tmp_path / "lake")

    def write_around_the_lake(lake: Lake, partition: dict) -> bool:
        file = Path(lake.storage.uri(lake.partition_key(SPEC, partition)))
        file.parent.mkdir(parents=True)
        pq.write_table(pa.concat_tables([ROWS, ROWS.slice(0, 1)]), file)  # ("jp", "a") twice
        return False

    result = _run(_asset_pair(lake, write_around_the_lake))
    assert scanned == [SPEC.name], "an unverified partition is scanned"
    (check,) = [e for e in result.get_asset_check_evaluations() if e.check_name == "unique_key"]
    assert not check.passed
    assert check.metadata["rows"].value == 4
    assert check.metadata["duplicates"].value == [{"date": DAY, "coverage": "jp", "sim_id": "a", "rows": "2"}]
    assert result.asset_materializations_for_node("downstream") == [], "blocked by the failed check"


def test_duplicates_written_through_the_lake_fail_the_step(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")

    def write(lake: Lake, partition: dict) -> bool:
        return lake.write_partition(SPEC, partition, pa.concat_tables([ROWS, ROWS.slice(0, 1)])).key_verified

    result = _run(_asset_pair(lake, write))
    assert not result.success
    assert any("is not unique" in m for m in harness.failure_messages(result))
    assert not lake.partitions(SPEC), "nothing written"
    assert result.asset_materializations_for_node("downstream") == []
    with pytest.raises(SchemaError, match="not unique"):
        write(lake, {"date": date.fromisoformat(DAY)})


def test_a_clean_verified_partition_is_not_scanned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scanned = _scans(monkeypatch)
    lake = Lake(tmp_path / "lake")

    def write(lake: Lake, partition: dict) -> bool:
        return lake.write_partition(SPEC, partition, ROWS).key_verified

    result = _run(_asset_pair(lake, write))
    assert result.success
    assert scanned == []
    (check,) = [e for e in result.get_asset_check_evaluations() if e.check_name == "unique_key"]
    assert check.passed
    assert check.description == "readings: (date, coverage, sim_id) unique over 3 rows"
    assert result.asset_materializations_for_node("downstream")
