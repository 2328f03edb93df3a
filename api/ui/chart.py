"""The relief chart: a pure function from a verdict's figures to SVG markup (no I/O).

The diary page, the outcome letter (HTML and PDF) and the tests call the same function, so the chart a
payer sees is the one staff saw. Time runs on a square-root scale: a diary's early points (15, 30, 45 min)
and its 24 h point both stay readable. Colour is never the only cue: each target also has its own marker
and dash pattern, and the legend names it.
"""

import hashlib
from dataclasses import dataclass
from math import sqrt

from markupsafe import Markup, escape

WIDTH, HEIGHT = 640, 320
LEFT, RIGHT, TOP, BOTTOM = 56, 20, 20, 80  # plot margins; the legend sits under the x axis
TICKS = (0, 15, 30, 60, 120, 240, 480, 720, 1440)
STYLES = (  # colour, dash pattern, marker
    ("#1f5fa8", "", "circle"),
    ("#b3471d", "6 3", "square"),
    ("#2e7d32", "2 3", "diamond"),
    ("#6a3d9a", "8 3 2 3", "triangle"),
)


@dataclass(frozen=True)
class Series:
    """One target's relief over time."""

    label: str  # "L4-L5 left"
    baseline: int | None
    points: tuple[tuple[int, float], ...]  # (minutes after the block, relief %), in time order
    verdict: str


@dataclass(frozen=True)
class ChartFigures:
    title: str
    threshold_pct: int
    required_minutes: int
    scale_max: int  # 10 for NRS, 100 for VAS: the baseline is noted as "8/10"
    series: tuple[Series, ...]


def _span(figures: ChartFigures) -> int:
    last = max((m for s in figures.series for m, _ in s.points), default=0)
    return max(60, round(figures.required_minutes * 1.25), last)


def _x(minutes: float, span: int) -> float:
    return LEFT + sqrt(max(minutes, 0) / span) * (WIDTH - LEFT - RIGHT)


def _y_floor(figures: ChartFigures) -> int:
    lowest = min((r for s in figures.series for _, r in s.points), default=0.0)
    return -100 if lowest < -50 else (-50 if lowest < 0 else 0)


def _y(relief: float, floor: int) -> float:
    relief = min(100.0, max(float(floor), relief))
    return TOP + (100 - relief) / (100 - floor) * (HEIGHT - TOP - BOTTOM)


def _tick_label(minutes: int) -> str:
    return f"{minutes // 60} h" if minutes >= 60 else f"{minutes} min"


