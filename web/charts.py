"""Line charts as inline SVG, drawn on the server: no script and no third-party code, readable
without JavaScript, and a few hundred bytes per series. Colours come from the stylesheet (classes
``s0``..``s5``), so a chart follows the light or dark scheme."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from markupsafe import Markup, escape

WIDTH, HEIGHT = 640, 180
# The plot stretches to the page's width; the text must not. So the outer <svg> has no viewBox
# (its units are CSS pixels: the text keeps its shape on a 360 px phone and a wide screen alike),
# and only the plot inside it, a nested <svg> as wide as the chart, scales its viewBox without
# keeping the aspect ratio (lines keep their width: vector-effect in web.css). The value labels
# sit inside the plot, above their grid lines, so no margin of a fixed width is needed.
PAD_TOP, PAD_BOTTOM = 14, 22
POINTS_MAX = 240  # per series: more points than pixels across only add bytes
SERIES_MAX = 6  # colours the stylesheet has (s0..s5): a chart of more lines is unreadable anyway
BAR_SHARE = 78.0  # % of the width the longest bar takes, leaving room for its value after it


def _thin(points: Sequence[tuple[datetime, float]]) -> list[tuple[datetime, float]]:
    if len(points) <= POINTS_MAX:
        return list(points)
    step = len(points) / POINTS_MAX
    kept = [points[int(i * step)] for i in range(POINTS_MAX)]
    return [*kept[:-1], points[-1]]  # the latest value is always drawn


def line_chart(title: str, series: Sequence[tuple[str, Sequence[tuple[datetime, float | None]]]],
               low: float | None = None, high: float | None = None) -> Markup:
    """One chart of (name, [(time, value)]) series on a shared time axis; ``low``/``high`` fix the
    value axis (trust: 0 to 1), else it fits the data."""
    drawn = [(name, _thin([(t, float(v)) for t, v in pts if v is not None])) for name, pts in series]
    values = [v for _, pts in drawn for _, v in pts]
    times = [t for _, pts in drawn for t, _ in pts]
    label = escape(title)
    if not values:
        return Markup(f'<p class="muted">{label}: no points recorded yet.</p>')
    lo = min(values) if low is None else low
    hi = max(values) if high is None else high
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    t0, t1 = min(times), max(times)
    if t0 == t1:
        return _bars(title, drawn, lo if low is not None else min(0.0, lo), hi)
    span = max((t1 - t0).total_seconds(), 1.0)
    inner_h = HEIGHT - PAD_TOP - PAD_BOTTOM

    def x(t: datetime) -> float:
        return WIDTH * (t - t0).total_seconds() / span

    def y(v: float) -> float:
        return inner_h * (1 - (v - lo) / (hi - lo))

    ticks = (lo, (lo + hi) / 2, hi)
    plot = [f'<svg class="plot" x="0" y="{PAD_TOP}" width="100%" height="{inner_h}" viewBox="0 0 {WIDTH} {inner_h}" '
            f'preserveAspectRatio="none">']
    for v in ticks:
        plot.append(f'<line class="{"axis" if v == lo else "grid"}" x1="0" y1="{y(v):.1f}" x2="{WIDTH}" y2="{y(v):.1f}"/>')
    for i, (_, pts) in enumerate(drawn):
        if not pts:
            continue
        if len(pts) == 1:  # a short dash: a circle would be stretched into an ellipse
            px, py = x(pts[0][0]), y(pts[0][1])
            plot.append(f'<polyline class="s{i % SERIES_MAX}" points="{max(0.0, px - 4):.1f},{py:.1f} '
                        f'{min(WIDTH, px + 4):.1f},{py:.1f}"/>')
            continue
        path = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in pts)
        plot.append(f'<polyline class="s{i % SERIES_MAX}" points="{path}"/>')
    plot.append("</svg>")
    parts = [f'<svg class="chart" role="img" aria-label="{label}"><title>{label}</title>', *plot]
    for v in ticks:
        # just above its line (the top one just below the chart's edge)
        parts.append(f'<text class="tick" x="4" y="{PAD_TOP + y(v) - 3:.1f}">{v:.2f}</text>')
    parts.append(f'<text class="tick" x="4" y="{HEIGHT - 6}">{t0:%m-%d %H:%M}</text>')
    parts.append(f'<text class="tick" x="100%" dx="-4" y="{HEIGHT - 6}" text-anchor="end">{t1:%m-%d %H:%M} UTC</text>')
    parts.append("</svg>")
    legend = "".join(f'<li><span class="key s{i % SERIES_MAX}"></span>{escape(name)}</li>' for i, (name, _) in enumerate(drawn))
    return Markup(f'<figure class="chart-box">{"".join(parts)}<figcaption>{label}<ul class="legend">{legend}'
                  f'</ul></figcaption></figure>')


def _bars(title: str, drawn: Sequence[tuple[str, list[tuple[datetime, float]]]], lo: float, hi: float) -> Markup:
    """Values of one moment (no history kept yet): one bar per series, with its value."""
    label = escape(title)
    rows = [(name, pts[-1][1]) for name, pts in drawn if pts]
    hi = max(hi, *(v for _, v in rows))
    # no viewBox, as line_chart's text: the name above its bar, the bar's length a share of the width
    row_h = 34
    height = row_h * len(rows) + 6
    parts = [f'<svg class="chart bars" height="{height}" role="img" aria-label="{label}"><title>{label}</title>']
    for i, (name, v) in enumerate(rows):
        y = 4 + i * row_h
        share = BAR_SHARE * max(0.005, (v - lo) / ((hi - lo) or 1))
        parts.append(f'<text class="tick" x="8" y="{y + 11}">{escape(name)}</text>'
                     f'<rect class="s{i % SERIES_MAX}" x="8" y="{y + 15}" width="{share:.1f}%" height="12"/>'
                     f'<text class="tick" x="{share:.1f}%" dx="14" y="{y + 25}">{v:.2f}</text>')
    parts.append("</svg>")
    t = drawn[0][1][-1][0] if drawn and drawn[0][1] else None
    when = f" at {t:%H:%M} UTC (no history recorded yet)" if t else ""
    return Markup(f'<figure class="chart-box">{"".join(parts)}<figcaption>{label}{when}</figcaption></figure>')
