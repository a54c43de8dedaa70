"""Plots as inline SVG text: a bar histogram and a scatter-with-line plot.

Written by hand so the install needs no plotting library and the pages need no script: each
function returns one ``<svg>`` element (no XML prolog, no namespace URL; HTML5 parsing puts it
in the SVG namespace), every text in it escaped.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

WIDTH, HEIGHT = 360, 200
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 44, 12, 26, 34
BAR = "#6a5acd"
LINE = "#2a7ab0"
AXIS = "#444444"


def _nice_max(value: float) -> float:
    """A round axis maximum at or above ``value`` (1, 2, 5 times a power of ten)."""
    if value <= 0:
        return 1.0
    power = 10 ** len(str(int(value))) / 10 if value >= 1 else 1.0
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return float(step * power)
    return float(10 * power)


def _frame(title: str, body: list[str], label: str) -> str:
    esc = html.escape
    return (
        f'<svg class="plot" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        f'role="img" aria-label="{esc(label)}">'
        f"<title>{esc(label)}</title>"
        f'<text x="{WIDTH / 2}" y="16" text-anchor="middle" font-size="13" '
        f'font-family="sans-serif">{esc(title)}</text>' + "".join(body) + "</svg>"
    )


def _axes(y_max: float, y_label: str, x_label: str) -> list[str]:
    esc = html.escape
    x0, y0 = MARGIN_LEFT, HEIGHT - MARGIN_BOTTOM
    x1, y1 = WIDTH - MARGIN_RIGHT, MARGIN_TOP
    parts = [
        f'<line x1="{x0}" y1="{y0}" x2="{x1}" y2="{y0}" stroke="{AXIS}"/>',
        f'<line x1="{x0}" y1="{y0}" x2="{x0}" y2="{y1}" stroke="{AXIS}"/>',
    ]
    for fraction in (0.0, 0.5, 1.0):
        y = y0 - fraction * (y0 - y1)
        parts.append(
            f'<text x="{x0 - 4}" y="{y + 4:.1f}" text-anchor="end" font-size="10" '
            f'font-family="sans-serif">{esc(f"{fraction * y_max:g}")}</text>'
        )
    parts.append(
        f'<text x="{(x0 + x1) / 2}" y="{HEIGHT - 4}" text-anchor="middle" font-size="10" '
        f'font-family="sans-serif">{esc(x_label)}</text>'
    )
    parts.append(
        f'<text x="10" y="{(y0 + y1) / 2}" text-anchor="middle" font-size="10" '
        f'font-family="sans-serif" transform="rotate(-90 10 {(y0 + y1) / 2})">'
        f"{esc(y_label)}</text>"
    )
    return parts


def histogram_svg(title: str, counts: Sequence[int], labels: Sequence[str]) -> str:
    """Bars of ``counts`` (one per label), each bar titled with its label and count."""
    esc = html.escape
    y_max = _nice_max(max(counts, default=0))
    x0, y0 = MARGIN_LEFT, HEIGHT - MARGIN_BOTTOM
    plot_w, plot_h = WIDTH - MARGIN_LEFT - MARGIN_RIGHT, HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    slot = plot_w / max(1, len(counts))
    body = _axes(y_max, "reviews", "score")
    for i, (count, label) in enumerate(zip(counts, labels, strict=True)):
        h = plot_h * count / y_max
        x = x0 + i * slot
        body.append(
            f'<rect x="{x + 1:.1f}" y="{y0 - h:.1f}" width="{slot - 2:.1f}" height="{h:.1f}" '
            f'fill="{BAR}"><title>{esc(label)}: {count}</title></rect>'
        )
        body.append(
            f'<text x="{x + slot / 2:.1f}" y="{y0 + 12}" text-anchor="middle" font-size="9" '
            f'font-family="sans-serif">{esc(label)}</text>'
        )
    return _frame(title, body, f"{title}: histogram")


def line_svg(title: str, points: Sequence[tuple[float, float]], x_label: str, y_label: str) -> str:
    """``points`` (x, y) as dots joined by a line; a note in place of a plot when empty."""
    esc = html.escape
    if not points:
        body = [
            f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle" font-size="12" '
            'font-family="sans-serif" fill="#777">no data yet</text>'
        ]
        return _frame(title, body, f"{title}: no data yet")
    xs = [p[0] for p in points]
    x_min, x_max = min(xs), max(xs)
    x_span = (x_max - x_min) or 1.0
    y_max = _nice_max(max(p[1] for p in points))
    x0, y0 = MARGIN_LEFT, HEIGHT - MARGIN_BOTTOM
    plot_w, plot_h = WIDTH - MARGIN_LEFT - MARGIN_RIGHT, HEIGHT - MARGIN_TOP - MARGIN_BOTTOM

    def at(x: float, y: float) -> tuple[float, float]:
        return x0 + plot_w * (x - x_min) / x_span, y0 - plot_h * y / y_max

    body = _axes(y_max, y_label, f"{x_label} ({x_min:g} to {x_max:g})")
    coords = [at(x, y) for x, y in points]
    body.append(
        f'<polyline fill="none" stroke="{LINE}" stroke-width="1.2" points="'
        + " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        + '"/>'
    )
    for (x, y), (px, py) in zip(coords, points, strict=True):
        body.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.2" fill="{LINE}">'
            f"<title>{esc(f'{px:g}: {py:.1f}')}</title></circle>"
        )
    return _frame(title, body, f"{title}: {len(points)} points")
