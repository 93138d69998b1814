import datetime as dt
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import pyarrow.parquet as pq
import pytest

from pipelines.lake import (
    ModelError,
    ViewResult,
    WriteResult,
    build_model,
    create_views,
    discover_models,
    materialise_model,
)
from pipelines.lake.models import mart_query
from tests.lake.conftest import DEVICES, FIXTURES, USAGE, usage_frame

MODELS = FIXTURES / "models"
TABLES = ("usage", "devices")


def write_sql(root: Path, layer: str, name: str, body: str) -> Path:
    (root / layer).mkdir(parents=True, exist_ok=True)
    path = root / layer / f"{name}.sql"
    path.write_text(body)
    return path


def load(lake) -> None:
    for day in (dt.date(2024, 3, 1), dt.date(2024, 3, 2)):
        lake.write_partition(USAGE, {"date": day, "coverage": "jp"}, usage_frame(day))
    lake.write_partition(
        DEVICES, {}, pl.DataFrame({"device_id": ["0000", "0001", "0002"], "name": ["a", "b", None]})
    )


def test_discovery_parses_dependencies_through_ctes_joins_and_subqueries():
    models = discover_models(MODELS, TABLES)
    assert [(m.name, m.layer, m.depends_on) for m in models] == [
        ("stg_devices", "staging", ("devices",)),
        ("stg_usage", "staging", ("usage",)),  # the CTE `raw` is not a dependency
        ("device_daily", "marts", ("stg_devices", "stg_usage")),  # join + nested subquery
        ("daily_totals", "marts", ("device_daily",)),
    ]
    by_name = {m.name: m for m in models}
    assert by_name["stg_usage"].description == "Usage samples with the UTC hour, negative counters dropped"
    assert by_name["stg_usage"].path == MODELS / "staging" / "stg_usage.sql"
    assert not by_name["stg_usage"].select_sql.endswith(";")


def test_dependency_order_beats_file_order(tmp_path):
    write_sql(tmp_path, "marts", "a_total", "-- total\nSELECT count(*) AS n FROM b_rows")
    write_sql(tmp_path, "marts", "b_rows", "-- rows\nSELECT * FROM usage")
    assert [m.name for m in discover_models(tmp_path, TABLES)] == ["b_rows", "a_total"]


def test_unknown_table_error_names_file_and_table(tmp_path):
    path = write_sql(
        tmp_path, "staging", "stg_x", "-- x\nWITH t AS (SELECT 1) SELECT * FROM t JOIN nowhere USING (a)"
    )
    with pytest.raises(ModelError) as error:
        discover_models(tmp_path, TABLES)
    assert str(path) in str(error.value)
    assert "'nowhere'" in str(error.value)


def test_cycles_are_reported_with_their_files(tmp_path):
    write_sql(tmp_path, "marts", "m_a", "-- a\nSELECT * FROM m_b")
    write_sql(tmp_path, "marts", "m_b", "-- b\nSELECT * FROM m_c")
    write_sql(tmp_path, "marts", "m_c", "-- c\nSELECT * FROM m_a JOIN usage USING (date)")
    with pytest.raises(ModelError, match=r"cycle: m_a \(.*m_a\.sql\) -> m_b .* -> m_c .* -> m_a"):
        discover_models(tmp_path, TABLES)


def test_self_reference_is_a_cycle(tmp_path):
    write_sql(tmp_path, "marts", "m_a", "-- a\nSELECT * FROM m_a")
    with pytest.raises(ModelError, match="cycle: m_a"):
        discover_models(tmp_path, TABLES)


@pytest.mark.parametrize(
    ("layer", "name", "body", "message"),
    [
        ("staging", "stg_a", "SELECT * FROM usage", "first line must be a comment"),
        ("staging", "stg_a", "-- two\nSELECT 1; SELECT 2", "exactly one SELECT statement"),
        ("staging", "stg_a", "-- insert\nINSERT INTO usage SELECT * FROM usage", "exactly one SELECT"),
        ("staging", "stg_a", "-- broken\nSELECT FROM WHERE (", "cannot parse"),
        ("staging", "stg_a", "-- qualified\nSELECT * FROM other.usage", "without a schema or database"),
        ("staging", "Bad-Name", "-- x\nSELECT 1", "rename the file"),
        ("staging", "usage", "-- x\nSELECT 1", "same name as a lake table"),
    ],
)
def test_malformed_models_are_refused(tmp_path, layer, name, body, message):
    path = write_sql(tmp_path, layer, name, body)
    with pytest.raises(ModelError, match=message) as error:
        discover_models(tmp_path, TABLES)
    assert str(path) in str(error.value)


