"""Inline SVG charts for the HTML report, drawn in Python so the page needs no network nor script library.

Every chart is a complete `<svg>` with a `<title>`; a chart without data still draws its frame and
says so, so a reader (and the browser test) can tell "no data" from "did not render".
"""

from collections.abc import Sequence
from html import escape

PALETTE = ("#2563eb", "#ea580c", "#16a34a", "#9333ea", "#dc2626", "#0891b2")
_WIDTH = 720


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}".rstrip("0").rstrip(".")


def _empty(title: str, message: str) -> str:
    return (
        f'<svg class="chart" role="img" width="{_WIDTH}" height="60" viewBox="0 0 {_WIDTH} 60">'
        f"<title>{escape(title)}</title>"
        f'<rect x="0.5" y="0.5" width="{_WIDTH - 1}" height="59" fill="none" stroke="#cbd5e1"/>'
        f'<text x="{_WIDTH // 2}" y="35" text-anchor="middle" fill="#64748b">{escape(message)}</text></svg>'
    )


def bar_chart(title: str, bars: Sequence[tuple[str, float, str]], empty: str = "no data") -> str:
    """Horizontal bars, one per (label, value, unit) in the order given; negative values drawn as 0.
    Bars share a scale only with bars of the same unit, so JPY and USD amounts are never compared."""
    if not bars:
        return _empty(title, empty)
    row, label_w, value_w = 22, 280, 110
    height = row * len(bars) + 10
    peaks: dict[str, float] = {}
    for _, value, unit in bars:
        peaks[unit] = max(peaks.get(unit, 0.0), value)
    span = _WIDTH - label_w - value_w
    parts = [
        f'<svg class="chart" role="img" width="{_WIDTH}" height="{height}" viewBox="0 0 {_WIDTH} {height}">',
        f"<title>{escape(title)}</title>",
    ]
    for i, (label, value, unit) in enumerate(bars):
        y = 5 + i * row
        width = max(max(value, 0.0) / (peaks[unit] or 1.0) * span, 1.0)
        short = label if len(label) <= 40 else label[:39] + "…"
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" font-size="12">{escape(short)}</text>'
            f'<rect class="bar" x="{label_w}" y="{y + 3}" width="{width:.1f}" height="{row - 6}" '
            f'fill="{PALETTE[0]}"><title>{escape(label)}: {_number(value)} {escape(unit)}</title></rect>'
            f'<text x="{label_w + width + 6:.1f}" y="{y + 15}" font-size="12">'
            f"{_number(value)} {escape(unit)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def line_chart(
    title: str, series: dict[str, Sequence[tuple[str, float]]], unit: str, empty: str = "no data"
) -> str:
    """One line (and dots) per series over shared x labels (sorted), e.g. MB per day per coverage."""
    xs = sorted({x for points in series.values() for x, _ in points})
    if not xs:
        return _empty(title, empty)
    height, left, right, top, bottom = 260, 70, 20, 30, 50
    plot_w, plot_h = _WIDTH - left - right, height - top - bottom
    peak = max(max(v, 0.0) for points in series.values() for _, v in points) or 1.0
    step = plot_w / max(len(xs) - 1, 1)

    def at(x: str, value: float) -> tuple[float, float]:
        return left + xs.index(x) * step, top + plot_h - max(value, 0.0) / peak * plot_h

    parts = [
        f'<svg class="chart" role="img" width="{_WIDTH}" height="{height}" viewBox="0 0 {_WIDTH} {height}">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#94a3b8"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#94a3b8"/>',
        f'<text x="{left - 6}" y="{top + 4}" text-anchor="end" font-size="11">{_number(peak)}</text>',
        f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end" font-size="11">0</text>',
        f'<text x="{left}" y="{top - 12}" font-size="11">{escape(unit)}</text>',
    ]
    every = max(len(xs) // 8, 1)
    for i, x in enumerate(xs):
        if i % every == 0 or i == len(xs) - 1:
            px = left + i * step
            parts.append(
                f'<text x="{px:.1f}" y="{top + plot_h + 16}" text-anchor="middle" font-size="10">'
                f"{escape(x)}</text>"
            )
    for n, (name, points) in enumerate(sorted(series.items())):
        colour = PALETTE[n % len(PALETTE)]
        coords = [at(x, v) for x, v in sorted(points)]
        path = " ".join(f"{'M' if i == 0 else 'L'}{px:.1f},{py:.1f}" for i, (px, py) in enumerate(coords))
        parts.append(f'<path class="series" d="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for (x, v), (px, py) in zip(sorted(points), coords, strict=True):
            parts.append(
                f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{colour}">'
                f"<title>{escape(name)} {escape(x)}: {_number(v)} {escape(unit)}</title></circle>"
            )
        parts.append(
            f'<rect x="{left + 10 + n * 90}" y="{height - 18}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{left + 24 + n * 90}" y="{height - 9}" font-size="11">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
