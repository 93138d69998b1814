"""Marts have flat columns only (issue 14 item 11): MAP, LIST, STRUCT, ARRAY or UNION columns make
SQLAlchemy-based BI tools (Superset, Metabase) warn and hide them."""

from __future__ import annotations

import duckdb

from assets.models import MODELS

NESTED = ("MAP(", "[]", "STRUCT(", "UNION(")


def test_no_mart_has_a_nested_column(con: duckdb.DuckDBPyConnection) -> None:
    marts = [m.name for m in MODELS if m.layer == "marts"]
    assert "sim_daily_usage" in marts and "sim_daily_traffic_by_type" in marts
    nested = [
        (mart, column, kind)
        for mart in marts
        for column, kind in con.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ?", [mart]
        ).fetchall()
        if any(marker in kind.upper() for marker in NESTED)
    ]
    assert nested == []


def test_idle_sims_lists_its_months_as_text(con: duckdb.DuckDBPyConnection) -> None:
    months = [m for (m,) in con.execute("SELECT months_charged FROM idle_sims").fetchall()]
    assert months and all(len(part) == 7 and part[4] == "-" for m in months for part in m.split(","))
