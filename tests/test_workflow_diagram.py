"""The state diagram on the workflow's Overview tab (services/workflows/diagram.py): one box per
state laid out left to right from where new cases start, one arrow per (from, to) pair, steps
back as curves, every editor's label escaped, a summary for screen readers, no diagram past
the size limit, and the diagram in the admin's Overview tab."""

import copy
import re
from xml.etree import ElementTree

import pytest
from django.utils import translation
from django_tenants.utils import tenant_context

from cms.contrast import contrast_ratio
from services.models import Workflow
from services.workflows import diagram as workflow_diagram
from services.workflows import spec as workflowspec

from .factories import NORTH, WITH_VISIT

SVG = "{http://www.w3.org/2000/svg}"


def draw(definition, language="en"):
    with translation.override(language):
        markup = workflow_diagram.state_diagram(definition, language)
    return markup, ElementTree.fromstring(markup)  # noqa: S314 (our own output; well-formed)


def boxes(svg):
    """code -> (column, x) of each state's box."""
    return {g.get("data-state"): (int(g.get("data-column")), int(g.find(f"{SVG}rect").get("x")))
            for g in svg.iter(f"{SVG}g") if g.get("data-state")}


def arrows(svg):
    """(from, to) -> (kind, path d, stroke) of each arrow."""
    found = {}
    for g in svg.iter(f"{SVG}g"):
        if g.get("data-edge") is not None:
            key = (g.get("data-from"), g.get("data-to"))
            assert key not in found, f"two arrows for {key}"
            path = g.find(f"{SVG}path")
            found[key] = (g.get("data-kind"), path.get("d"), path.get("stroke"))
    return found


def body(response):
    return response.content.decode()


def pairs(definition):
    return {(source, t["to"]) for t in definition["transitions"] for source in t["from"]}


def chain(count):
    """A valid workflow of `count` states, one after another, the last ending the case."""
    codes = [f"s{i}" for i in range(count)]
    return {
        "initial": "s0",
        "states": [{"code": code, "label": {"ru": code, "en": code},
                    "terminal": code == codes[-1], "clock": "runs"} for code in codes],
        "transitions": [{"code": f"to_{b}", "label": {"ru": b, "en": b}, "from": [a], "to": b,
                         "group": "Case workers", "requires": [], "notify": False}
                        for a, b in zip(codes, codes[1:], strict=False)],
    }


def test_the_standard_workflow_one_box_per_state_one_arrow_per_pair():
    markup, svg = draw(workflowspec.DEFAULT)
    placed = boxes(svg)
    assert set(placed) == {s["code"] for s in workflowspec.DEFAULT["states"]}
    assert markup.count("data-state=") == 6
    drawn = arrows(svg)
    assert set(drawn) == pairs(workflowspec.DEFAULT) and len(drawn) == 11
    # Left to right from where new cases start; the ends share the last column.
    assert {code: column for code, (column, _x) in placed.items()} == {
        "received": 0, "in_review": 1, "more_info": 2,
        "approved": 3, "refused": 3, "withdrawn": 3}
    start_x = placed["received"][1]
    assert all(x > start_x for code, (_c, x) in placed.items() if code != "received")
    assert min(x for _c, x in placed.values()) == start_x
    assert all(placed[end][1] > placed["more_info"][1]
               for end in ("approved", "refused", "withdrawn"))
    # The step back to review is a curve in the accent colour; steps forward are not.
    kind, d, stroke = drawn[("more_info", "in_review")]
    assert kind == "back" and "C" in d and stroke == workflow_diagram.ACCENT
    assert {kind for key, (kind, _d, _s) in drawn.items()
            if key != ("more_info", "in_review")} == {"forward"}
    # Each step is labelled, in the admin's language, with who takes it as its tooltip.
    for transition in workflowspec.DEFAULT["transitions"]:
        assert f'data-step="{transition["code"]}"' in markup
    assert "Withdraw at the" in markup and "Information" in markup
    assert "Information received — taken by the applicant" in markup
    assert "Approve — taken by Case workers" in markup


def test_the_standard_workflow_marks_start_ends_and_paused_clock_and_stays_light():
    markup, svg = draw(workflowspec.DEFAULT)
    assert svg.get("role") == "img" and svg.get("width") == "100%"
    assert re.fullmatch(r"-?\d+ -?\d+ \d+ \d+", svg.get("viewBox"))
    assert svg.get("aria-label") == ("6 states, 6 steps; starts at Received; ends at Approved, "
                                     "Refused, Withdrawn.")
    assert svg.find(f"{SVG}title").text == "Diagram of the workflow"
    groups = {g.get("data-state"): g for g in svg.iter(f"{SVG}g") if g.get("data-state")}
    rects = {code: g.findall(f"{SVG}rect") for code, g in groups.items()}
    assert all(len(rects[end]) == 2 for end in ("approved", "refused", "withdrawn"))  # double
    assert all(len(rects[code]) == 1 for code in ("received", "in_review", "more_info"))
    assert rects["more_info"][0].get("stroke-dasharray")  # the clock stops there
    assert not rects["in_review"][0].get("stroke-dasharray")
    assert groups["received"].find(f"{SVG}circle") is not None  # the start dot
    legend = "".join(svg.find(f".//{SVG}g[@data-legend]").itertext())
    assert "New cases start here" in legend and "Ends the case" in legend
    assert "Clock stops" in legend
    assert len(markup.encode()) < 10_000


