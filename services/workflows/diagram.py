"""A picture of a case workflow for the admin's Overview tab: an SVG state diagram drawn on
the server (no JavaScript), shown above the tables that say the same in words.

Layout, a small layered drawing:

- Columns: a state stands one column right of the furthest state a step forward leads from,
  starting with the state new cases start in. A step back to a state already on the way (we
  need more information → being reviewed, found by a depth-first walk) pushes nothing right,
  and the states that end the case share the last column. Plain distance from the start would
  put five of the standard workflow's six states in one column, with the arrows between them
  running up and down it.
- Rows: each column's states are stacked, ordered by the rows the steps into them come from.
  A step that skips columns runs straight along its source's row, which the columns it
  crosses keep free of boxes, and bends into its target in the last gap: no arrow forward
  crosses a box.
- Steps forward are labelled where they enter their state (one label per step, however many
  states it leaves from); steps back are curves under (or over) the boxes, labelled where
  they turn; a step that stays in its state is a loop on top. Who takes a step is its
  tooltip.

Labels come from editors: every piece is built with format_html, which escapes them.
Colours on the white background: text #333 (12.6:1), boxes #2e1f5e, arrows #5c5c5c, steps
back and the start marker #007d7e (all at least 4.5:1; tests/test_workflow_diagram.py).
"""

import textwrap
from collections import defaultdict
from dataclasses import dataclass, field

from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from . import spec as workflowspec

#: Past this many states the diagram is too small to read; the Overview keeps the tables.
MAX_STATES = 15

BOX_W, BOX_H = 144, 56
GAP_X, GAP_Y = 116, 40
STATE_FONT, STEP_FONT, LINE_GAP = 13, 12, 14
STATE_CHARS, STEP_CHARS = 16, 17  # characters a line holds (Cyrillic is the wider)
TEXT, BORDER, LINE, ACCENT = "#333333", "#2e1f5e", "#5c5c5c", "#007d7e"
END_FILL = "#f3f1f8"  # behind text #333: 11.3:1


@dataclass
class Layout:
    """Where each state goes (column, row) and the steps between them, by (from, to) pair."""

    columns: dict
    rows: dict
    pairs: dict  # (from, to) -> [transition, ...] in definition order
    back: set = field(default_factory=set)  # pairs drawn as curves

    def x(self, code):
        return self.columns[code] * (BOX_W + GAP_X)

    def y(self, code):
        return self.rows[code] * (BOX_H + GAP_Y)


def layout(definition):
    """Columns and rows of a workflow definition's states (see the module docstring)."""
    states = definition.get("states") or []
    codes = [state["code"] for state in states]
    terminal = {state["code"] for state in states if state.get("terminal")}
    pairs = {}
    for transition in definition.get("transitions") or []:
        if transition.get("to") not in codes:
            continue
        for source in transition.get("from") or []:
            if source in codes:
                pairs.setdefault((source, transition["to"]), []).append(transition)
    following = defaultdict(list)
    for source, target in pairs:
        if source != target:
            following[source].append(target)

    # Depth-first from the start: a step to a state still being walked goes back.
    back, walking, done = set(), set(), []

    def walk(code):
        walking.add(code)
        for target in following[code]:
            if target in walking:
                back.add((code, target))
            elif target not in done:
                walk(target)
        walking.discard(code)
        done.append(code)

    for root in [definition.get("initial"), *codes]:
        if root in codes and root not in done:
            walk(root)
    columns = dict.fromkeys(codes, 0)
    for code in reversed(done):  # every step forward goes later in this order
        for target in following[code]:
            if (code, target) not in back:
                columns[target] = max(columns[target], columns[code] + 1)
    if terminal and len(terminal) < len(codes):
        last = max(columns[code] for code in codes if code not in terminal) + 1
        columns.update(dict.fromkeys(terminal, last))
    back = {(s, t) for s, t in pairs if s != t and columns[t] <= columns[s]}

    rows, taken = {}, defaultdict(set)
    coming_from = defaultdict(list)
    for source, target in pairs:
        if columns[target] > columns[source]:
            coming_from[target].append(source)

    def weight(code):
        placed = [rows[source] for source in coming_from[code] if source in rows]
        return sum(placed) / len(placed) if placed else 0

    for column in range(max(columns.values(), default=-1) + 1):
        members = sorted((code for code in codes if columns[code] == column), key=weight)
        for code in members:
            row = 0
            while row in taken[column]:
                row += 1
            rows[code] = row
            taken[column].add(row)
        for source, target in pairs:  # keep a long step's row free in the columns it crosses
            if columns[source] == column:
                for crossed in range(column + 1, columns[target]):
                    taken[crossed].add(rows[source])
    return Layout(columns=columns, rows=rows, pairs=pairs, back=back)