def _axes(figures: ChartFigures, span: int, floor: int) -> list[str]:
    parts, bottom = [], HEIGHT - BOTTOM
    for pct in range(floor, 101, 25 if floor >= -50 else 50):
        y = _y(pct, floor)
        parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" class="grid"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{pct}%</text>')
    # On a long diary 15 and 30 min sit close together: label every other early tick.
    shown = [t for t in TICKS if t <= span and not (span > 480 and t == 30)]
    for minutes in shown:
        x = _x(minutes, span)
        parts.append(f'<line x1="{x:.1f}" y1="{bottom}" x2="{x:.1f}" y2="{bottom + 4}" class="axis"/>')
        parts.append(
            f'<text x="{x:.1f}" y="{bottom + 16}" text-anchor="middle">{_tick_label(minutes)}</text>'
        )
    parts.append(f'<line x1="{LEFT}" y1="{bottom}" x2="{WIDTH - RIGHT}" y2="{bottom}" class="axis"/>')
    parts.append(f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{bottom}" class="axis"/>')
    parts.append(
        f'<text x="{(LEFT + WIDTH - RIGHT) / 2:.0f}" y="{bottom + 32}" text-anchor="middle">'
        "time after the block</text>"
    )
    return parts


def _rules(figures: ChartFigures, span: int, floor: int) -> list[str]:
    """The policy threshold (horizontal) and the required duration (vertical)."""
    y, x = _y(figures.threshold_pct, floor), _x(figures.required_minutes, span)
    return [
        f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" class="threshold"/>',
        f'<text x="{WIDTH - RIGHT - 4}" y="{y - 5:.1f}" text-anchor="end" class="rule-label">'
        f"threshold {figures.threshold_pct}%</text>",
        f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{HEIGHT - BOTTOM}" class="required"/>',
        f'<text x="{x + 4:.1f}" y="{TOP + 12}" class="rule-label">'
        f"required {figures.required_minutes} min</text>",
    ]


def _marker(kind: str, x: float, y: float, colour: str) -> str:
    if kind == "square":
        return f'<rect x="{x - 3.5:.1f}" y="{y - 3.5:.1f}" width="7" height="7" fill="{colour}"/>'
    if kind == "diamond":
        return f'<path d="M{x:.1f} {y - 5:.1f}l5 5l-5 5l-5 -5z" fill="{colour}"/>'
    if kind == "triangle":
        return f'<path d="M{x:.1f} {y - 5:.1f}l5 9h-10z" fill="{colour}"/>'
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{colour}"/>'


def _series(index: int, series: Series, span: int, floor: int) -> list[str]:
    colour, dash, marker = STYLES[index % len(STYLES)]
    xy = [(_x(m, span), _y(r, floor)) for m, r in series.points]
    parts = []
    if len(xy) > 1:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
        dashes = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"{dashes}/>')
    parts += [_marker(marker, x, y, colour) for x, y in xy]
    return parts


def _legend(figures: ChartFigures) -> list[str]:
    parts, y = [], HEIGHT - 22
    for i, series in enumerate(figures.series):
        colour, dash, marker = STYLES[i % len(STYLES)]
        x = LEFT + i * 290
        baseline = (
            "no baseline" if series.baseline is None else f"baseline {series.baseline}/{figures.scale_max}"
        )
        dashes = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(
            f'<line x1="{x}" y1="{y}" x2="{x + 24}" y2="{y}" stroke="{colour}" stroke-width="2"{dashes}/>'
        )
        parts.append(_marker(marker, x + 12, y, colour))
        parts.append(
            f'<text x="{x + 30}" y="{y + 4}">'
            f"{escape(series.label)}: {baseline}, {escape(series.verdict)}</text>"
        )
    return parts


def describe(figures: ChartFigures) -> str:
    """The chart in one paragraph, for its <desc> (screen readers) and anyone without the picture."""
    lines = [
        f"Relief against the {figures.threshold_pct}% threshold; {figures.required_minutes} min required."
    ]
    for series in figures.series:
        points = ", ".join(f"{m} min {r:.1f}%" for m, r in series.points) or "no post readings"
        baseline = (
            "no baseline" if series.baseline is None else f"baseline {series.baseline}/{figures.scale_max}"
        )
        lines.append(f"{series.label} ({baseline}, {series.verdict}): {points}.")
    return " ".join(lines)


def relief_chart(figures: ChartFigures) -> Markup:
    """The SVG of a block's relief per target over time, with the threshold and required duration."""
    span, floor = _span(figures), _y_floor(figures)
    body = _axes(figures, span, floor) + _rules(figures, span, floor)
    for i, series in enumerate(figures.series):
        body += _series(i, series, span, floor)
    body += _legend(figures)
    ident = "chart-" + hashlib.sha256(figures.title.encode()).hexdigest()[:10]  # unique per block
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="relief-chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-labelledby="{ident}-t {ident}-d">'
        f'<title id="{ident}-t">{escape(figures.title)}</title>'
        f'<desc id="{ident}-d">{escape(describe(figures))}</desc>'
        "<style>text{font:11px sans-serif;fill:#222}.grid{stroke:#ddd}.axis{stroke:#444}"
        ".threshold{stroke:#555;stroke-dasharray:5 4}.required{stroke:#555;stroke-dasharray:2 3}"
        ".rule-label{font-size:10px;fill:#333}</style>" + "".join(body) + "</svg>"
    )
