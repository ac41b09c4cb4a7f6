"""Server-rendered SVG charts: no JavaScript, no chart library, no CDN.

Each chart is an ``<svg role="img">`` with a title and a description, scales to
the width of a phone (viewBox) and prints. The pages also show the same numbers
in a table, for screen readers and for copying.

In ``members`` (beside spreadsheets.py) because every app above draws them: the
dashboards (reports) and the questionnaires' results (surveys).
"""

from __future__ import annotations

from decimal import Decimal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

BAR = "#0b5d3b"
INK = "#1f2328"
GRID = "#c9d3cd"


def _fmt(value) -> str:
    if isinstance(value, Decimal | float):
        return f"{value:,.1f}".rstrip("0").rstrip(".")
    return f"{value:,}"


def column_chart(
    *, labels: list[str], values: list, title: str, description: str = ""
) -> SafeString:
    """Vertical bars, one per label (months)."""
    width, height = 600, 260
    left, right, top, bottom = 10, 10, 24, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max([float(v or 0) for v in values] + [1.0])
    count = max(len(values), 1)
    slot = plot_w / count
    bar_w = min(slot * 0.6, 60)
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{_id(title)}-t {_id(title)}-d" preserveAspectRatio="xMidYMid meet" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{_id(title)}-t">{escape(title)}</title>',
        f'<desc id="{_id(title)}-d">{escape(description or title)}</desc>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" '
        f'stroke="{GRID}" />',
    ]
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        v = float(value or 0)
        bar_h = plot_h * v / peak
        x = left + slot * index + (slot - bar_w) / 2
        y = top + plot_h - bar_h
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{bar_h:.1f}" fill="{BAR}" />'
        )
        parts.append(
            f'<text x="{x + bar_w / 2:.1f}" y="{y - 6:.1f}" text-anchor="middle" '
            f'font-size="14" fill="{INK}">{escape(_fmt(value or 0))}</text>'
        )
        parts.append(
            f'<text x="{x + bar_w / 2:.1f}" y="{height - 14}" text-anchor="middle" '
            f'font-size="14" fill="{INK}">{escape(label)}</text>'
        )
    if not values:
        parts.append(
            f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" font-size="16" '
            f'fill="{INK}">—</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text node is escaped above


def bar_chart(*, items: list[tuple[str, object]], title: str, description: str = "") -> SafeString:
    """Horizontal bars with the label above each bar: readable at 375px wide."""
    width = 600
    row_h = 46
    top = 8
    height = top + row_h * max(len(items), 1) + 8
    peak = max([float(v or 0) for _, v in items] + [1.0])
    plot_w = width - 90
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{_id(title)}-t {_id(title)}-d" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{_id(title)}-t">{escape(title)}</title>',
        f'<desc id="{_id(title)}-d">{escape(description or title)}</desc>',
    ]
    for index, (label, value) in enumerate(items):
        y = top + row_h * index
        bar_w = plot_w * float(value or 0) / peak
        parts.append(f'<text x="0" y="{y + 14}" font-size="15" fill="{INK}">{escape(label)}</text>')
        parts.append(f'<rect x="0" y="{y + 20}" width="{bar_w:.1f}" height="16" fill="{BAR}" />')
        parts.append(
            f'<text x="{bar_w + 6:.1f}" y="{y + 33}" font-size="14" fill="{INK}">'
            f"{escape(_fmt(value or 0))}</text>"
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text node is escaped above


def _id(title: str) -> str:
    return "c" + str(abs(hash(title)) % 10_000_000)
