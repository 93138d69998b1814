"""A catalog that works anywhere (issue 11): older DuckDB versions open it, a moved or copied data
folder is refused with the one-step rebuild command (then works), columns added later are read
by DuckDB, Polars and pyarrow.dataset, and the external-table DDL parses in each dialect."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds
import pytest
import sqlglot
from sqlglot import exp

from assets.models import MODELS
from assets.tables import TABLE_SPECS
from pipelines import cli
from pipelines.lake import Lake, LakeError, TableSpec, build_catalog, build_model, open_catalog
from pipelines.lake.ddl import DIALECTS, external_table_ddl
from sandbox.world import World
from testkit.world_lake import LoadPlan, fill_lake

NOW = datetime(2026, 11, 30, tzinfo=UTC)
OLD_DUCKDB = "duckdb==1.1.3"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small lake (every table, every mart) and its catalog, as `make demo` leaves them."""
    root = tmp_path_factory.mktemp("data")
    lake = Lake(root / "lake")
    plan = LoadPlan(traffic_days=3, session_days=1, minute_days=1, audit_days=1, billing_months=1)
    fill_lake(lake, World(seed=3, sims=20, now=NOW, coverages=("jp", "g")), plan)
    for model in MODELS:
        build_model(lake, model, TABLE_SPECS, MODELS)
    build_catalog(lake, root / "soracom.duckdb", TABLE_SPECS, MODELS)
    return root


def view_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    names = [r[0] for r in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()]
    return {n: con.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in sorted(names)}