def test_staging_may_not_read_marts(tmp_path):
    write_sql(tmp_path, "staging", "stg_a", "-- a\nSELECT * FROM mart_b")
    write_sql(tmp_path, "marts", "mart_b", "-- b\nSELECT * FROM usage")
    with pytest.raises(ModelError, match="staging model may not read the mart 'mart_b'"):
        discover_models(tmp_path, TABLES)


def test_table_functions_and_main_prefix_are_fine(tmp_path):
    write_sql(
        tmp_path, "staging", "stg_a", "-- a\nSELECT r.range, u.* FROM range(3) AS r, main.usage AS u;\n-- end"
    )
    [model] = discover_models(tmp_path, TABLES)
    assert model.depends_on == ("usage",)
    assert model.select_sql.endswith("main.usage AS u")


def test_build_materialises_marts_only_in_dependency_order_and_is_byte_stable(lake):
    load(lake)
    specs = [USAGE, DEVICES]
    models = discover_models(MODELS, TABLES)
    results = {m.name: build_model(lake, m, specs, models) for m in models}
    assert results["stg_usage"] == ViewResult(
        "stg_usage", ("device_id", "date", "coverage", "hour", "bytes_up", "amount")
    )
    assert not lake.has_model("stg_usage") and not lake.has_model("stg_devices")  # views, never files
    daily = results["device_daily"]
    assert isinstance(daily, WriteResult)
    assert daily.path == str(Path(lake.root) / "_models" / "device_daily" / "part-0.parquet")
    assert daily.rows == 4  # devices 0000 and 0001 (named) x 2 days
    first = pq.read_table(daily.path)
    assert first.column_names == ["device_id", "name", "date", "bytes_up", "amount"]
    totals = pl.read_parquet(results["daily_totals"].path).sort("date")
    assert totals.to_dicts()[0] == {
        "date": dt.date(2024, 3, 1),
        "bytes_up": 0 + 1 + 1000 + 1001,
        "amount": Decimal("0.0000000001") + Decimal("1.0000000000") + Decimal("1.0000000001"),
        "devices": 2,
    }
    data = Path(daily.path).read_bytes()
    again = materialise_model(lake, models[2], specs, models, con=duckdb.connect())
    assert again.rows == daily.rows
    assert Path(again.path).read_bytes() == data


def test_a_mart_inlines_its_staging_chain_and_reads_no_staging_file(lake, tmp_path):
    load(lake)
    write_sql(tmp_path, "staging", "stg_a", "-- a\nSELECT device_id, bytes_up FROM usage WHERE bytes_up > 0")
    write_sql(tmp_path, "staging", "stg_b", "-- b\nSELECT device_id, bytes_up * 2 AS doubled FROM stg_a")
    write_sql(
        tmp_path,
        "marts",
        "m",
        "-- m\n-- grain: device_id\nSELECT device_id, sum(doubled) AS d FROM stg_b GROUP BY ALL",
    )
    models = discover_models(tmp_path, TABLES)
    con = duckdb.connect()
    create_views(con, lake, ["stg_b"], [USAGE, DEVICES], models)
    plan = "\n".join(r[1] for r in con.execute("EXPLAIN SELECT * FROM stg_b").fetchall())
    assert "READ_PARQUET" in plan and "_models" not in plan
    result = build_model(lake, models[-1], [USAGE, DEVICES], models)
    usage = lake.read(USAGE).filter(pl.col("bytes_up") > 0)
    want = usage.group_by("device_id").agg((pl.col("bytes_up") * 2).sum().alias("d")).sort("device_id")
    got = pl.read_parquet(result.path)
    assert got["device_id"].to_list() == want["device_id"].to_list()  # sorted by the grain
    assert got["d"].to_list() == want["d"].to_list()
    assert not any(lake.has_model(n) for n in ("stg_a", "stg_b"))


