"""`soracom-lake report [--format text|html|csv|json] [--month YYYY-MM] [--out PATH]`: a usage and cost
summary read from the DuckDB catalog.

It reads only the marts (monthly_summary, billing_reconciliation, sim_monthly_cost,
sim_daily_usage, cost_by_group_monthly, idle_sims, traffic_anomalies) with the queries in
`sql/report/*.sql`, opens the catalog read-only (never blocking a load), and passes the month
and the top-N as query parameters. The formats (`report_formats`, `report_html`) render the same
tables; the HTML page is self-contained with inline SVG charts.
"""

import argparse
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

import duckdb

from pipelines import settings
from pipelines.lake import LakeError
from pipelines.lake import open_catalog as open_lake_catalog
from pipelines.packaged import sql_dir
from pipelines.report_formats import to_json, write_csv_dir, write_csv_stream
from pipelines.report_html import to_html
from pipelines.report_output import Report, Table

REQUIRED_MODELS = (
    "monthly_summary",
    "billing_reconciliation",
    "sim_monthly_cost",
    "sim_daily_usage",
    "cost_by_group_monthly",
    "cost_by_tag_monthly",
    "idle_sims",
    "traffic_anomalies",
)
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
REPORT_SQL = sql_dir() / "report"  # one query per table, beside the models


class ReportError(Exception):
    """The report cannot be produced; the message says what to do."""


FORMATS = ("text", "html", "csv", "json")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--month", default=None, help="month YYYY-MM (default: the latest month with loaded data)"
    )
    parser.add_argument("--format", choices=FORMATS, default="text", help="output format (default: text)")
    parser.add_argument(
        "--out",
        default=None,
        help="write to this file instead of stdout (for csv: a directory, one <section>.csv each)",
    )
    parser.add_argument(
        "--catalog",
        default=None,
        help="DuckDB catalog file (default: SORACOM_CATALOG_PATH, else data/soracom.duckdb)",
    )
    parser.add_argument("--top", type=int, default=10, help="rows per top-N list (default: 10)")


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, Decimal | float):
        return f"{value:,.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def render(table: Table, out: TextIO) -> None:
    print(f"\n{table.title}", file=out)
    if not table.rows:
        print(f"  {table.empty}", file=out)
        return
    cells = [[_text(v) for v in row] for row in table.rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(table.headers)]
    numeric = [
        all(isinstance(r[i], int | float | Decimal) or r[i] is None for r in table.rows)
        for i in range(len(widths))
    ]

    def line(values: Sequence[str]) -> str:
        return (
            "  "
            + "  ".join(
                v.rjust(w) if n else v.ljust(w) for v, w, n in zip(values, widths, numeric, strict=True)
            ).rstrip()
        )

    print(line(table.headers), file=out)
    print(line(["-" * w for w in widths]), file=out)
    for row in cells:
        print(line(row), file=out)


def open_catalog(path: Path) -> duckdb.DuckDBPyConnection:
    """The catalog, read-only; a clear error when it is missing or has no models yet."""
    if not path.exists():
        raise ReportError(f"the catalog {path} does not exist yet: run `make demo` or a load first")
    try:  # read-only, UTC; refuses a moved or copied catalog, saying how to rebuild it
        con = open_lake_catalog(path)
    except LakeError as error:
        raise ReportError(str(error)) from error
    except duckdb.Error as error:  # not a DuckDB file, a folder, locked by a writer, ...
        if path.is_dir() or "not a valid DuckDB database" in str(error):
            raise ReportError(
                f"{path} is not a DuckDB catalog: point --catalog (or SORACOM_CATALOG_PATH) at the "
                "catalog file a load wrote (data/soracom.duckdb by default)"
            ) from None
        raise ReportError(f"cannot open the catalog {path}: {str(error).splitlines()[0]}") from None
    views = {
        row[0] for row in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()
    }
    missing = [m for m in REQUIRED_MODELS if m not in views]
    if missing:
        con.close()
        raise ReportError(
            f"the catalog {path} has no SQL models {missing} yet: run `make demo`, or materialize the "
            "models_job in Dagster"
        )
    return con


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    return con.execute(sql, list(params)).fetchall()


def resolve_month(con: duckdb.DuckDBPyConnection, month: str | None) -> str:
    """`month`, checked, or the latest month with loaded data (billed, or with loaded traffic days)."""
    months = [r[0] for r in _rows(con, (REPORT_SQL / "months.sql").read_text())]
    if month is None:
        if not months:
            raise ReportError("the catalog holds no loaded month yet: load traffic or billing months first")
        return months[-1]
    if not _MONTH.match(month):
        raise ReportError(f"--month must look like 2026-11 (YYYY-MM), got {month!r}")
    if month not in months:
        raise ReportError(
            f"no billing data for {month} (nor traffic); months in the catalog: {', '.join(months) or 'none'}"
        )
    return month


@dataclass(frozen=True)
class Section:
    """One table of the report: its query (`sql/report/<query>.sql`, parameters `$month` and
    `$top`), its title (formatted with month and top) and column headers."""

    query: str
    title: str
    headers: tuple[str, ...]
    empty: str = "(none)"


