"""A grouped bar chart drawn on the server as SVG (no JavaScript).

Accessible by construction: ``role="img"`` with ``<title>`` and ``<desc>``
(``aria-labelledby`` both), the series told apart by pattern as well as colour
(solid and hatched) with a legend in words, each bar's number written above it,
and every piece of text escaped. The page shows the same numbers in a table, so
the chart is never the only way to read them (WCAG 1.1.1, 1.4.1).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 640
HEIGHT = 260
LEFT, RIGHT, TOP, BOTTOM = 48, 8, 32, 40  # room for the axis, legend and day labels
TICKS = 4


@dataclass(frozen=True)
class Series:
    name: str  # shown in the legend (already translated)
    values: Sequence[int]
    hatched: bool = False  # the second series: diagonal lines, not a colour alone


def nice_top(largest: int, ticks: int = TICKS) -> tuple[int, int]:
    """The axis's top and step: ``ticks`` steps of 1, 2 or 5 times a power of ten
    covering ``largest`` (an empty chart still gets an axis of 0 to ``ticks``)."""
    if largest <= 0:
        return ticks, 1
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor * ticks >= largest:
                return step * factor * ticks, step * factor
        step *= 10


def bar_heights(values: Sequence[int], top: int, plot_height: float) -> list[float]:
    """Each value's bar height in a plot ``plot_height`` high whose axis ends at ``top``."""
    return [round(plot_height * v / top, 2) if top else 0.0 for v in values]


def bar_chart(
    chart_id: str,
    *,
    title: str,
    description: str,
    labels: Sequence[str],
    series: Sequence[Series],
    number: Callable[[int], str] = str,
) -> Markup:
    """``labels``: one per group (the days); ``number`` writes a tick or a
    value in the page's language."""
    fmt = number
    largest = max((v for s in series for v in s.values), default=0)
    top, step = nice_top(largest)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    group_w = plot_w / max(len(labels), 1)
    bar_w = group_w * 0.8 / max(len(series), 1)
    cid = escape(chart_id)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" id="{cid}" class="chart" role="img"'
        f' viewBox="0 0 {WIDTH} {HEIGHT}" width="100%"'
        f' aria-labelledby="{cid}-title {cid}-desc">',
        f'<title id="{cid}-title">{escape(title)}</title>',
        f'<desc id="{cid}-desc">{escape(description)}</desc>',
        "<defs>",
        f'<pattern id="{cid}-hatch" width="6" height="6" patternUnits="userSpaceOnUse"'
        ' patternTransform="rotate(45)">'
        '<rect width="6" height="6" fill="#ffffff"/>'
        '<line x1="0" y1="0" x2="0" y2="6" stroke="#b3261e" stroke-width="3"/></pattern>',
        "</defs>",
    ]
    fills = [f"url(#{cid}-hatch)" if s.hatched else "#1d4f91" for s in series]
    for n in range(TICKS + 1):
        value = step * n
        y = TOP + plot_h - plot_h * value / top
        out.append(
            f'<line x1="{LEFT}" y1="{y:.2f}" x2="{WIDTH - RIGHT}" y2="{y:.2f}"'
            ' stroke="#b1b4b6" stroke-width="1"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.2f}" text-anchor="end" font-size="12">'
            f"{escape(fmt(value))}</text>"
        )
    for g, label in enumerate(labels):
        x0 = LEFT + g * group_w + group_w * 0.1
        for k, (s, fill) in enumerate(zip(series, fills, strict=True)):
            value = s.values[g] if g < len(s.values) else 0
            (h,) = bar_heights([value], top, plot_h)
            x, y = x0 + k * bar_w, TOP + plot_h - h
            out.append(
                f'<rect class="bar" data-series="{k}" x="{x:.2f}" y="{y:.2f}"'
                f' width="{bar_w:.2f}" height="{h:.2f}" fill="{fill}"'
                ' stroke="#0b0c0c" stroke-width="1"/>'
                f'<text x="{x + bar_w / 2:.2f}" y="{y - 3:.2f}" text-anchor="middle"'
                f' font-size="11">{escape(fmt(value))}</text>'
            )
        out.append(
            f'<text x="{LEFT + g * group_w + group_w / 2:.2f}" y="{HEIGHT - BOTTOM + 18}"'
            f' text-anchor="middle" font-size="12">{escape(label)}</text>'
        )
    x = LEFT
    for s, fill in zip(series, fills, strict=True):
        out.append(
            f'<rect x="{x}" y="8" width="14" height="14" fill="{fill}"'
            ' stroke="#0b0c0c" stroke-width="1"/>'
            f'<text x="{x + 20}" y="20" font-size="12">{escape(s.name)}</text>'
        )
        x += 40 + 8 * len(s.name)
    out.append("</svg>")
    return Markup("".join(out))  # noqa: S704 (every piece of text above is escaped)
