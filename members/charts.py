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


def _fmt(value, decimals: int = 1) -> str:
    if isinstance(value, Decimal | float):
        return f"{value:,.{decimals}f}".rstrip("0").rstrip(".")
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


SUPPRESSED = "#6b7280"  # the placeholder's text: 4.8:1 on white (WCAG AA)


def _placeholder() -> str:
    # Imported here: charts are drawn inside a request, where the language is set.
    from django.utils.translation import gettext

    return gettext("样本不足，不显示")


def _svg_open(*, width: int, height: int, title: str, description: str) -> list[str]:
    return [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{_id(title)}-t {_id(title)}-d" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{_id(title)}-t">{escape(title)}</title>',
        f'<desc id="{_id(title)}-d">{escape(description or title)}</desc>',
    ]


def suppressible_bar_chart(
    *,
    items: list[tuple[str, object | None]],
    title: str,
    description: str = "",
    scale_max: float | None = None,
    suffix: str = "",
    placeholder: str | None = None,
    decimals: int = 1,
) -> SafeString:
    """Horizontal bars like ``bar_chart``, where a value of None is a group too small
    to show: it gets no bar, only 「样本不足，不显示」 (or ``placeholder``), so a
    reader sees that the group exists and why it has no figure.

    ``scale_max`` fixes the full width (5 for a 1–5 mean, 100 for percents), so
    charts of different questions are read on the same scale; ``suffix`` follows
    each number (「%」); ``decimals``: as many as the table beside the chart shows.
    """
    placeholder = placeholder or _placeholder()
    width = 600
    row_h = 46
    top = 8
    height = top + row_h * max(len(items), 1) + 8
    shown = [float(v) for _, v in items if v is not None]
    peak = float(scale_max) if scale_max else max([*shown, 1.0])
    plot_w = width - 110
    parts = _svg_open(width=width, height=height, title=title, description=description)
    for index, (label, value) in enumerate(items):
        y = top + row_h * index
        parts.append(f'<text x="0" y="{y + 14}" font-size="15" fill="{INK}">{escape(label)}</text>')
        if value is None:
            parts.append(
                f'<rect x="0" y="{y + 20}" width="{plot_w}" height="16" fill="none" '
                f'stroke="{GRID}" stroke-dasharray="4 3" />'
            )
            parts.append(
                f'<text x="8" y="{y + 33}" font-size="14" fill="{SUPPRESSED}">'
                f"{escape(placeholder)}</text>"
            )
            continue
        bar_w = plot_w * min(float(value), peak) / peak if peak else 0
        parts.append(f'<rect x="0" y="{y + 20}" width="{bar_w:.1f}" height="16" fill="{BAR}" />')
        parts.append(
            f'<text x="{bar_w + 6:.1f}" y="{y + 33}" font-size="14" fill="{INK}">'
            f"{escape(_fmt(value, decimals))}{escape(suffix)}</text>"
        )
    if not items:
        parts.append(
            f'<text x="{width / 2}" y="{height / 2 + 5}" text-anchor="middle" font-size="16" '
            f'fill="{INK}">—</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text node is escaped above


def grouped_bar_chart(
    *,
    groups: list[tuple[str, list | None]],
    series: list[str],
    title: str,
    description: str = "",
    scale_max: float | None = 100,
    suffix: str = "%",
    placeholder: str | None = None,
    decimals: int = 1,
) -> SafeString:
    """Horizontal bars in groups: each group (a unit, a school, a term) is a heading
    with one bar per series (the options of a choice question), each bar named
    and numbered in text, so nothing depends on telling colours apart. A group
    whose values are None is too small to show: one 「样本不足，不显示」 line."""
    placeholder = placeholder or _placeholder()
    width = 600
    head_h, bar_h, gap = 26, 30, 10
    plot_x = 150
    plot_w = width - plot_x - 70
    shown = [float(v) for _, values in groups if values is not None for v in values]
    peak = float(scale_max) if scale_max else max([*shown, 1.0])
    rows = []
    y = 8
    for label, values in groups:
        rows.append(
            f'<text x="0" y="{y + 18}" font-size="15" font-weight="bold" fill="{INK}">'
            f"{escape(label)}</text>"
        )
        y += head_h
        if values is None:
            rows.append(
                f'<rect x="{plot_x}" y="{y + 4}" width="{plot_w}" height="16" fill="none" '
                f'stroke="{GRID}" stroke-dasharray="4 3" />'
            )
            rows.append(
                f'<text x="{plot_x + 8}" y="{y + 17}" font-size="14" fill="{SUPPRESSED}">'
                f"{escape(placeholder)}</text>"
            )
            y += bar_h + gap
            continue
        for name, value in zip(series, values, strict=True):
            v = float(value or 0)
            w = plot_w * min(v, peak) / peak if peak else 0
            rows.append(
                f'<text x="12" y="{y + 17}" font-size="14" fill="{INK}">{escape(name)}</text>'
            )
            rows.append(
                f'<rect x="{plot_x}" y="{y + 4}" width="{w:.1f}" height="16" fill="{BAR}" />'
            )
            rows.append(
                f'<text x="{plot_x + w + 6:.1f}" y="{y + 17}" font-size="14" fill="{INK}">'
                f"{escape(_fmt(value or 0, decimals))}{escape(suffix)}</text>"
            )
            y += bar_h
        y += gap
    height = max(y + 4, 40)
    parts = _svg_open(width=width, height=height, title=title, description=description)
    parts.extend(rows)
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text node is escaped above