def _label(item, language):
    label = item.get("label") or {}
    return label.get(language) or label.get("ru") or item.get("code") or ""


def _lines(text, width):
    return textwrap.wrap(text, width=width, max_lines=3, placeholder="…") or [""]


def _taken_by(transition, language):
    group = transition.get("group") or ""
    who = _("the applicant") if group == "applicant" else group
    return _("%(step)s — taken by %(group)s") % {"step": _label(transition, language),
                                                  "group": who}


class _Canvas:
    """The SVG pieces drawn so far, the step labels (drawn last, over the lines, with a white
    outline so they stay legible where a line crosses them) and how far all reach."""

    def __init__(self):
        self.parts, self.labels = [], []
        self.left = self.top = 0
        self.right = self.bottom = 0

    def reach(self, x0, y0, x1, y1):
        self.left, self.top = min(self.left, x0), min(self.top, y0)
        self.right, self.bottom = max(self.right, x1), max(self.bottom, y1)

    def text(self, lines, x, y, anchor, size=STEP_FONT, tip="", **attrs):
        """A block of lines whose first baseline is at y."""
        more = format_html_join("", '<tspan x="{}" dy="{}">{}</tspan>',
                                ((x, LINE_GAP, line) for line in lines[1:]))
        width = max(len(line) for line in lines) * size * 0.62
        x0 = {"start": x, "middle": x - width / 2, "end": x - width}[anchor]
        self.reach(x0, y - size, x0 + width, y + LINE_GAP * (len(lines) - 1) + 4)
        extra = format_html_join("", ' {}="{}"', ((name.replace("_", "-"), value)
                                                  for name, value in attrs.items()))
        title = format_html("<title>{}</title>", tip) if tip else ""
        return format_html('<text x="{}" y="{}" text-anchor="{}"{}>{}{}{}</text>',
                           x, y, anchor, extra, title, lines[0], more)

    def label(self, lines, x, y, anchor, transitions, language):
        """A step's label; its tooltip says who takes it."""
        self.labels.append(self.text(
            lines, x, y, anchor, data_step=transitions[0]["code"],
            tip=format_html_join("\n", "{}", ((_taken_by(t, language),) for t in transitions))))


def state_diagram(definition, language):
    """The workflow as an SVG state diagram (safe markup), or "" for one with more than
    MAX_STATES states or none."""
    states = definition.get("states") or []
    if not states or len(states) > MAX_STATES:
        return ""
    plan = layout(definition)
    canvas = _Canvas()
    for state in states:
        _draw_state(canvas, plan, state, state["code"] == definition.get("initial"), language)
    _draw_steps(canvas, plan, language)
    legend = _draw_legend(canvas, states)
    pad = 8
    left, top = int(canvas.left) - pad, int(canvas.top) - pad
    width, height = int(canvas.right) - left + pad, int(canvas.bottom) - top + pad
    marker = ('<marker id="wfd-{}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="9" '
              'markerHeight="9" markerUnits="userSpaceOnUse" orient="auto">'
              '<path d="M0,0L10,5L0,10z" fill="{}"/></marker>')
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="{} {} {} {}" width="100%" '
        'style="max-width:{}px;min-width:{}px" role="img" aria-label="{}" '
        'data-workflow-diagram="" font-size="{}" fill="{}">'
        "<title>{}</title><defs>{}{}</defs>"
        '<rect x="{}" y="{}" width="{}" height="{}" fill="#fff"/>{}'
        '<g font-size="{}" stroke="#fff" stroke-width="3" paint-order="stroke">{}</g>{}</svg>',
        left, top, width, height, width, int(width * 0.75), _summary(definition, language),
        STATE_FONT, TEXT, _("Diagram of the workflow"),
        format_html(marker, "line", LINE), format_html(marker, "back", ACCENT),
        left, top, width, height, _join(canvas.parts, "\n"), STEP_FONT,
        _join(canvas.labels, "\n"), legend)


def _join(parts, between=""):
    return format_html_join(between, "{}", ((part,) for part in parts))


def _summary(definition, language):
    states = definition.get("states") or []
    steps = len(definition.get("transitions") or [])
    ends = [_label(state, language) for state in states if state.get("terminal")]
    return _("%(states)s, %(steps)s; starts at %(start)s; ends at %(ends)s.") % {
        "states": ngettext("%(count)s state", "%(count)s states", len(states))
        % {"count": len(states)},
        "steps": ngettext("%(count)s step", "%(count)s steps", steps) % {"count": steps},
        "start": workflowspec.label(definition, definition.get("initial"), language),
        "ends": ", ".join(ends) or "—"}


