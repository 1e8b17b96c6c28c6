"""Line charts as inline SVG, drawn on the server: no script and no third-party code, readable
without JavaScript, and a few hundred bytes per series. Colours come from the stylesheet (classes
``s0``..``s5``), so a chart follows the light or dark scheme."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from markupsafe import Markup, escape

WIDTH, HEIGHT = 640, 180
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 44, 8, 10, 22
POINTS_MAX = 240  # per series: more points than pixels across only add bytes
SERIES_MAX = 6  # colours the stylesheet has (s0..s5): a chart of more lines is unreadable anyway


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
    inner_w, inner_h = WIDTH - PAD_LEFT - PAD_RIGHT, HEIGHT - PAD_TOP - PAD_BOTTOM

    def x(t: datetime) -> float:
        return PAD_LEFT + inner_w * (t - t0).total_seconds() / span

    def y(v: float) -> float:
        return PAD_TOP + inner_h * (1 - (v - lo) / (hi - lo))

    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{label}" '
             f'preserveAspectRatio="none"><title>{label}</title>',
             f'<line class="axis" x1="{PAD_LEFT}" y1="{PAD_TOP + inner_h}" x2="{WIDTH - PAD_RIGHT}" '
             f'y2="{PAD_TOP + inner_h}"/>']
    for v in (lo, (lo + hi) / 2, hi):
        parts.append(f'<text class="tick" x="{PAD_LEFT - 4}" y="{y(v) + 4:.1f}" text-anchor="end">{v:.2f}</text>')
    parts.append(f'<text class="tick" x="{PAD_LEFT}" y="{HEIGHT - 6}">{t0:%m-%d %H:%M}</text>')
    parts.append(f'<text class="tick" x="{WIDTH - PAD_RIGHT}" y="{HEIGHT - 6}" text-anchor="end">{t1:%m-%d %H:%M} UTC</text>')
    for i, (_, pts) in enumerate(drawn):
        if not pts:
            continue
        if len(pts) == 1:
            parts.append(f'<circle class="s{i % SERIES_MAX}" cx="{x(pts[0][0]):.1f}" cy="{y(pts[0][1]):.1f}" r="3"/>')
            continue
        path = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in pts)
        parts.append(f'<polyline class="s{i % SERIES_MAX}" points="{path}"/>')
    parts.append("</svg>")
    legend = "".join(f'<li><span class="key s{i % SERIES_MAX}"></span>{escape(name)}</li>' for i, (name, _) in enumerate(drawn))
    return Markup(f'<figure class="chart-box">{"".join(parts)}<figcaption>{label}<ul class="legend">{legend}'
                  f'</ul></figcaption></figure>')


def _bars(title: str, drawn: Sequence[tuple[str, list[tuple[datetime, float]]]], lo: float, hi: float) -> Markup:
    """Values of one moment (no history kept yet): one bar per series, with its value."""
    label = escape(title)
    rows = [(name, pts[-1][1]) for name, pts in drawn if pts]
    hi = max(hi, *(v for _, v in rows))
    row_h = 26
    height = row_h * len(rows) + 8
    inner = WIDTH - 130 - 60
    parts = [f'<svg class="chart bars" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{label}"><title>{label}</title>']
    for i, (name, v) in enumerate(rows):
        y = 4 + i * row_h
        w = max(1.0, inner * (v - lo) / ((hi - lo) or 1))
        parts.append(f'<text class="tick" x="8" y="{y + 17}">{escape(name)}</text>'
                     f'<rect class="s{i % SERIES_MAX}" x="130" y="{y + 4}" width="{w:.1f}" height="{row_h - 10}"/>'
                     f'<text class="tick" x="{130 + w + 6:.1f}" y="{y + 17}">{v:.2f}</text>')
    parts.append("</svg>")
    t = drawn[0][1][-1][0] if drawn and drawn[0][1] else None
    when = f" at {t:%H:%M} UTC (no history recorded yet)" if t else ""
    return Markup(f'<figure class="chart-box">{"".join(parts)}<figcaption>{label}{when}</figcaption></figure>')
