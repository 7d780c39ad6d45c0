"""The NAV / cash / positions-value chart as hand-written inline SVG.

Coordinates are computed with Decimals and written with two decimals, so the same
statistics give the same bytes on every machine (no plotting library, no floats, no
fonts embedded, no ids or timestamps generated at render time).

Beside the ledger's series, the NAV the harness computed from chain reads after every
tick is drawn dashed; each instant of the event timeline is a numbered marker linking to
its row (problems red, warnings amber, the rest grey).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Context, Decimal, localcontext
from html import escape

from harness.report.model import NavRow, StatPoint, TimelineRow, plain

WIDTH, HEIGHT = 960, 380
LEFT, RIGHT, TOP, BOTTOM = 96, 24, 40, 56
X_TICKS = 6
Y_STEPS = 4
PIXEL = Decimal("0.01")

# (attribute of StatPoint, legend label, colour)
SERIES: tuple[tuple[str, str, str], ...] = (
    ("nav", "NAV (ledger)", "#1f4e9c"),
    ("cash", "Cash", "#2e8b57"),
    ("positions_value", "Positions value", "#c0632b"),
)
CHAIN_SERIES = ("chain_nav", "NAV (chain truth)", "#7a2e8e")
MARKER_COLOURS = {"problem": "#b00020", "warning": "#b7791f", "info": "#6b7280"}


def _px(d: Decimal) -> str:
    return plain(d.quantize(PIXEL, rounding=ROUND_HALF_EVEN))


def _nice_step(span: Decimal) -> Decimal:
    """The smallest 1, 2 or 5 times a power of ten that is at least span / Y_STEPS."""
    raw = span / Y_STEPS
    magnitude = Decimal(1).scaleb(raw.adjusted())
    for m in (1, 2, 5, 10):
        if m * magnitude >= raw:
            return m * magnitude
    return 10 * magnitude


def _markers(events: list[TimelineRow], x_at: Callable[[datetime], Decimal]) -> list[str]:
    """One marker per instant of the timeline: a line down the plot and a numbered dot
    linking to the instant's first row; its title lists every row of the instant."""
    by_time: dict[datetime, list[TimelineRow]] = {}
    for e in events:
        if e.time is not None:
            by_time.setdefault(e.time, []).append(e)
    out = ['<g class="markers">']
    for ts in sorted(by_time):
        rows = by_time[ts]
        worst = "problem" if any(r.severity == "problem" for r in rows) else \
            "warning" if any(r.severity == "warning" for r in rows) else "info"
        colour = MARKER_COLOURS[worst]
        x = _px(x_at(ts))
        first = rows[0].row_id
        title = "; ".join(f"#{r.row_id} {r.kind}: {r.what}" for r in rows)
        out.append(f'<a href="#timeline-{first}" class="marker {worst}" data-rows="{len(rows)}">'
                   f"<title>{escape(title)}</title>"
                   f'<line x1="{x}" y1="{TOP}" x2="{x}" y2="{HEIGHT - BOTTOM}" stroke="{colour}" '
                   f'stroke-width="1" stroke-dasharray="2 3" />'
                   f'<circle cx="{x}" cy="{TOP + 9}" r="8" fill="{colour}" />'
                   f'<text x="{x}" y="{TOP + 9}" text-anchor="middle" dominant-baseline="central" '
                   f'class="marker-label">{first}</text></a>')
    out.append("</g>")
    return out


def _time_label(p: StatPoint) -> str:
    return p.timestamp.strftime("%Y-%m-%d %H:%M")


def render_chart(points: list[StatPoint], reserve_asset: str, chain: list[NavRow] | None = None,
                 events: list[TimelineRow] | None = None) -> str:
    """An <svg> element (no XML declaration, no namespace URL: it is inlined in HTML)."""
    with localcontext(Context(prec=28)):  # fixed, whatever the caller's context is
        return _render(points, reserve_asset, chain or [], events or [])


