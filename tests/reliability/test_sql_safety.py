"""No value from the API is ever spliced into SQL text.

1. Statically: every SQL statement the pipeline builds (`.execute`/`.sql`/`.query` with a
   non-constant text, in pipelines/ and assets/) interpolates only identifiers and literals
   passed through `quote_identifier`/`quote_literal`, or fragments reviewed below (all
   built from code: table specs, file paths, constants). A new interpolation fails this
   test until it is reviewed and listed.
2. Dynamically: a load whose tags, names, Harvest content and CSV tag columns all start
   with `x'); DROP TABLE sims; --" OR 1=1; DROP VIEW groups; -- ` stores those strings
   verbatim, and the catalog and every SQL model still build.
"""

from __future__ import annotations

import ast
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from assets import billing, harvest, inventory, traffic
from assets.models import CATALOG_AFTER_MODELS, MODEL_ASSETS
from assets.partitions import daily_partitions, last_days, monthly_partitions, window_for
from assets.tables import SOURCES
from pipelines.lake import Lake
from sandbox.server import badinput
from sandbox.testing import start_sandbox
from tests.assets import truth
from tests.reliability import harness

pytestmark = [pytest.mark.reliability]

REPO = Path(__file__).resolve().parents[2]
SQL_CALLS = ("execute", "executemany", "sql", "query")
SAFE_CALLS = ("quote_identifier", "quote_literal")

# (file, interpolated expression) -> why it cannot carry API data.
REVIEWED = {
    ("pipelines/demo.py", "s.name"): "TableSpec.name: a lower-case identifier checked by TableSpec",
    ("pipelines/lake/catalog.py", "body"): "view SQL from views.py, or a staging model's SQL file (code)",
    ("pipelines/lake/catalog.py", "CATALOG_TABLE"): "a module constant",
    ("pipelines/lake/catalog.py", "BUILD_TABLE"): "a module constant",
    ("pipelines/slots.py", "db.text('SELECT pg_advisory_lock(:key)')"): "constant SQL, bound key",
    ("pipelines/slots.py", "db.text('SELECT pg_advisory_unlock(:key)')"): "constant SQL, bound key",
    ("pipelines/lake/view_cache.py", "body"): "view SQL from views.py, or a staging model's SQL file (code)",
    ("pipelines/lake/carry.py", "body"): "view SQL from views.py (table_view_sql of the lake's own files)",
    ("pipelines/lake/carry.py", "select"): "the mart's carry query, an SQL file from sql/ (code)",
    ("pipelines/lake/carry.py", "stored"): "CASTs to the spec's DuckDB types of read_parquet(quoted path)",
    ("pipelines/lake/carry.py", "query"): "constant SELECTs of the carry, with quoted paths and view SQL",
    ("pipelines/lake/carry.py", "_KEY"): "a module constant (the session-key hash expression)",
    ("pipelines/lake/carry.py", "WHOLE_COLUMN"): "a module constant (the carry query's flag column)",
    ("pipelines/lake/carry.py", "flag"): "an expression over the module constant WHOLE_COLUMN",
    ("pipelines/lake/models.py", "query"): "the model's SQL file from sql/ (code, not data)",
    ("pipelines/lake/incremental.py", "body"): "view SQL from views.py, or read_parquet(quoted paths)",
    ("pipelines/lake/incremental.py", "listed"): "quote_literal of each file URI",
    ("pipelines/lake/incremental.py", "select"): "the mart's SQL file from sql/, filtered on quoted literals",
    ("pipelines/lake/views.py", "source"): "read_parquet(quote_literal(glob), options from spec types)",
    ("pipelines/report.py", "sql"): "constant statements; values are passed as parameters",
    ("assets/check_rules.py", "table_view_sql(lake, spec, con, keys)"): "view SQL from views.py",
    ("assets/check_rules.py", "cols"): "joined quote_identifier() of key column names from code",
    ("assets/check_rules.py", "MAX_EXAMPLES + 1"): "an integer constant",
    ("assets/check_rules.py", "_ROWS"): "a module constant (the quoted name of the group-count column)",
    ("assets/check_rules.py", "fields"): "struct fields 'c0'.. (generated) of quote_identifier() key columns",
    ("assets/model_checks.py", "table_view_sql(the_lake, summaries.spec, con)"): "view SQL from views.py",
    ("assets/check_rules.py", "counts"): "joined quote_identifier() of column names from code",
    ("pipelines/lake/conform.py", "_identifier(column)"): "a TableSpec key column name, double-quoted",
    ("pipelines/lake/conform.py", "columns"): "joined _identifier() of TableSpec key column names",
    ("pipelines/lake/conform.py", "source"): "read_parquet() of the lake's own file path, quoted",
}


