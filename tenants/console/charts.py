"""Small server-rendered SVG bar charts for the operator console: no JavaScript, a few hundred
bytes each, readable by screen readers (role="img" with a text summary; the numbers are also
in a table next to the chart)."""

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

WIDTH, HEIGHT, GAP = 600, 120, 2
#: GOV.UK blue: 4.5:1 or more against white and against the light grey background.
BAR_COLOUR = "#1d70b8"
AXIS_COLOUR = "#505a5f"


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