SECTIONS = (
    Section(
        "bill",
        "Bill {month}",
        ("coverage", "currency", "bill", "state", "data MB", "active SIMs", "billed SIMs", "per active SIM"),
    ),
    Section(
        "reconciliation",
        "Reconciliation (billing CSV vs monthly bill vs daily bills)",
        ("coverage", "currency", "bill", "CSV total", "daily bills", "CSV-bill", "daily-CSV daily", "status"),
    ),
    Section(
        "top_cost",
        "Top {top} SIMs by cost",
        ("coverage", "SIM", "name", "group", "currency", "total", "basic fee", "data", "data MB", "per MB"),
    ),
    Section(
        "daily_traffic",
        "Daily traffic in {month} per coverage (loaded days)",
        ("date", "coverage", "MB", "SIMs with traffic"),
        "(no traffic loaded for this month)",
    ),
    Section(
        "top_traffic",
        "Top {top} SIMs by traffic (loaded days of {month})",
        ("coverage", "SIM", "name", "group", "MB", "days", "online h", "sessions"),
        "(no traffic loaded for this month)",
    ),
    Section(
        "cost_by_group",
        "Cost by group",
        ("coverage", "group", "currency", "SIMs", "total", "basic fee", "data", "other", "data MB"),
    ),
    Section(
        "cost_by_tag",
        "Cost by tag (top {top} values per tag)",
        ("coverage", "tag", "value", "currency", "SIMs", "total", "data MB"),
    ),
    Section(
        "idle_sims",
        "Idle SIMs in {month}: charged but no traffic on its loaded days (savings candidates){idle_totals}",
        (
            "coverage",
            "SIM",
            "name",
            "group",
            "status",
            "currency",
            "month cost",
            "traffic days",
            "last traffic",
        ),
        "(none, or no traffic loaded for this month)",
    ),
    Section(
        "anomalies",
        "Traffic anomalies in {month} (day > factor x baseline; rule in traffic_anomalies.sql)",
        ("date", "coverage", "SIM", "name", "MB", "baseline MB", "x baseline"),
    ),
)


def query(con: duckdb.DuckDBPyConnection, name: str, month: str, top: int) -> list[tuple[Any, ...]]:
    """The rows of `sql/report/<name>.sql`, given only the parameters it names."""
    sql = (REPORT_SQL / f"{name}.sql").read_text()
    params = {key: value for key, value in (("month", month), ("top", top)) if f"${key}" in sql}
    return con.execute(sql, params).fetchall()


def _idle_totals(con: duckdb.DuckDBPyConnection, month: str, top: int) -> str:
    totals = query(con, "idle_totals", month, top)
    return " - " + ", ".join(f"{c}: {n} SIMs, {_text(t)}" for c, n, t in totals) if totals else ""


def report_tables(con: duckdb.DuckDBPyConnection, month: str, top: int) -> list[Table]:
    idle_totals = _idle_totals(con, month, top)
    return [
        Table(
            section.title.format(month=month, top=top, idle_totals=idle_totals),
            section.headers,
            query(con, section.query, month, top),
            section.empty,
            section.query,
        )
        for section in SECTIONS
    ]


def build_report(catalog_path: Path, month: str | None, top: int) -> Report:
    con = open_catalog(catalog_path)
    try:
        chosen = resolve_month(con, month)
        tables = report_tables(con, chosen, top)
    finally:
        con.close()
    return Report(chosen, str(catalog_path), tables)


def render_text(report: Report, out: TextIO) -> None:
    print(f"Soracom usage and cost report - {report.month} (catalog {report.catalog})", file=out)
    for table in report.tables:
        render(table, out)


def print_report(catalog_path: Path, month: str | None, top: int, out: TextIO) -> None:
    render_text(build_report(catalog_path, month, top), out)


def write_report(report: Report, fmt: str, out: TextIO, path: Path | None) -> None:
    """`report` in `fmt` to `path` (a directory for csv) or, without one, to `out`."""
    if fmt == "csv":
        if path is None:
            write_csv_stream(report, out)
        else:
            write_csv_dir(report, path)
        return
    if fmt == "text":
        if path is None:
            render_text(report, out)
            return
        with path.open("w", encoding="utf-8") as file:
            render_text(report, file)
        return
    text = to_html(report) if fmt == "html" else to_json(report)
    if path is None:
        out.write(text)
    else:
        path.write_text(text, encoding="utf-8")


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    import sys

    stream = out or sys.stdout
    path = Path(args.catalog or settings.setting(settings.CATALOG_PATH)).expanduser().resolve()
    if args.top < 1:
        print("error: --top must be at least 1", file=sys.stderr)
        return 2
    out_path = Path(args.out).expanduser() if args.out else None
    try:
        report = build_report(path, args.month, args.top)
        write_report(report, args.format, stream, out_path)
    except OSError as error:
        print(f"error: cannot write the report to {out_path}: {error.strerror or error}", file=sys.stderr)
        return 2
    except ReportError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="soracom-lake report", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))