@pytest.mark.slow
def test_an_older_duckdb_opens_the_catalog_and_queries_every_view(data_dir, tmp_path):
    con = open_catalog(data_dir / "soracom.duckdb")
    expected = view_counts(con)
    con.close()
    assert len(expected) == len(TABLE_SPECS) + len(MODELS) and sum(expected.values()) > 0
    venv = tmp_path / "old-duckdb"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", OLD_DUCKDB], check=True, timeout=600
    )
    script = textwrap.dedent(
        """
        import json, sys, duckdb
        con = duckdb.connect(sys.argv[1], read_only=True)
        con.execute("SET TimeZone = 'UTC'")
        views = "SELECT view_name FROM duckdb_views() WHERE NOT internal"
        names = [r[0] for r in con.execute(views).fetchall()]
        counts = {n: con.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}
        print(json.dumps({"version": duckdb.__version__, "counts": counts}))
        """
    )
    answer = subprocess.run(
        [str(venv / "bin" / "python"), "-c", script, str(data_dir / "soracom.duckdb")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert answer.returncode == 0, answer.stderr
    result = json.loads(answer.stdout)
    assert result["version"] == OLD_DUCKDB.split("==")[1]
    assert result["counts"] == expected


def test_a_copied_data_folder_is_refused_then_rebuilt_in_one_step(data_dir, tmp_path, capsys):
    copy = tmp_path / "moved"
    shutil.copytree(data_dir, copy)
    with open_catalog(data_dir / "soracom.duckdb") as con:
        expected = view_counts(con)
    # The copy's views still name the original lake: refused, with the command that fixes it.
    with pytest.raises(LakeError, match="moved or copied") as refused:
        open_catalog(copy / "soracom.duckdb")
    command = f"soracom-lake catalog --lake {copy / 'lake'} --catalog {copy / 'soracom.duckdb'}"
    assert command in str(refused.value)
    # The report says so too, instead of a traceback.
    assert cli.main(["report", "--catalog", str(copy / "soracom.duckdb")]) != 0
    assert "soracom-lake catalog --lake" in capsys.readouterr().err
    assert cli.main(command.split()[1:]) == 0
    # Prove the rebuilt views read the copy: move the copy's lake away from under the original's.
    with open_catalog(copy / "soracom.duckdb") as con:
        assert view_counts(con) == expected
        lake_root = con.execute("SELECT lake_root FROM _catalog_build").fetchone()[0]
    assert lake_root == str(copy / "lake")


def test_a_catalog_whose_lake_is_gone_says_how_to_rebuild(tmp_path):
    lake = Lake(tmp_path / "lake")
    spec = TableSpec("things", pa.schema([("k", pa.string())]))
    lake.write_partition(spec, {}, pl.DataFrame({"k": ["a"]}))
    build_catalog(lake, tmp_path / "soracom.duckdb", [spec])
    (tmp_path / "lake").rename(tmp_path / "elsewhere")
    with pytest.raises(LakeError, match=r"does not exist.*soracom-lake catalog --lake"):
        open_catalog(tmp_path / "soracom.duckdb")
    assert (
        cli.main(["catalog", "--lake", str(tmp_path / "nowhere"), "--catalog", str(tmp_path / "c.duckdb")])
        == 2
    )


def test_columns_added_later_are_read_by_duckdb_polars_and_pyarrow(tmp_path):
    """Files written before a column was added lack it; every reader returns it, null there."""
    old = TableSpec("evolving", pa.schema([("k", pa.string()), ("day", pa.int32())]), partition_by=("day",))
    new = TableSpec(
        "evolving",
        pa.schema([("k", pa.string()), ("added", pa.string()), ("day", pa.int32())]),
        partition_by=("day",),
    )
    lake = Lake(tmp_path / "lake")
    lake.write_partition(old, {"day": 1}, pl.DataFrame({"k": ["a"]}))
    lake.write_partition(new, {"day": 2}, pl.DataFrame({"k": ["b"], "added": ["x"]}))
    want = [{"k": "a", "added": None, "day": 1}, {"k": "b", "added": "x", "day": 2}]
    # Polars through the lake (spec schema) and directly, as docs/lake.md shows
    assert lake.scan(new).sort("day").collect().to_dicts() == want
    direct = pl.scan_parquet(
        lake.table_glob(new),
        schema={"k": pl.String, "added": pl.String},
        hive_partitioning=True,
        hive_schema={"day": pl.Int32},
        missing_columns="insert",
        extra_columns="ignore",
    )
    assert direct.sort("day").collect().select(["k", "added", "day"]).to_dicts() == want
    # pyarrow.dataset given the table's schema
    dataset = ds.dataset(lake.root + "/evolving", schema=new.schema, partitioning="hive", format="parquet")
    assert dataset.to_table().sort_by("day").to_pylist() == want
    # DuckDB: the catalog's view (union_by_name)
    build_catalog(lake, tmp_path / "soracom.duckdb", [new])
    with open_catalog(tmp_path / "soracom.duckdb") as con:
        rows = con.execute("SELECT k, added, day FROM evolving ORDER BY day").fetchall()
    assert rows == [("a", None, 1), ("b", "x", 2)]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_external_table_ddl_parses_in_each_dialect_with_the_lake_types(dialect, tmp_path, capsys):
    lake = Lake(tmp_path / "lake")
    statements = external_table_ddl(lake, TABLE_SPECS, dialect)
    assert len(statements) == len(TABLE_SPECS)
    for spec, statement in zip(TABLE_SPECS, statements, strict=True):
        parsed = sqlglot.parse_one(statement, read=dialect)
        assert isinstance(parsed, exp.Create) and parsed.this.this.name == spec.name
        columns = {
            c.name: c.args["kind"].sql(dialect=dialect).upper() for c in parsed.find_all(exp.ColumnDef)
        }
        assert set(columns) == set(spec.schema.names), spec.name
        partitioned = parsed.find(exp.PartitionedByProperty)
        assert (partitioned is not None) == bool(spec.partition_by), spec.name
        assert str(lake.root) in statement
    items = next(s for spec, s in zip(TABLE_SPECS, statements, strict=True) if spec.name == "billing_items")
    parsed = sqlglot.parse_one(items, read=dialect)
    kinds = {c.name: c.args["kind"].sql(dialect=dialect).upper() for c in parsed.find_all(exp.ColumnDef)}
    assert kinds["amount"].startswith("DECIMAL(38, 12)") and kinds["month"] in ("STRING", "VARCHAR")
    assert kinds["_loaded_at"].startswith("TIMESTAMP")
    assert cli.main(["catalog", "--lake", str(tmp_path / "lake"), "--ddl", dialect]) == 2  # no lake yet
    (tmp_path / "lake").mkdir()
    assert cli.main(["catalog", "--lake", str(tmp_path / "lake"), "--ddl", dialect]) == 0
    assert capsys.readouterr().out.count("CREATE ") == len(TABLE_SPECS)
