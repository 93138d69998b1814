"""`evaluate_unique`, the rule behind every `unique_key` check: one scan of the relation gives its
row count and its duplicated keys (a staging view is computed anew by each query over it), with
the examples' values as Python shows them, the most repeated first, NULLs equal."""

from __future__ import annotations

from datetime import date

import duckdb

from assets.check_rules import MAX_EXAMPLES, evaluate_unique


def _relation(rows: list[tuple[str | None, date | None, int | None]]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("CREATE TABLE t (name VARCHAR, day DATE, n INTEGER, other DOUBLE)")
    if rows:
        con.executemany("INSERT INTO t VALUES (?, ?, ?, 1.5)", rows)
    con.execute("CREATE TEMP VIEW v AS SELECT * FROM t WHERE n IS NULL OR n >= 0")
    return con


def test_a_unique_key_passes_with_the_row_count() -> None:
    con = _relation([("a", date(2026, 11, 1), 1), ("a", date(2026, 11, 2), 1), (None, None, None)])
    outcome = evaluate_unique(con, "v", ["name", "day", "n"])
    assert outcome.passed and outcome.metadata == {"rows": 3}
    assert evaluate_unique(_relation([]), "v", ["name"]).metadata == {"rows": 0}


def test_duplicates_are_listed_most_repeated_first_with_nulls_equal() -> None:
    rows = [("a", date(2026, 11, 1), 1)] * 2 + [(None, None, None)] * 3 + [("b", date(2026, 11, 2), 7)]
    outcome = evaluate_unique(_relation(rows), "v", ["name", "day", "n"])
    assert not outcome.passed
    assert outcome.metadata == {
        "rows": 6,
        "duplicates": [
            {"name": "None", "day": "None", "n": "None", "rows": "3"},
            {"name": "a", "day": "2026-11-01", "n": "1", "rows": "2"},
        ],
    }
    assert "key (name, day, n) is not unique, e.g. {'name': 'None'" in outcome.description


def test_at_most_max_examples_and_a_missing_key_column_is_named() -> None:
    rows = [(f"k{i:02}", None, i) for i in range(MAX_EXAMPLES + 5) for _ in range(2)]
    outcome = evaluate_unique(_relation(rows), "v", ["name"])
    assert len(outcome.metadata["duplicates"]) == MAX_EXAMPLES and outcome.metadata["rows"] == len(rows)
    assert [d["name"] for d in outcome.metadata["duplicates"]] == [f"k{i:02}" for i in range(MAX_EXAMPLES)]
    missing = evaluate_unique(_relation(rows), "v", ["name", "nope"])
    assert not missing.passed and "lacks key column(s) ['nope']" in missing.description
