"""`bench/dlt_nightly.py` (run by hand, with dlt from the `bench` extra): its table must not call
two sides equal when their rows differ, and nothing `make test` imports may need dlt."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bench.dlt_nightly import DltRun, Pair, format_scenario
from bench.nightly import SourceRun

REPO = Path(__file__).resolve().parents[2]


def _pair(ours_rows: list[int], dlt_rows: list[int]) -> Pair:
    pair = Pair("session_events")
    for n, rows in enumerate(ours_rows):
        pair.ours.append(SourceRun("session_events", "generous", "ours", 60_000, wall_s=2.0 + n, rows=rows))
        pair.ours_cpu_s.append(1.0)
    for n, rows in enumerate(dlt_rows):
        pair.dlt.append(DltRun(["session_events"], "generous", wall_s=3.0 + n, rows={"session_events": rows}))
        pair.dlt_cpu_s.append(1.5)
    return pair


def test_rows_that_differ_in_any_round_are_reported():
    same = _pair([100, 100], [100, 100])
    other = _pair([100, 100], [100, 99])  # the second dlt round lost a row
    assert same.rows_equal
    assert not other.rows_equal
    table = format_scenario("generous", [other], None)
    assert "DIFFER" in table


def test_table_shows_medians_and_the_ratio():
    pair = _pair([100, 100, 100], [100, 100, 100])  # ours 2, 3, 4 s; dlt 3, 4, 5 s
    assert (pair.ours_s, pair.dlt_s) == (3.0, 4.0)
    table = format_scenario("generous", [pair], None)
    assert "| 3.00 (2.0/3.0/4.0) | 4.00 (3.0/4.0/5.0) | 1.33 |" in table
    assert "dlt/ours 1.33" in table


def test_bench_modules_import_without_dlt():
    code = (
        "import sys, bench.dlt_nightly, bench.dlt_source; "
        "assert not [m for m in sys.modules if m == 'dlt' or m.startswith('dlt.')], 'dlt imported'"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