def sql_interpolations() -> set[tuple[str, str]]:
    """(file, expression) of every non-constant piece of SQL text passed to DuckDB."""
    found = set()
    for folder in ("pipelines", "assets"):
        for path in sorted((REPO / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(), str(path))
            for node in ast.walk(tree):
                if not (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr in SQL_CALLS
                    and node.args
                    and not isinstance(node.args[0], ast.Constant)
                ):
                    continue
                text = node.args[0]
                pieces = (
                    [v.value for v in text.values if isinstance(v, ast.FormattedValue)]
                    if isinstance(text, ast.JoinedStr)
                    else [text]
                )
                for piece in pieces:
                    if isinstance(piece, ast.Call) and ast.unparse(piece.func) in SAFE_CALLS:
                        continue
                    found.add((str(path.relative_to(REPO)), ast.unparse(piece)))
    return found


def test_sql_text_is_built_only_from_quoted_names_and_reviewed_code_fragments() -> None:
    found = sql_interpolations()
    unreviewed = sorted(found - set(REVIEWED))
    stale = sorted(set(REVIEWED) - found)
    assert not stale, f"REVIEWED lists expressions the code no longer has; remove them: {stale}"
    assert not unreviewed, (
        "SQL text interpolates expressions nobody reviewed; pass values as parameters (`?`) or "
        f"quote them, then list them in REVIEWED: {unreviewed}"
    )
    assert len(found) >= 10, "the scan must see the pipeline's SQL (did the code move?)"


def test_quoting_helpers_neutralise_sqlish_text() -> None:
    from pipelines.lake.views import quote_identifier, quote_literal

    con = duckdb.connect()
    try:
        assert con.execute(f"SELECT {quote_literal(badinput.SQLISH)}").fetchone()[0] == badinput.SQLISH
        con.execute(f"CREATE TABLE {quote_identifier(badinput.SQLISH)} (x INT)")
        assert con.execute("SELECT count(*) FROM duckdb_tables()").fetchone()[0] == 1
    finally:
        con.close()


@pytest.mark.integration
def test_a_load_of_sqlish_strings_stores_them_verbatim_and_models_still_build(tmp_path: Path) -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    day = last_days(now, 1)[0]
    month = (now.replace(day=1) - timedelta(days=1)).replace(day=1).strftime("%Y-%m-%d")
    with start_sandbox(sims=30, seed=9, now=now, coverage="jp", bad_input="sql_strings") as box:
        res = harness.resources({"jp": box.url}, box.credentials, tmp_path, now=now)
        for assets, key in (
            ([inventory.sims, inventory.groups, billing.billing_summaries], day),
            ([traffic.air_traffic_daily, traffic.air_traffic_5min, harvest.harvest_entries], day),
            ([billing.bills, billing.daily_bills, billing.billing_items], month),
        ):
            result = harness.materialize(assets, key, res)
            assert result.success, harness.failure_messages(result)
        built = harness.materialize([*MODEL_ASSETS, CATALOG_AFTER_MODELS], None, res)
        assert built.success, harness.failure_messages(built)
        world = box.world
        assert box.stats.bad_inputs > 0

    lake = Lake(tmp_path / "lake")
    sims = lake.read(inventory.SIMS_SPEC)
    want = {
        s["simId"]: badinput.with_sql((s.get("tags") or {}).get("name"))
        for s in world.sims(world.sim_ids("jp"))
    }
    assert dict(zip(sims["sim_id"], sims["name"], strict=True)) == want
    assert all(v.startswith(badinput.SQLISH) for v in want.values() if v)
    groups = lake.read(inventory.GROUPS_SPEC)
    assert groups.height and all(n.startswith(badinput.SQLISH) for n in groups["name"].drop_nulls())
    w = window_for(daily_partitions, day)
    expected = truth.sort_rows(
        [(r, i, t, badinput.with_sql(c)) for r, i, t, c in truth.expected_harvest(world, "jp", w)]
    )
    assert expected and truth.lake_rows(lake, "harvest_entries", truth.HARVEST_COLUMNS, "jp") == expected
    tags = [json.loads(e) for e in lake.read(traffic.DAILY_SPEC)["_extra"].to_list()]
    assert tags and all(t["name"].startswith(badinput.SQLISH) for t in tags if t.get("name"))
    m = window_for(monthly_partitions, month)
    assert truth.lake_rows(lake, "billing_items", truth.ITEM_COLUMNS, "jp") == truth.expected_billing_items(
        world, "jp", m.yyyymm
    )

    con = duckdb.connect(str(tmp_path / "soracom.duckdb"), read_only=True)
    try:
        views = {
            r[0] for r in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()
        }
        assert {t.spec.name for t in SOURCES} <= views, "a view went missing"
        assert con.execute("SELECT count(*) FROM sims").fetchone()[0] == sims.height
        listed = {r[0] for r in con.execute("SELECT name FROM _catalog").fetchall()}
        assert {t.spec.name for t in SOURCES} <= listed
        assert len(views) > len(SOURCES), "the SQL models must be in the catalog too"
    finally:
        con.close()