def _render(points: list[StatPoint], reserve_asset: str, chain: list[NavRow], events: list[TimelineRow]) -> str:
    plot_w = Decimal(WIDTH - LEFT - RIGHT)
    plot_h = Decimal(HEIGHT - TOP - BOTTOM)
    out = [
        f'<svg id="nav-chart" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" '
        f'height="{HEIGHT}" role="img" aria-label="NAV, cash and positions value per cycle">',
        f"<title>NAV, cash and positions value per cycle, in {escape(reserve_asset)}</title>",
    ]
    if not points:
        out.append(f'<text x="{WIDTH // 2}" y="{HEIGHT // 2}" text-anchor="middle" class="muted">'
                   "no cycle statistics recorded</text>")
        out.append("</svg>")
        return "\n".join(out)

    values = [getattr(p, attr) for p in points for attr, _, _ in SERIES] + [n.chain_nav for n in chain]
    lo, hi = min(min(values), Decimal(0)), max(values)
    if hi == lo:
        hi = lo + 1
    step = _nice_step(hi - lo)
    lo = (lo / step).to_integral_value(rounding=ROUND_FLOOR) * step
    hi = (hi / step).to_integral_value(rounding=ROUND_CEILING) * step
    t0 = points[0].timestamp
    span = int((points[-1].timestamp - t0).total_seconds())

    def x_at(ts: datetime) -> Decimal:
        if span == 0:
            return LEFT + plot_w / 2
        offset = min(max(int((ts - t0).total_seconds()), 0), span)  # an event outside the cycles sits at an edge
        return LEFT + plot_w * offset / span

    def x_of(p: StatPoint) -> Decimal:
        return x_at(p.timestamp)

    def y_of(v: Decimal) -> Decimal:
        return TOP + plot_h * (hi - v) / (hi - lo)

    # axes and grid
    out.append('<g class="grid">')
    tick = lo
    while tick <= hi:
        y = _px(y_of(tick))
        out.append(f'<line x1="{LEFT}" y1="{y}" x2="{WIDTH - RIGHT}" y2="{y}" />')
        out.append(f'<text x="{LEFT - 8}" y="{y}" text-anchor="end" dominant-baseline="middle">'
                   f"{plain(tick)}</text>")
        tick += step
    n = len(points)
    shown = sorted({(i * (n - 1)) // (X_TICKS - 1) for i in range(X_TICKS)}) if n > 1 else [0]
    for i in shown:
        x = _px(x_of(points[i]))
        anchor = "middle" if n == 1 or 0 < i < n - 1 else "start" if i == 0 else "end"
        out.append(f'<line x1="{x}" y1="{TOP + plot_h}" x2="{x}" y2="{TOP + plot_h + 5}" />')
        out.append(f'<text x="{x}" y="{TOP + plot_h + 20}" text-anchor="{anchor}">'
                   f"{escape(_time_label(points[i]))}</text>")
    out.append("</g>")
    out.append(f'<rect class="frame" x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" />')
    out.append(f'<text x="{LEFT}" y="{TOP - 14}" class="axis-title">{escape(reserve_asset)}</text>')

    # one polyline per series, then the legend
    for attr, label, colour in SERIES:
        coords = " ".join(f"{_px(x_of(p))},{_px(y_of(getattr(p, attr)))}" for p in points)
        out.append(f'<polyline data-series="{attr}" fill="none" stroke="{colour}" stroke-width="2" '
                   f'points="{coords}"><title>{escape(label)}</title></polyline>')
        if n == 1:
            p = points[0]
            out.append(f'<circle cx="{_px(x_of(p))}" cy="{_px(y_of(getattr(p, attr)))}" r="3" '
                       f'fill="{colour}" />')
    if chain:
        attr, label, colour = CHAIN_SERIES
        coords = " ".join(f"{_px(x_at(n.time))},{_px(y_of(n.chain_nav))}" for n in chain)
        out.append(f'<polyline data-series="{attr}" fill="none" stroke="{colour}" stroke-width="2" '
                   f'stroke-dasharray="6 4" points="{coords}"><title>{escape(label)}</title></polyline>')
    out += _markers(events, x_at)
    lx = LEFT + 120
    legend = [(label, colour, "") for _attr, label, colour in SERIES]
    if chain:
        legend.append((CHAIN_SERIES[1], CHAIN_SERIES[2], ' stroke-dasharray="6 4"'))
    for k, (label, colour, dash) in enumerate(legend):
        key_x = lx + 170 * k
        out.append(f'<line x1="{key_x}" y1="{TOP - 18}" x2="{key_x + 24}" y2="{TOP - 18}" '
                   f'stroke="{colour}" stroke-width="3"{dash} />')
        out.append(f'<text x="{key_x + 30}" y="{TOP - 14}">{escape(label)}</text>')
    out.append("</svg>")
    return "\n".join(out)
