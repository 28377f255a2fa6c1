"""Small server-rendered SVG bar charts for the operator console: no JavaScript, a few hundred
bytes each, readable by screen readers (role="img" with a text summary; the numbers are also
in a table next to the chart)."""

from collections.abc import Iterable

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

WIDTH, HEIGHT, GAP = 600, 120, 2
#: GOV.UK blue: 4.5:1 or more against white and against the light grey background.
BAR_COLOUR = "#1d70b8"
AXIS_COLOUR = "#505a5f"


def joined(parts: Iterable[str]) -> SafeString:
    """Pieces of SVG made by format_html, joined; anything else is escaped on the way."""
    return format_html_join("", "{}", ((part,) for part in parts))


def bar_chart(points: list[tuple[str, int]], *, title: str) -> SafeString:
    """One bar per point (label, value), scaled to the largest value, with the maximum written
    on the axis. An empty or all-zero series draws an axis and says so."""
    values = [max(0, int(v or 0)) for _, v in points]
    top = max(values, default=0)
    total = sum(values)
    if points:
        first, last = points[0][0], points[-1][0]
        summary = _("%(title)s: %(total)s in total from %(first)s to %(last)s, at most "
                    "%(top)s a day.") % {"title": title, "total": total, "first": first,
                                        "last": last, "top": top}
    else:
        summary = _("%(title)s: no data.") % {"title": title}
    n = max(len(values), 1)
    bar_width = max((WIDTH - GAP * (n - 1)) / n, 1)
    rects = []
    for i, ((label, _value), value) in enumerate(zip(points, values, strict=True)):
        if value:
            height = value / top * (HEIGHT - 14)
            rects.append((*(f"{n:.1f}" for n in (i * (bar_width + GAP), HEIGHT - height,
                                                  bar_width, height)), label, value))
    bars = format_html_join(
        "", '<rect x="{}" y="{}" width="{}" height="{}"><title>{}: {}</title>'
            "</rect>", rects)
    return format_html(
        '<svg class="dgbox-chart" viewBox="0 0 {w} {h}" width="100%" role="img" '
        'aria-label="{summary}" preserveAspectRatio="none" xmlns="http://www.w3.org/2000/svg">'
        '<g fill="{bar}">{bars}</g>'
        '<line x1="0" y1="{h}" x2="{w}" y2="{h}" stroke="{axis}" stroke-width="1"/>'
        '<text x="0" y="11" font-size="11" fill="{axis}">{top}</text></svg>',
        w=WIDTH, h=HEIGHT, summary=summary, bar=BAR_COLOUR, bars=bars, axis=AXIS_COLOUR,
        top=top)


#: Series colours, in order: GOV.UK blue, orange, green, purple (each 3:1 or more against white
#: for graphical objects, WCAG 1.4.11); series are also told apart by their dash pattern and
#: named in the legend, never by colour alone.
SERIES = (("#1d70b8", ""), ("#b54d00", "6 3"), ("#00703c", "2 2"), ("#4c2c92", "8 2 2 2"))


