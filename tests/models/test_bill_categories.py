"""Cost categories from the editable seed `sql/seeds/bill_item_categories.csv` (issue 16 item 3):
the sandbox's Japanese (jp) and English (g) item names are classified, the summaries'
billItemCategory classifies a name the seed does not know, and anything unmatched is `other`
with a warning naming it and its share of the month."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import pytest

from assets import bill_categories
from assets.billing import ITEMS_SPEC, SUMMARIES_SPEC
from assets.model_checks import connect_model
from assets.models import MODELS, MODELS_BY_NAME
from pipelines.lake import Lake
from pipelines.packaged import sql_dir
from sandbox.world.pricing import ITEM_NAMES
from tests.models.conftest import BuiltLake

SEED = sql_dir() / "seeds" / "bill_item_categories.csv"
EXPECTED = {"data": "data", "basic": "basic_fee", "vpg": "vpg", "free_tier": "discount"}


def _kind(coverage: str, name: str) -> str:
    for kind, template in ITEM_NAMES[coverage].items():
        if name.startswith(template.split(" (")[0]):
            return kind
    raise AssertionError(f"{name!r} is no sandbox item name of {coverage}")


def test_the_seed_is_a_staging_view_of_the_csv_rows() -> None:
    model = MODELS_BY_NAME["bill_item_categories"]
    assert model.layer == "staging" and model.path == SEED
    rows = duckdb.sql(model.select_sql).fetchall()
    assert len(rows) == len(SEED.read_text(encoding="utf-8").strip().splitlines()) - 1
    assert rows[0][-1] == 1 and {r[1] for r in rows} >= {"data", "basic_fee", "discount", "vpg"}
    assert str(SEED.parent) not in model.select_sql, "the view holds the rows, not a path"


def test_sandbox_names_are_japanese_on_jp_and_english_on_g(con: duckdb.DuckDBPyConnection) -> None:
    names = dict(
        con.execute("SELECT coverage, list(DISTINCT bill_item_name) FROM billing_items GROUP BY 1").fetchall()
    )
    assert all(not n.isascii() for n in names["jp"] if not n.startswith("VPG")), names["jp"]
    assert any(n.startswith("データ通信料金") for n in names["jp"])
    assert all(n.isascii() for n in names["g"]), names["g"]


def test_every_sandbox_item_is_classified_by_the_seed(con: duckdb.DuckDBPyConnection) -> None:
    rows = con.execute(
        "SELECT DISTINCT coverage, bill_item_name, cost_category, category_pattern FROM stg_billing_items"
    ).fetchall()
    assert {c for c, *_ in rows} == {"jp", "g"}
    for coverage, name, category, pattern in rows:
        assert pattern is not None, f"{coverage} {name!r} matched no seed rule"
        assert category == EXPECTED[_kind(coverage, name)], (coverage, name, category, pattern)


def test_jpy_lines_and_bills_are_whole_yen(con: duckdb.DuckDBPyConnection) -> None:
    (fractional,) = con.execute(
        "SELECT count(*) FILTER (WHERE amount <> round(amount)) FROM billing_items WHERE coverage = 'jp'"
    ).fetchone()
    bills = con.execute("SELECT amount FROM bills WHERE coverage = 'jp'").fetchall()
    assert fractional == 0 and bills and all(a == round(a) for (a,) in bills)


@pytest.fixture
def renamed(built: BuiltLake, tmp_path: Path) -> Lake:
    """A copy of the lake where October's jp lines carry two names the seed does not know; the
    summaries give one of them Soracom's category `Air data usage`."""
    shutil.copytree(built.lake.storage.uri(""), tmp_path / "lake")
    lake = Lake(tmp_path / "lake")
    partition = {"month": "2026-10"}
    items = lake.read(ITEMS_SPEC, partition)
    jp = pl.col("coverage") == "jp"
    is_data = jp & pl.col("bill_item_name").str.starts_with("データ通信料金")
    is_vpg = jp & pl.col("bill_item_name").str.starts_with("VPG")
    items = items.with_columns(
        pl.when(is_data)
        .then(pl.lit("新しい通信サービス"))
        .when(is_vpg)
        .then(pl.lit("Mystery fee"))
        .otherwise(pl.col("bill_item_name"))
        .alias("bill_item_name")
    )
    lake.write_partition(ITEMS_SPEC, partition, items)
    for day in lake.partitions(SUMMARIES_SPEC):
        summaries = lake.read(SUMMARIES_SPEC, day).with_columns(
            pl.when((pl.col("coverage") == "jp") & pl.col("bill_item_name").str.starts_with("データ通信料金"))
            .then(pl.lit("新しい通信サービス"))
            .otherwise(pl.col("bill_item_name"))
            .alias("bill_item_name")
        )
        lake.write_partition(SUMMARIES_SPEC, day, summaries)
    return lake


def test_unmatched_names_are_other_and_the_check_warns_with_their_share(
    built: BuiltLake, renamed: Lake
) -> None:
    with connect_model(built.lake, "stg_billing_items") as con:
        outcome = bill_categories.evaluate_uncategorised(con)
    assert outcome.passed, outcome.description

    with connect_model(renamed, "stg_billing_items") as con:
        categories = dict(
            con.execute(
                "SELECT DISTINCT bill_item_name, cost_category FROM stg_billing_items "
                "WHERE coverage = 'jp' AND year_month = '202610' "
                "AND bill_item_name IN ('新しい通信サービス', 'Mystery fee')"
            ).fetchall()
        )
        month = con.execute(
            "SELECT sum(abs(amount)), sum(abs(amount)) FILTER (WHERE bill_item_name = 'Mystery fee') "
            "FROM stg_billing_items WHERE coverage = 'jp' AND year_month = '202610'"
        ).fetchone()
        outcome = bill_categories.evaluate_uncategorised(con)
    # the summaries' billItemCategory ("Air data usage") classifies the name the seed lacks
    assert categories == {"新しい通信サービス": "data", "Mystery fee": "other"}
    assert not outcome.passed
    assert outcome.metadata["unmatched_names"] == ["Mystery fee"]
    (found,) = outcome.metadata["unmatched"]
    assert (found["coverage"], found["year_month"]) == ("jp", "202610")
    share = round(float(Decimal(month[1]) / Decimal(month[0]) * 100), 3)
    assert found["share_of_month_pct"] == share and share > 0
    assert "Mystery fee" in outcome.description and "bill_item_categories.csv" in outcome.description


def test_the_check_is_defined_as_a_warning_on_stg_billing_items() -> None:
    (check,) = bill_categories.CATEGORY_CHECKS
    (spec,) = check.check_specs
    assert spec.asset_key.to_user_string() == "stg_billing_items" and spec.name == "bill_items_categorised"
    assert "bill_item_categories" in {m.name for m in MODELS}
