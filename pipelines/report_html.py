"""The report as one self-contained HTML page: inline CSS, inline SVG charts, a few lines of inline
script that sort a table by the clicked column. Nothing is fetched at view time, so the file can be
mailed or opened offline."""

from dataclasses import dataclass
from decimal import Decimal
from html import escape
from typing import Any

from pipelines.report_output import Report, Table
from pipelines.report_svg import bar_chart, line_chart


@dataclass(frozen=True)
class Chart:
    """Which columns of a section make its chart: bars labelled by `label` columns sized by `value`,
    in `unit`, or in the row's currency when `unit` is "currency"."""

    label: tuple[str, ...]
    value: str
    unit: str


CHARTS = {
    "reconciliation": Chart(("coverage",), "", ""),  # drawn by _reconciliation_chart
    "daily_traffic": Chart(("date", "coverage"), "MB", "MB"),  # a line per coverage
    "top_cost": Chart(("SIM", "name"), "total", "currency"),
    "top_traffic": Chart(("SIM", "name"), "MB", "MB"),
    "cost_by_group": Chart(("coverage", "group"), "total", "currency"),
    "cost_by_tag": Chart(("coverage", "tag", "value"), "total", "currency"),
    "idle_sims": Chart(("SIM", "name"), "month cost", "currency"),
    "anomalies": Chart(("SIM", "date"), "x baseline", "x"),
}

_STYLE = """
body{font-family:system-ui,sans-serif;margin:24px;color:#0f172a;max-width:1100px}
h1{font-size:22px}h2{font-size:17px;margin-top:32px;border-bottom:1px solid #e2e8f0}
table{border-collapse:collapse;font-size:13px;margin-top:8px}
th,td{padding:3px 8px;white-space:nowrap;border-bottom:1px solid #e2e8f0;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}
th{cursor:pointer;background:#f1f5f9;user-select:none}th:after{content:" \\2195";color:#94a3b8}
.ok{color:#16a34a;font-weight:600}.bad{color:#dc2626;font-weight:600}.meta{color:#64748b}
.chart{display:block;margin-top:8px}
"""

_SORT = """
document.querySelectorAll("table.sortable th").forEach(function (th) {
  th.addEventListener("click", function () {
    var col = th.cellIndex, table = th.closest("table"), body = table.tBodies[0];
    var up = th.getAttribute("aria-sort") !== "ascending";
    table.querySelectorAll("th").forEach(function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", up ? "ascending" : "descending");
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.cells[col].dataset.v, y = b.cells[col].dataset.v;
      var nx = parseFloat(x), ny = parseFloat(y);
      var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
      return up ? c : -c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  });
});
"""


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float | Decimal) and not isinstance(value, bool) else 0.0


def _cell(value: Any) -> str:
    if value is None:
        return '<td data-v="">-</td>'
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        text = f"{value:,}" if isinstance(value, int) else f"{value:,.2f}"
        return f'<td class="n" data-v="{value}">{text}</td>'
    text = str(value)
    css = {"ok": ' class="ok"', "MISMATCH": ' class="bad"'}.get(text, "")
    return f'<td{css} data-v="{escape(text)}">{escape(text)}</td>'


def table_html(table: Table) -> str:
    if not table.rows:
        return f'<p class="meta">{escape(table.empty)}</p>'
    head = "".join(f"<th>{escape(h)}</th>" for h in table.headers)
    body = "".join("<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in table.rows)
    return (
        f'<table class="sortable" id="t-{table.key}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table>"
    )


def _column(table: Table, row: tuple[Any, ...], name: str) -> Any:
    return row[table.headers.index(name)]


def _reconciliation_chart(table: Table) -> str:
    bars = []
    for row in table.rows:
        coverage, status = _column(table, row, "coverage"), _column(table, row, "status")
        currency = str(_column(table, row, "currency") or "")
        for name in ("bill", "CSV total", "daily bills"):
            bars.append((f"{coverage} {name} ({status})", _number(_column(table, row, name)), currency))
    return bar_chart(table.title, bars, empty="no bill for this month")


def chart_html(table: Table) -> str:
    """The section's chart (an inline SVG), or "" for sections without one."""
    spec = CHARTS.get(table.key)
    if spec is None:
        return ""
    if table.key == "reconciliation":
        return _reconciliation_chart(table)
    if table.key == "daily_traffic":
        series: dict[str, list[tuple[str, float]]] = {}
        for row in table.rows:
            day, coverage = (str(_column(table, row, c)) for c in spec.label)
            series.setdefault(coverage, []).append((day, _number(_column(table, row, spec.value))))
        return line_chart(table.title, series, spec.unit, empty=table.empty)
    bars = [
        (
            " ".join(str(_column(table, row, c)) for c in spec.label if _column(table, row, c) is not None),
            _number(_column(table, row, spec.value)),
            str(_column(table, row, "currency") or "") if spec.unit == "currency" else spec.unit,
        )
        for row in table.rows
    ]
    return bar_chart(table.title, bars, empty=table.empty)


def to_html(report: Report) -> str:
    sections = "".join(
        f'<section id="{t.key}"><h2>{escape(t.title)}</h2>{chart_html(t)}{table_html(t)}</section>'
        for t in report.tables
    )
    title = f"Soracom usage and cost report - {report.month}"
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>"
        f'<h1>{escape(title)}</h1><p class="meta">catalog {escape(report.catalog)}; click a column '
        f"header to sort</p>{sections}<script>{_SORT}</script></body></html>\n"
    )