def test_labels_follow_the_admin_language():
    markup, svg = draw(workflowspec.DEFAULT, "ru")
    assert "Получено" in markup and "Взять в работу" in markup and "Received" not in markup
    assert svg.get("aria-label").endswith("Одобрено, Отказано, Отозвано.")


def test_every_label_from_editors_is_escaped():
    definition = copy.deepcopy(workflowspec.DEFAULT)
    definition["states"][1]["label"]["en"] = "<script>alert(1)</script>"
    definition["transitions"][0]["label"]["en"] = 'Say "hi" & <b>go</b>'
    definition["transitions"][0]["group"] = "<img src=x onerror=alert(2)>"
    markup, svg = draw(definition)
    assert "<script" not in markup and "<b>" not in markup and "<img" not in markup
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in markup
    assert "&quot;hi&quot; &amp; &lt;b&gt;go&lt;/b&gt;" in markup
    box = next(g for g in svg.iter(f"{SVG}g") if g.get("data-state") == "in_review")
    assert "".join(box.find(f"{SVG}text").itertext()) == "<script>alert(1)</script>"


def test_a_state_reached_on_the_way_back_and_a_step_that_stays_put():
    """A second check, listed first, that is reached only from "more information" and hands
    the case back to review; a note that leaves the case where it is."""
    definition = copy.deepcopy(workflowspec.DEFAULT)
    definition["states"].insert(0, {"code": "recheck", "label": {"ru": "Перепроверка",
                                                                  "en": "Recheck"},
                                    "terminal": False, "clock": "runs"})
    definition["transitions"] += [
        {"code": "to_recheck", "label": {"ru": "На перепроверку", "en": "Recheck it"},
         "from": ["more_info"], "to": "recheck", "group": "Case workers", "requires": [],
         "notify": False},
        {"code": "rechecked", "label": {"ru": "Перепроверено", "en": "Rechecked"},
         "from": ["recheck"], "to": "in_review", "group": "Case workers", "requires": [],
         "notify": False},
        {"code": "note", "label": {"ru": "Заметка", "en": "Add a note"},
         "from": ["in_review"], "to": "in_review", "group": "Case workers",
         "requires": ["note"], "notify": False},
    ]
    workflowspec.validate(definition)
    markup, svg = draw(definition)
    placed, drawn = boxes(svg), arrows(svg)
    assert len(placed) == 7 and set(drawn) == pairs(definition)
    assert placed["recheck"][0] == placed["more_info"][0] + 1
    assert placed["received"][0] == 0
    assert drawn[("more_info", "recheck")][0] == "forward"
    kind, d, _stroke = drawn[("recheck", "in_review")]
    assert kind == "back" and "C" in d
    assert drawn[("in_review", "in_review")][0] == "self"
    assert 'data-step="note"' in markup and "8 states" not in svg.get("aria-label")
    assert svg.get("aria-label").startswith("7 states, 9 steps; starts at Received;")


@pytest.mark.parametrize("definition", [workflowspec.DEFAULT, WITH_VISIT, chain(15)],
                         ids=["standard", "with-visit", "chain-15"])
def test_no_arrow_forward_runs_through_a_box(definition):
    """A step that skips columns runs along its source's row: no box stands there."""
    plan = workflow_diagram.layout(definition)
    cells = {(plan.columns[code], plan.rows[code]) for code in plan.columns}
    assert len(cells) == len(plan.columns)  # no two boxes in one place
    for source, target in plan.pairs:
        if plan.columns[target] > plan.columns[source]:
            for column in range(plan.columns[source] + 1, plan.columns[target]):
                assert (column, plan.rows[source]) not in cells, (source, target)


def test_a_big_workflow_has_no_diagram():
    workflowspec.validate(chain(workflow_diagram.MAX_STATES + 1))
    assert workflow_diagram.state_diagram(chain(workflow_diagram.MAX_STATES + 1), "en") == ""
    markup, svg = draw(chain(workflow_diagram.MAX_STATES))
    assert len(boxes(svg)) == workflow_diagram.MAX_STATES
    assert workflow_diagram.state_diagram({"states": []}, "en") == ""


def test_colours_are_legible_on_white():
    for colour in (workflow_diagram.BORDER, workflow_diagram.LINE, workflow_diagram.ACCENT):
        assert contrast_ratio(colour, "#ffffff") >= 3
    for background in ("#ffffff", workflow_diagram.END_FILL):
        assert contrast_ratio(workflow_diagram.TEXT, background) >= 4.5


# --- the admin ---------------------------------------------------------------------------------
def test_the_overview_tab_shows_the_diagram_above_the_tables(editor):
    html = body(editor["client"].get(editor["url"], **NORTH))
    start = html.index("<svg", html.index("data-workflow-overview"))
    assert html.index("data-workflow-diagram") < html.index('<caption class="w-text-left')
    diagram = html[start:html.index("</svg>", start) + len("</svg>")]
    assert diagram.count("data-state=") == 6 and diagram.count("data-edge=") == 11
    assert 'aria-label="6 states, 6 steps; starts at Received; ends at Approved, Refused, ' \
           'Withdrawn."' in diagram


def test_the_overview_of_a_big_workflow_keeps_the_tables_only(editor):
    with tenant_context(editor["tenant"]):
        standard = Workflow.objects.get(pk=editor["workflow"].pk)
        standard.definition = chain(workflow_diagram.MAX_STATES + 1)
        standard.save()
    html = body(editor["client"].get(editor["url"], **NORTH))
    assert "data-workflow-overview" in html and "data-workflow-diagram" not in html
    assert "The diagram is drawn for workflows of up to 15 states" in html
    assert 'data-state="s15"' in html  # in the table

