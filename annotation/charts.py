"""Charts drawn on the server as SVG: a line chart (optionally filled as an area) and a bar chart (stacked), over
a row of categories such as days, with a title, axes with ticks and their unit, a legend when more than one series
is drawn, a text alternative, and the same numbers as a table for whoever cannot read the picture.

The strict CSP allows no script and no style attribute, so geometry is written as SVG presentation attributes and
colours come from the classes `chart-series-<n>` in static/css/app.css. Every label is escaped."""

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH = 640
HEIGHT = 300
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 56, 52
# More labels than this under the x axis would overlap at the chart's width; the others are left out (not their
# ticks), and the table below the chart has every one.
MAX_X_LABELS = 8
SERIES_CLASSES = 6  # chart-series-0 … chart-series-5 in app.css; further series reuse them in turn


@dataclass(frozen=True)
class Series:
    """One named row of values, one per category; None where there is no value (a gap in a line)."""

    name: str
    values: Sequence[float | None]


@dataclass(frozen=True)
class Chart:
    """A drawn chart and the table of its data (one row per category: the category, then each series)."""

    svg: SafeString
    title: str
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)


def nice_ticks(top: float, *, whole: bool = False, count: int = 5) -> list[float]:
    """Tick values from 0 to the first round number at or above `top`: steps of 1, 2, 2.5 or 5 times a power of
    ten, about `count` of them; whole steps only where the values are counts."""
    if top <= 0 or not math.isfinite(top):
        return [0.0, 1.0]
    raw = top / count
    magnitude = 10 ** math.floor(math.log10(raw))
    steps = (1, 2, 5, 10) if whole else (1, 2, 2.5, 5, 10)
    step = next(s * magnitude for s in steps if s * magnitude >= raw)
    if whole:
        step = max(1.0, float(round(step)))
    n = math.ceil(top / step - 1e-9)
    return [round(i * step, 10) for i in range(n + 1)]


def number_label(value: float | None, *, digits: int = 2) -> str:
    """A value as the axis and the table write it: whole numbers without decimals, others to `digits`."""
    if value is None:
        return "\N{EN DASH}"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.{digits}f}"


@dataclass(frozen=True)
class Frame:
    """What every chart states about itself: its id in the page (for its title and description), its title, a
    sentence saying what it shows, the categories along x (days, say) and the units of both axes."""

    chart_id: str
    title: str
    description: str
    categories: Sequence[str]
    x_unit: str
    y_unit: str


def line_chart(
    frame: Frame,
    series: Sequence[Series],
    *,
    y_top: float | None = None,
    whole: bool = True,
    area: bool = False,
) -> Chart:
    """Each series as a line through its values (a point per category), over y from 0 to `y_top` (or the largest
    value rounded up); `area` fills under a single series."""
    scale = _Scale(frame, series, y_top, whole)
    parts = scale.axes()
    for index, one in enumerate(series):
        css = f"chart-series-{index % SERIES_CLASSES}"
        for run in _runs(one.values):
            points = " ".join(f"{scale.x(i):.1f},{scale.y(v):.1f}" for i, v in run)
            if area:
                first, last = run[0][0], run[-1][0]
                base = f"{scale.x(last):.1f},{scale.y(0):.1f} {scale.x(first):.1f},{scale.y(0):.1f}"
                parts.append(f'<polygon class="chart-area {css}" points="{points} {base}"></polygon>')
            parts.append(f'<polyline class="chart-line {css}" points="{points}"></polyline>')
        for i, value in enumerate(one.values):
            if value is not None:
                label = escape(f"{one.name}, {frame.categories[i]}: {number_label(value)} {frame.y_unit}")
                parts.append(
                    f'<circle class="chart-point {css}" cx="{scale.x(i):.1f}" cy="{scale.y(value):.1f}" r="2.5">'
                    f"<title>{label}</title></circle>"
                )
    return _chart(frame, series, parts)


def bar_chart(frame: Frame, series: Sequence[Series], *, whole: bool = True) -> Chart:
    """A bar per category, the series stacked in their order from the axis up."""
    totals = [sum(s.values[i] or 0 for s in series) for i in range(len(frame.categories))]
    scale = _Scale(frame, [Series("total", totals)], None, whole)
    parts = scale.axes()
    width = max(scale.band() * 0.7, 1.0)
    for i, category in enumerate(frame.categories):
        stacked = 0.0
        for index, one in enumerate(series):
            value = one.values[i] or 0
            if value <= 0:
                continue
            top, bottom = scale.y(stacked + value), scale.y(stacked)
            label = escape(f"{one.name}, {category}: {number_label(value)} {frame.y_unit}")
            parts.append(
                f'<rect class="chart-bar chart-series-{index % SERIES_CLASSES}" x="{scale.x(i) - width / 2:.1f}" '
                f'y="{top:.1f}" width="{width:.1f}" height="{bottom - top:.1f}"><title>{label}</title></rect>'
            )
            stacked += value
    return _chart(frame, series, parts)