def line_chart(labels: list[str], series: list[tuple[str, list[float | None]]], *, title: str,
               percent: bool = False) -> SafeString:
    """Trends over time: one line per (name, values), values aligned with `labels` (None: a
    gap). `percent`: values are shares 0-1, drawn on a 0-100% axis. The summary names each
    series' first and last value; the caller shows the same figures in a table."""
    width, height, left, top_pad = WIDTH, 160, 34, 8
    present = [v for _, values in series for v in values if v is not None]
    top = 1.0 if percent else max(present, default=0) or 1
    n = max(len(labels), 1)
    step = (width - left - 4) / max(n - 1, 1)

    def fmt(value: float) -> str:
        return f"{value:.0%}" if percent else number(value)

    def xy(i: int, value: float) -> str:
        return f"{left + i * step:.1f},{top_pad + (height - top_pad - 14) * (1 - value / top):.1f}"

    parts = []
    for index, (name, values) in enumerate(series):
        colour, dash = SERIES[index % len(SERIES)]
        runs: list[list[str]] = [[]]
        for i, value in enumerate(values):
            if value is None:
                runs.append([])
            else:
                runs[-1].append(xy(i, value))
        for run in runs:
            if len(run) == 1:
                x, y = run[0].split(",")
                parts.append(format_html('<circle cx="{}" cy="{}" r="2.5" fill="{}"/>', x, y,
                                         colour))
            elif run:
                parts.append(format_html(
                    '<polyline points="{}" fill="none" stroke="{}" stroke-width="2"'
                    ' stroke-dasharray="{}"><title>{}</title></polyline>',
                    " ".join(run), colour, dash or "none", name))
    summaries = []
    for name, values in series:
        known = [v for v in values if v is not None]
        summaries.append(_("%(name)s from %(first)s to %(last)s") % {
            "name": name, "first": fmt(known[0]), "last": fmt(known[-1])} if known
            else _("%(name)s: no data") % {"name": name})
    span = (_(" (%(first)s to %(last)s)") % {"first": labels[0], "last": labels[-1]}
            if labels else "")
    summary = f"{title}{span}: " + "; ".join(summaries) + "."
    legend = format_html_join("", '<text x="{}" y="{}" font-size="11" fill="{}">{}</text>',
                              ((left + 150 * i, height + 12, SERIES[i % len(SERIES)][0], name)
                               for i, (name, _v) in enumerate(series)))
    return format_html(
        '<svg class="dgbox-chart" viewBox="0 0 {w} {h}" width="100%" role="img" '
        'aria-label="{summary}" xmlns="http://www.w3.org/2000/svg">'
        '<line x1="{left}" y1="{base}" x2="{w}" y2="{base}" stroke="{axis}" stroke-width="1"/>'
        '<text x="0" y="{ty}" font-size="11" fill="{axis}">{top}</text>'
        '<text x="0" y="{base}" font-size="11" fill="{axis}">0</text>{lines}{legend}</svg>',
        w=width, h=height + 16, summary=summary, left=left, base=height - 14, axis=AXIS_COLOUR,
        ty=top_pad + 4, top=fmt(top), lines=joined(parts), legend=legend)


def number(value: float) -> str:
    """A count as its digits (1234567, never "1.23457e+06"); other values as %g."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def shorten(label: str, room: int) -> str:
    """`label` cut to what fits in `room` units of 12-unit text (about 6.5 units a letter),
    with an ellipsis; the full label stays in the bar's tooltip, the summary and the table."""
    letters = max(int(room / 6.5) - 1, 4)
    return label if len(label) <= letters else label[:letters - 1] + "…"


def hbar_chart(points: list[tuple[str, float]], *, title: str, percent: bool = False,
               highlight: str | None = None, width: int = WIDTH,
               label_width: int = 200) -> SafeString:
    """Labelled horizontal bars, one per (label, value), longest first as given: a funnel, a
    channel mix, a ranking. `highlight`: the label drawn in the second colour (say, the tenant
    being looked at among its peers). A narrower `width` (the drawing's own units) makes the
    text larger where the chart is scaled down to a phone's width."""
    row = 22
    top = 1.0 if percent else max((v for _, v in points), default=0) or 1

    def fmt(value: float) -> str:
        return f"{value:.0%}" if percent else number(value)

    bars = []
    for i, (label, value) in enumerate(points):
        length = max(value, 0) / top * (width - label_width - 60)
        colour = SERIES[1][0] if label == highlight else BAR_COLOUR
        y = i * row
        bars.append(format_html(
            '<text x="0" y="{}" font-size="12" fill="{}">{}</text>'
            '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}: {}</title></rect>'
            '<text x="{}" y="{}" font-size="12" fill="{}">{}</text>',
            y + 15, AXIS_COLOUR, shorten(label, label_width), label_width, y + 3,
            f"{length:.1f}", row - 6, colour, label, fmt(value),
            f"{label_width + length + 4:.1f}", y + 15, AXIS_COLOUR, fmt(value)))
    summary = (f"{title}: " + "; ".join(f"{label} {fmt(value)}" for label, value in points)
               + "." if points else _("%(title)s: no data.") % {"title": title})
    return format_html(
        '<svg class="dgbox-chart" viewBox="0 0 {w} {h}" width="100%" role="img" '
        'aria-label="{summary}" xmlns="http://www.w3.org/2000/svg">{bars}</svg>',
        w=width, h=max(len(points), 1) * row, summary=summary, bars=joined(bars))