def _draw_state(canvas, plan, state, initial, language):
    code = state["code"]
    x, y = plan.x(code), plan.y(code)
    terminal, paused = bool(state.get("terminal")), state.get("clock") == "paused"
    dash = format_html(' stroke-dasharray="{}"', "6 4") if paused else ""
    box = format_html('<rect x="{}" y="{}" width="{}" height="{}" rx="8" fill="{}" stroke="{}" '
                      'stroke-width="1.5"{}/>', x, y, BOX_W, BOX_H,
                      END_FILL if terminal else "#fff", BORDER, dash)
    if terminal:  # a double border
        box += format_html('<rect x="{}" y="{}" width="{}" height="{}" rx="5" fill="none" '
                           'stroke="{}"{}/>', x + 4, y + 4, BOX_W - 8, BOX_H - 8, BORDER, dash)
    if initial:  # a dot with an arrow into the box
        box += format_html('<circle cx="{}" cy="{}" r="5" fill="{}"/><path d="M{},{}H{}" '
                           'stroke="{}" stroke-width="1.5" marker-end="url(#wfd-back)"/>',
                           x - 28, y + BOX_H // 2, ACCENT, x - 23, y + BOX_H // 2, x - 1, ACCENT)
        canvas.reach(x - 34, y, x, y + BOX_H)
    lines = _lines(_label(state, language), STATE_CHARS)
    first = y + BOX_H // 2 - (len(lines) - 1) * LINE_GAP // 2 + 4
    roles = [_("New cases start here")] if initial else []
    roles += [_("Ends the case")] if terminal else []
    roles += [_("Clock stops")] if paused else []
    tip = _label(state, language) + "".join(f" ({role})" for role in roles)
    canvas.parts.append(format_html(
        '<g data-state="{}" data-column="{}" data-row="{}"><title>{}</title>{}{}</g>',
        code, plan.columns[code], plan.rows[code], tip, box,
        canvas.text(lines, x + BOX_W // 2, first, "middle", size=STATE_FONT)))
    canvas.reach(x, y, x + BOX_W, y + BOX_H)


def _draw_steps(canvas, plan, language):
    """One arrow per (from, to) pair; steps forward labelled where they enter their state,
    each step once there."""
    entering = defaultdict(list)
    for (source, target), transitions in plan.pairs.items():
        if source == target:
            kind, d = "self", _loop(canvas, plan, source, transitions, language)
        elif (source, target) in plan.back:
            kind, d = "back", _curve_back(canvas, plan, source, target, transitions, language)
        else:
            kind, d = "forward", _line_forward(plan, source, target)
            entering[target] += [t for t in transitions if t not in entering[target]]
        arrow = "line" if kind == "forward" else "back"
        canvas.parts.append(format_html(
            '<g data-edge="" data-from="{}" data-to="{}" data-kind="{}"><title>{}</title>'
            '<path d="{}" fill="none" stroke="{}" stroke-width="1.5" '
            'marker-end="url(#wfd-{})"/></g>',
            source, target, kind,
            _join([_taken_by(t, language) for t in transitions], "\n"), d,
            LINE if kind == "forward" else ACCENT, arrow))
    for target, transitions in entering.items():
        blocks = [(t, _lines(_label(t, language), STEP_CHARS)) for t in transitions]
        entry = plan.y(target) + BOX_H // 2
        if _labels_below(plan, target):
            baseline = entry + 7 + STEP_FONT
        else:
            baseline = entry - 7 - LINE_GAP * (sum(len(lines) for _t, lines in blocks) - 1)
        for transition, lines in blocks:
            canvas.label(lines, plan.x(target) - 8, baseline, "end", [transition], language)
            baseline += LINE_GAP * len(lines)


def _labels_below(plan, target):
    """Whether the labels of the steps into `target` go under their arrows: on the side fewer
    arrows cross in the gap before it."""
    row, column = plan.rows[target], plan.columns[target]
    spans = [sorted((plan.rows[source], plan.rows[into])) for source, into in plan.pairs
             if plan.columns[into] == column and plan.columns[source] < column]
    over = sum(1 for low, high in spans if low < row <= high)
    under = sum(1 for low, high in spans if low <= row < high)
    return under < over


def _line_forward(plan, source, target):
    """Out of the source's right side, along its row, bending into the target's left side."""
    x0, y0 = plan.x(source) + BOX_W, plan.y(source) + BOX_H // 2
    x1, y1 = plan.x(target), plan.y(target) + BOX_H // 2
    bend = x1 - GAP_X  # the right edge of the column before the target
    d = f"M{x0},{y0}" + (f"H{bend}" if bend > x0 else "")
    if y0 == y1:
        return f"{d}H{x1}"
    return f"{d}C{bend + GAP_X // 2},{y0} {x1 - GAP_X // 2},{y1} {x1},{y1}"


def _curve_back(canvas, plan, source, target, transitions, language):
    """Bottom of the source to the bottom of the target, under the boxes; over them (top to
    top) when boxes stand under it in the columns it spans and none over it."""
    low, high = sorted((plan.columns[target], plan.columns[source]))
    spanned = [code for code, column in plan.columns.items() if low <= column <= high]
    deepest = max(plan.rows[source], plan.rows[target])
    highest = min(plan.rows[source], plan.rows[target])
    boxes_under = any(plan.rows[code] > deepest for code in spanned)
    boxes_over = any(plan.rows[code] < highest for code in spanned)
    under = not boxes_under or boxes_over
    depth = 36 + 14 * (high - low - 1)
    x0, x1 = plan.x(source) + BOX_W // 2, plan.x(target) + BOX_W // 2
    if under:
        y0, y1 = plan.y(source) + BOX_H, plan.y(target) + BOX_H
        turn = max(y0, y1) + depth
    else:
        y0, y1 = plan.y(source), plan.y(target)
        turn = min(y0, y1) - depth
    middle = int(0.75 * turn + 0.125 * (y0 + y1))  # where the curve turns
    canvas.reach(min(x0, x1), min(middle, y0, y1), max(x0, x1), max(middle, y0, y1))
    lines = _lines(" / ".join(_label(t, language) for t in transitions), STEP_CHARS)
    first = middle + 7 + STEP_FONT if under else middle - 7 - LINE_GAP * (len(lines) - 1)
    canvas.label(lines, (x0 + x1) // 2, first, "middle", transitions, language)
    return f"M{x0},{y0}C{x0},{turn} {x1},{turn} {x1},{y1}"


def _loop(canvas, plan, code, transitions, language):
    """A step that stays in its state: a loop on top of the box."""
    x, y = plan.x(code), plan.y(code)
    right, left = x + BOX_W * 5 // 8, x + BOX_W * 3 // 8
    lines = _lines(" / ".join(_label(t, language) for t in transitions), STEP_CHARS)
    canvas.label(lines, x + BOX_W // 2, y - 32 - LINE_GAP * (len(lines) - 1), "middle",
                 transitions, language)
    return f"M{right},{y}C{right},{y - 34} {left},{y - 34} {left},{y}"


LEGEND_SAMPLES = {
    "start": '<circle cx="{x5}" cy="{y4}" r="5" fill="{accent}"/><path d="M{x10},{y4}h16" '
             'stroke="{accent}" stroke-width="1.5" marker-end="url(#wfd-back)"/>',
    "end": '<rect x="{x}" y="{y12}" width="24" height="16" rx="4" fill="{end_fill}" '
           'stroke="{border}" stroke-width="1.5"/><rect x="{x3}" y="{y9}" width="18" '
           'height="10" rx="2" fill="none" stroke="{border}"/>',
    "paused": '<rect x="{x}" y="{y12}" width="24" height="16" rx="4" fill="#fff" '
              'stroke="{border}" stroke-width="1.5" stroke-dasharray="6 4"/>',
}


def _draw_legend(canvas, states):
    """What the start dot, the double border and the dashed border mean, under the drawing."""
    y, x = int(canvas.bottom) + 28, int(canvas.left)
    keys = [("start", _("New cases start here")), ("end", _("Ends the case"))]
    if any(state.get("clock") == "paused" for state in states):
        keys.append(("paused", _("Clock stops")))
    parts = []
    for key, text in keys:
        parts.append(format_html(LEGEND_SAMPLES[key], x=x, x3=x + 3, x5=x + 5, x10=x + 10,
                                 y4=y - 4, y9=y - 9, y12=y - 12, accent=ACCENT,
                                 end_fill=END_FILL, border=BORDER))
        parts.append(canvas.text([text], x + 32, y, "start", font_size=STEP_FONT))
        x += 40 + int(len(text) * STEP_FONT * 0.62)
    return format_html('<g data-legend="">{}</g>', _join(parts))
