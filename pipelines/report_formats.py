"""The report as JSON (one document) and CSV (one file per section, or blocks on a stream)."""

import csv
import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from pipelines.report_output import Report, Table


def plain(value: Any) -> Any:
    """A JSON/CSV-friendly value: amounts as numbers, dates as ISO text."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


def to_json(report: Report) -> str:
    """`{"month", "catalog", "sections": {key: {"title", "columns", "rows": [{column: value}]}}}`."""
    document = {
        "month": report.month,
        "catalog": report.catalog,
        "sections": {
            t.key: {
                "title": t.title,
                "columns": list(t.headers),
                "rows": [dict(zip(t.headers, map(plain, row), strict=True)) for row in t.rows],
            }
            for t in report.tables
        },
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _write_table(table: Table, out: TextIO) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(table.headers)
    writer.writerows([plain(v) for v in row] for row in table.rows)


def write_csv_dir(report: Report, directory: Path) -> list[Path]:
    """One `<section>.csv` per section in `directory` (created), what spreadsheets open directly."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for table in report.tables:
        path = directory / f"{table.key}.csv"
        with path.open("w", newline="", encoding="utf-8") as out:
            _write_table(table, out)
        written.append(path)
    return written


def write_csv_stream(report: Report, out: TextIO) -> None:
    """Every section on one stream: a `# key: title` line, the CSV header and rows, a blank line."""
    for table in report.tables:
        print(f"# {table.key}: {table.title}", file=out)
        _write_table(table, out)
        print(file=out)