def _wrap(name: str, width: int = 20, lines: int = 3) -> list[str]:
    """A spoke's label in lines of about `width` characters, broken between words; what does
    not fit in `lines` lines ends with an ellipsis (the summary and the table have it whole)."""
    out: list[str] = []
    for word in name.split():
        if out and len(out[-1]) + 1 + len(word) <= width:
            out[-1] += " " + word
        else:
            out.append(word[:width])
    if len(out) > lines:
        out = out[:lines]
        out[-1] = out[-1][: width - 1] + "…"
    return out or [""]


def radar_chart(axes: list[tuple[str, float | None]], *, title: str, maximum: float = 5,
                compare: list[tuple[str, float | None]] | None = None,
                compare_name: str = "") -> SafeString:
    """A radar (spider) chart: one spoke per (name, score 0..maximum); None is drawn at 0 and
    said to be "not assessed". `compare`: a second polygon (an earlier round, or a peer)."""
    import math  # noqa: PLC0415 - only the radar needs it

    size, centre, radius = 360, 180, 120
    n = max(len(axes), 3)

    def point(i: int, value: float) -> tuple[float, float]:
        angle = -math.pi / 2 + 2 * math.pi * i / n
        r = radius * max(0.0, min(value, maximum)) / maximum
        return centre + r * math.cos(angle), centre + r * math.sin(angle)

    rings = joined(
        format_html('<polygon points="{}" fill="none" stroke="#b1b4b6" stroke-width="1"/>',
                    " ".join(f"{x:.1f},{y:.1f}" for x, y in (point(i, level) for i in range(n))))
        for level in range(1, int(maximum) + 1))
    spokes, labels = [], []
    for i, (name, _score) in enumerate(axes):
        x, y = point(i, maximum)
        spokes.append(format_html('<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#b1b4b6"/>',
                                  centre, centre, f"{x:.1f}", f"{y:.1f}"))
        lx, ly = point(i, maximum * 1.2)
        anchor = "middle" if abs(lx - centre) < 10 else ("start" if lx > centre else "end")
        lines = _wrap(name)
        # Above the centre a label grows upwards, below it downwards: never into the chart.
        first = ly - 2 - (len(lines) - 1) * 12 if ly < centre - 10 else (
            ly + 10 if ly > centre + 10 else ly + 4 - (len(lines) - 1) * 6)
        tspans = format_html_join("", '<tspan x="{}" y="{}">{}</tspan>',
                                  ((f"{lx:.1f}", f"{first + 12 * n:.1f}", line)
                                   for n, line in enumerate(lines)))
        labels.append(format_html('<text font-size="11" text-anchor="{}" fill="{}">{}</text>',
                                  anchor, AXIS_COLOUR, tspans))

    def polygon(values: list[tuple[str, float | None]], colour: str,
                dash: str) -> SafeString:
        points = " ".join(f"{x:.1f},{y:.1f}" for x, y in
                          (point(i, score or 0) for i, (_n, score) in enumerate(values)))
        return format_html('<polygon points="{}" fill="{}" fill-opacity="0.15" stroke="{}" '
                           'stroke-width="2" stroke-dasharray="{}"/>', points, colour, colour,
                           dash or "none")

    shapes = joined([*([polygon(compare, *SERIES[1])] if compare else []),
                     polygon(axes, *SERIES[0])])

    def said(score: float | None) -> str:
        return f"{score:g}" if score is not None else str(_("not assessed"))

    summary = f"{title}: " + "; ".join(f"{name} {said(score)}" for name, score in axes)
    if compare:
        summary += "; " + (compare_name or _("compared with")) + ": " + "; ".join(
            f"{name} {said(score)}" for name, score in compare)
    return format_html(
        '<svg class="dgbox-chart dgbox-radar" viewBox="-110 0 {w} {h}" width="100%" role="img" '
        'aria-label="{summary}." xmlns="http://www.w3.org/2000/svg">{rings}{spokes}{shapes}'
        '{labels}</svg>', w=size + 220, h=size + 20, summary=summary, rings=rings,
        spokes=joined(spokes), shapes=shapes,
        labels=joined(labels))
