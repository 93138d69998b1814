"""`soracom-lake report --format text|csv|json --out PATH` and the month it reports (issue 14 item 10)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from pipelines.cli import main
from pipelines.report import SECTIONS


def report(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["report", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def as_json(capsys: pytest.CaptureFixture[str], catalog: Path, *args: str) -> dict[str, Any]:
    code, out, err = report(capsys, "--catalog", str(catalog), "--format", "json", *args)
    assert (code, err) == (0, "")
    return json.loads(out)


def query(catalog: Path, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(catalog), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def test_json_holds_every_section_of_the_latest_loaded_month(
    report_catalog: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = as_json(capsys, report_catalog, "--top", "3")
    assert document["month"] == "2026-11"  # the latest month with loaded traffic and billing
    assert list(document["sections"]) == [s.query for s in SECTIONS]
    top = document["sections"]["top_cost"]["rows"]
    assert len(top) == 3
    ((best,),) = query(
        report_catalog, "SELECT max(total_amount) FROM sim_monthly_cost WHERE month = '2026-11'"
    )
    assert top[0]["total"] == pytest.approx(float(best))
    days = document["sections"]["daily_traffic"]["rows"]
    assert {d["coverage"] for d in days} == {"g", "jp"} and len(days) == 20  # 10 loaded days x 2


def test_idle_sims_honour_the_month(report_catalog: Path, capsys: pytest.CaptureFixture[str]) -> None:
    november = as_json(capsys, report_catalog, "--month", "2026-11", "--top", "100")["sections"]["idle_sims"]
    charged = dict(
        query(
            report_catalog,
            "SELECT sim_id, total_amount FROM sim_monthly_cost WHERE month = '2026-11' AND total_amount > 0"
            " AND sim_id IS NOT NULL",
        )
    )
    with_traffic = {
        s
        for (s,) in query(
            report_catalog,
            "SELECT DISTINCT sim_id FROM sim_daily_usage WHERE total_bytes > 0 AND date >= '2026-11-01'",
        )
    }
    expected = {s: float(a) for s, a in charged.items() if s not in with_traffic}
    assert expected, "the fixture must hold idle SIMs"
    assert {r["SIM"]: r["month cost"] for r in november["rows"]} == pytest.approx(expected)
    assert "Idle SIMs in 2026-11" in november["title"]
    # October is billed but has no loaded traffic: no SIM can be called idle in it
    october = as_json(capsys, report_catalog, "--month", "2026-10")["sections"]["idle_sims"]
    assert october["rows"] == [] and "Idle SIMs in 2026-10" in october["title"]


def test_csv_writes_one_file_per_section_or_blocks_on_stdout(
    report_catalog: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = report(
        capsys, "--catalog", str(report_catalog), "--format", "csv", "--out", str(tmp_path / "csv")
    )
    assert (code, out, err) == (0, "", "")
    assert sorted(p.stem for p in (tmp_path / "csv").iterdir()) == sorted(s.query for s in SECTIONS)
    with (tmp_path / "csv" / "bill.csv").open() as file:
        rows = list(csv.reader(file))
    assert tuple(rows[0]) == SECTIONS[0].headers and {r[0] for r in rows[1:]} == {"g", "jp"}
    code, out, _ = report(capsys, "--catalog", str(report_catalog), "--format", "csv")
    assert code == 0 and out.startswith("# bill: Bill 2026-11\ncoverage,currency,bill,")


def test_text_to_a_file_and_an_unwritable_out(
    report_catalog: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "report.txt"
    code, out, _ = report(capsys, "--catalog", str(report_catalog), "--out", str(target))
    assert (code, out) == (0, "")
    assert "Bill 2026-11" in target.read_text() and "Daily traffic in 2026-11" in target.read_text()
    code, out, err = report(
        capsys, "--catalog", str(report_catalog), "--format", "json", "--out", str(tmp_path / "no" / "r.json")
    )
    assert code == 2 and out == "" and "cannot write the report to" in err and "Traceback" not in err