def test_marts_are_sorted_by_their_grain(lake, tmp_path):
    load(lake)
    write_sql(
        tmp_path,
        "marts",
        "per_device_day",
        "-- per device and day\n-- grain: device_id, date\n"
        "SELECT date, device_id, sum(bytes_up) AS bytes_up FROM usage GROUP BY ALL ORDER BY date DESC",
    )
    [model] = discover_models(tmp_path, TABLES)
    assert model.grain == ("device_id", "date") and model.materialised
    result = materialise_model(lake, model, [USAGE], [model])
    keys = [(r["device_id"], r["date"]) for r in pl.read_parquet(result.path).to_dicts()]
    assert keys == sorted(keys) and len(keys) == 6


def test_materialise_needs_upstream_marts_first(lake):
    load(lake)
    models = discover_models(MODELS, TABLES)
    mart = next(m for m in models if m.name == "device_daily")
    build_model(lake, mart, [USAGE, DEVICES], models)  # its staging models need no file
    totals = next(m for m in models if m.name == "daily_totals")
    (Path(lake.root) / "_models" / "device_daily" / "part-0.parquet").unlink()
    with pytest.raises(ModelError, match=r"mart 'device_daily' .* is not materialised yet"):
        materialise_model(lake, totals, [USAGE, DEVICES], models)


def test_staging_models_are_never_materialised(lake):
    models = discover_models(MODELS, TABLES)
    with pytest.raises(ModelError, match="published as a view"):
        materialise_model(lake, models[0], [USAGE, DEVICES], models)


def test_materialise_over_tables_without_data_gives_empty_typed_output(lake):
    models = discover_models(MODELS, TABLES)
    result = materialise_model(lake, models[2], [USAGE, DEVICES], models)
    assert result.rows == 0
    assert str(pq.read_schema(result.path).field("amount").type) == "decimal128(38, 10)"


def test_sql_errors_surface_as_model_errors_naming_the_file(lake, tmp_path):
    path = write_sql(tmp_path, "marts", "m_bad", "-- bad\nSELECT no_such_column FROM usage")
    [model] = discover_models(tmp_path, TABLES)
    with pytest.raises(ModelError, match="no_such_column") as error:
        materialise_model(lake, model, [USAGE], [model])
    assert str(path) in str(error.value)
    assert not lake.has_model("m_bad")


def test_a_staging_sql_error_names_the_staging_file_in_its_asset_and_in_the_mart(lake, tmp_path):
    load(lake)
    bad = write_sql(tmp_path, "staging", "stg_bad", "-- bad\nSELECT no_such_column FROM usage")
    write_sql(tmp_path, "marts", "m", "-- m\nSELECT count(*) AS n FROM stg_bad")
    models = discover_models(tmp_path, TABLES)
    for model in models:
        with pytest.raises(ModelError, match="no_such_column") as error:
            build_model(lake, model, [USAGE, DEVICES], models)
        assert str(bad) in str(error.value)
    assert not lake.has_model("m")


def test_mart_query_inlines_the_staging_chain_and_materialises_what_is_read_twice(tmp_path):
    write_sql(tmp_path, "staging", "stg_a", "-- a\nSELECT device_id, bytes_up FROM usage")
    write_sql(tmp_path, "staging", "stg_b", "-- b\nSELECT device_id FROM stg_a")
    write_sql(tmp_path, "staging", "stg_unused", "-- unused\nSELECT 1 AS one")
    write_sql(
        tmp_path,
        "marts",
        "m",
        "-- m\n-- grain: device_id\nSELECT b.device_id, sum(a.bytes_up) AS bytes_up\n"
        "FROM stg_b AS b JOIN stg_a AS a USING (device_id) GROUP BY ALL",
    )
    models = discover_models(tmp_path, TABLES)
    query = mart_query(models[-1], models)
    assert '"stg_a" AS MATERIALIZED (' in query  # read by the mart and by stg_b
    assert '"stg_b" AS (' in query and "stg_unused" not in query
    assert query.index('"stg_a"') < query.index('"stg_b"')  # dependency order
    assert query.rstrip().endswith('ORDER BY "device_id"')