def _runs(values: Sequence[float | None]) -> list[list[tuple[int, float]]]:
    """The unbroken stretches of a series: a missing value ends a line rather than drawing it down to zero."""
    runs: list[list[tuple[int, float]]] = []
    current: list[tuple[int, float]] = []
    for i, value in enumerate(values):
        if value is None:
            if current:
                runs.append(current)
            current = []
        else:
            current.append((i, value))
    if current:
        runs.append(current)
    return runs


class _Scale:
    """The plotting area and its scales: categories spread evenly along x, values from 0 up along y."""

    def __init__(self, frame: Frame, series: Sequence[Series], y_top: float | None, whole: bool):
        self.frame = frame
        self.categories = frame.categories
        largest = max((v for s in series for v in s.values if v is not None), default=0.0)
        self.ticks = nice_ticks(max(largest, y_top or 0.0), whole=whole)
        self.top = self.ticks[-1]
        self.plot_width = WIDTH - LEFT - RIGHT
        self.plot_height = HEIGHT - TOP - BOTTOM

    def band(self) -> float:
        return self.plot_width / max(len(self.categories), 1)

    def x(self, index: int) -> float:
        return LEFT + self.band() * (index + 0.5)

    def y(self, value: float) -> float:
        return TOP + self.plot_height * (1 - value / self.top)

    def axes(self) -> list[str]:
        bottom, right = HEIGHT - BOTTOM, WIDTH - RIGHT
        parts = ['<g class="chart-axis chart-axis-y">']
        # One number of decimals for every tick (0, 0.2 … 1.0 rather than 0, 0.20 … 1): the fewest that write them all.
        decimals = next(d for d in range(4) if all(abs(round(t, d) - t) < 1e-9 for t in self.ticks) or d == 3)
        for tick in self.ticks:
            y = self.y(tick)
            parts.append(f'<line class="chart-gridline" x1="{LEFT}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}"></line>')
            parts.append(
                f'<text class="chart-tick" x="{LEFT - 6}" y="{y:.1f}" text-anchor="end" dominant-baseline="middle">'
                f"{tick:,.{decimals}f}</text>"
            )
        middle = TOP + self.plot_height / 2
        parts.append(
            f'<text class="chart-unit" x="14" y="{middle:.1f}" text-anchor="middle" '
            f'transform="rotate(-90 14 {middle:.1f})">{escape(self.frame.y_unit)}</text>'
        )
        parts.append(f'<line class="chart-axis-line" x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{bottom}"></line>')
        parts.append("</g>")
        parts.append('<g class="chart-axis chart-axis-x">')
        parts.append(f'<line class="chart-axis-line" x1="{LEFT}" x2="{right}" y1="{bottom}" y2="{bottom}"></line>')
        every = max(1, math.ceil(len(self.categories) / MAX_X_LABELS))
        for i, category in enumerate(self.categories):
            x = self.x(i)
            parts.append(
                f'<line class="chart-tick-mark" x1="{x:.1f}" x2="{x:.1f}" y1="{bottom}" y2="{bottom + 4}"></line>'
            )
            if i % every == 0:
                parts.append(
                    f'<text class="chart-tick" x="{x:.1f}" y="{bottom + 16}" text-anchor="middle">'
                    f"{escape(category)}</text>"
                )
        parts.append(
            f'<text class="chart-unit" x="{LEFT + self.plot_width / 2:.1f}" y="{HEIGHT - 8}" '
            f'text-anchor="middle">{escape(self.frame.x_unit)}</text>'
        )
        parts.append("</g>")
        return parts


def _legend(series: Sequence[Series]) -> list[str]:
    """Swatches and names in a row under the title; one series needs none, its name is the title's."""
    if len(series) < 2:
        return []
    parts = ['<g class="chart-legend">']
    x = LEFT
    for index, one in enumerate(series):
        css = f"chart-series-{index % SERIES_CLASSES}"
        parts.append(f'<rect class="chart-swatch {css}" x="{x}" y="32" width="12" height="12"></rect>')
        parts.append(f'<text class="chart-legend-label" x="{x + 17}" y="42">{escape(one.name)}</text>')
        # An estimate of the label's width (no font metrics on the server): wide enough for the labels used here.
        x += 17 + 7 * len(one.name) + 18
    parts.append("</g>")
    return parts


def _chart(frame: Frame, series: Sequence[Series], body: list[str]) -> Chart:
    chart_id = escape(frame.chart_id)
    head = (
        f'<svg class="chart" id="{chart_id}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{chart_id}-title" aria-describedby="{chart_id}-desc" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{chart_id}-title">{escape(frame.title)}</title>'
        f'<desc id="{chart_id}-desc">{escape(frame.description)}</desc>'
        f'<text class="chart-title" x="{LEFT}" y="18">{escape(frame.title)}</text>'
    )
    svg = "".join([head, *_legend(series), *body, "</svg>"])
    rows = [[category, *(number_label(s.values[i]) for s in series)] for i, category in enumerate(frame.categories)]
    return Chart(
        svg=mark_safe(svg),  # noqa: S308 - every piece of text in it went through escape() above
        title=frame.title,
        columns=[frame.x_unit, *(s.name for s in series)],
        rows=rows,
    )
