"""The report's SQL lives in `sql/report/*.sql`, one file per table, beside the models; every
file is used and binds against the marts' columns (checked end to end in tests/test_report.py)."""

from __future__ import annotations

import re

import sqlglot

from pipelines import report


def test_every_report_query_is_a_file_and_every_file_a_query() -> None:
    files = {path.stem for path in report.REPORT_SQL.glob("*.sql")}
    used = {section.query for section in report.SECTIONS} | {"idle_totals", "months"}
    assert files == used


def test_report_queries_parse_and_take_only_month_and_top() -> None:
    for path in report.REPORT_SQL.glob("*.sql"):
        sql = path.read_text()
        assert set(re.findall(r"\$(\w+)", sql)) <= {"month", "top"}, path.name
        sqlglot.parse_one(sql, read="duckdb")
