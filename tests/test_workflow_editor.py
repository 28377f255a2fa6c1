"""The case workflow editor in Wagtail's admin: workflows are built from state and step blocks,
the definition the engine runs is derived from them and checked, a saved change is a new
version (new cases follow it, open cases keep theirs), a workflow that cannot work is refused
with the reasons shown and nothing saved, and existing JSON-only workflows open pre-filled."""

import copy
import importlib

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.utils import translation
from django_tenants.utils import tenant_context

from services.cases import engine
from services.models import Case, Workflow
from services.workflows import blocks as workflow_blocks
from services.workflows import spec as workflowspec
from services.workflows.models import DEFAULT_NAME

from .factories import (
    NORTH,
    WITH_VISIT,
    StaffFactory,
    SubmittedCaseFactory,
    WorkflowFactory,
    block_definition,
    block_state,
)

pytestmark = pytest.mark.django_db


def form_data(definition, name=DEFAULT_NAME):
    """What the snippet edit form posts for a workflow built with the editor's blocks."""
    data = {"name": name}
    for field, items in workflow_blocks.stream_data_from_definition(definition).items():
        data[f"{field}-count"] = str(len(items))
        for i, item in enumerate(items):
            prefix = f"{field}-{i}"
            data.update({f"{prefix}-type": item["type"], f"{prefix}-deleted": "",
                         f"{prefix}-order": str(i), f"{prefix}-id": ""})
            for key, value in item["value"].items():
                if value is True:
                    data[f"{prefix}-value-{key}"] = "on"
                elif value not in (False, []):
                    data[f"{prefix}-value-{key}"] = value
    return data


def body(response):
    return response.content.decode()


# --- blocks <-> definition ---------------------------------------------------------------------
def test_default_round_trips_through_the_editor_blocks():
    data = workflow_blocks.stream_data_from_definition(workflowspec.DEFAULT)
    assert workflow_blocks.definition_from_stream(data["states"], data["transitions"]) == \
        workflowspec.DEFAULT
    # The same through the model's StreamFields (what the admin form hands the model).
    built = Workflow(name="x", states=data["states"], transitions=data["transitions"])
    assert workflow_blocks.definition_from_stream(built.states, built.transitions) == \
        workflowspec.DEFAULT
    assert workflow_blocks.definition_from_stream(
        *workflow_blocks.stream_data_from_definition(WITH_VISIT).values()) == WITH_VISIT


def test_a_definition_set_in_code_is_shown_in_the_blocks(tenant_a):
    with tenant_context(tenant_a):
        standard = Workflow.default()
        assert workflow_blocks.definition_from_stream(standard.states, standard.transitions) \
            == standard.definition
        standard.definition = copy.deepcopy(WITH_VISIT)
        standard.save()
        standard.refresh_from_db()
        assert [s.value["code"] for s in standard.states][2] == "site_visit"
        assert workflow_blocks.definition_from_stream(standard.states, standard.transitions) \
            == WITH_VISIT
        assert standard.versions.order_by("-number").first().definition == WITH_VISIT


# --- the admin editor ----------------------------------------------------------------------
def test_editor_opens_pre_filled_with_an_overview_and_no_json_to_edit(editor):
    response = editor["client"].get(editor["url"], **NORTH)
    assert response.status_code == 200
    html = body(response)
    assert 'name="definition"' not in html
    for code in ("received", "more_info", "info_received", "withdraw"):
        assert code in html
    # The overview of the saved version: every state and step, who takes it, what it needs.
    assert "data-workflow-overview" in html
    assert 'data-state="more_info"' in html and 'data-step="refuse"' in html
    assert "Reason for the decision" in html
    assert "The applicant" in html  # info_received is the applicant's own step


def test_saving_in_the_admin_makes_a_version_new_cases_follow(editor):
    client, tenant = editor["client"], editor["tenant"]
    with tenant_context(tenant):
        old_case = SubmittedCaseFactory(service=editor["service"])
        first = old_case.workflow_version.number
    data = form_data(WITH_VISIT)
    data["definition"] = '{"initial": "nowhere"}'  # not a field of the form: ignored
    response = client.post(editor["url"], data, **NORTH)
    assert response.status_code == 302, body(response)
    overview = body(client.get(editor["url"], **NORTH))
    assert f"Version {first + 1} (saved" in overview and 'data-step="plan_visit"' in overview
    assert "no such group yet" in overview  # nobody made the Inspectors group in this tenant
    with tenant_context(tenant):
        standard = Workflow.objects.get(pk=editor["workflow"].pk)
        assert standard.definition == WITH_VISIT
        assert standard.versions.order_by("-number").first().number == first + 1
        inspector = StaffFactory(username="inspector",
                                 groups=["Inspectors", workflowspec.STAFF_GROUP])
        newer = SubmittedCaseFactory(service=editor["service"])
        assert newer.workflow_version.number == first + 1
        engine.take(newer.pk, "start_review", actor=inspector)
        engine.take(newer.pk, "plan_visit", actor=inspector, values={"note": "Tuesday"})
        assert Case.objects.get(pk=newer.pk).status == "site_visit"
        # The case already open keeps version 1, which has no site visit.
        engine.take(old_case.pk, "start_review", actor=inspector)
        with translation.override("en"), pytest.raises(engine.TransitionError,
                                                       match="no step"):
            engine.take(old_case.pk, "plan_visit", actor=inspector, values={"note": "x"})
        assert Case.objects.get(pk=old_case.pk).workflow_version.number == first
        versions = standard.versions.count()
    # Saving again without a change makes no new version.
    assert client.post(editor["url"], form_data(WITH_VISIT), **NORTH).status_code == 302
    with tenant_context(tenant):
        assert Workflow.objects.get(pk=editor["workflow"].pk).versions.count() == versions


def test_a_new_workflow_starts_as_a_copy_of_the_standard_one(editor):
    url = "/admin/snippets/services/workflow/add/"
    page = body(editor["client"].get(url, **NORTH))
    assert "info_received" in page and "data-workflow-overview" not in page
    response = editor["client"].post(url, form_data(WITH_VISIT, name="Building control"),
                                     **NORTH)
    assert response.status_code == 302, body(response)
    with tenant_context(editor["tenant"]):
        added = Workflow.objects.get(name="Building control")
        assert added.definition == WITH_VISIT
        assert added.versions.get().definition == WITH_VISIT


def _mutate(definition, *, state=None, transition=None, add_state=None, add_transition=None):
    changed = copy.deepcopy(definition)
    if state:
        code, values = state
        next(s for s in changed["states"] if s["code"] == code).update(values)
    if transition:
        code, values = transition
        next(t for t in changed["transitions"] if t["code"] == code).update(values)
    if add_state:
        changed["states"].append(add_state)
    if add_transition:
        changed["transitions"].append(add_transition)
    return changed


ORPHAN = {"code": "orphan", "label": {"ru": "Сирота", "en": "Orphan"}, "terminal": False,
          "clock": "runs"}


def _two_starts(definition):
    data = form_data(definition)
    data["states-1-value-initial"] = "on"
    return data


@pytest.mark.parametrize(("data", "message"), [
    (lambda: form_data(_mutate(workflowspec.DEFAULT, transition=("approve", {"to": "limbo"}))),
     "Transition “approve”: unknown target state “limbo”."),
    (lambda: form_data(_mutate(workflowspec.DEFAULT, transition=("refuse", {
        "from": ["received", "in_reveiw"]}))),
     "Transition “refuse”: unknown state “in_reveiw”."),
    (lambda: form_data(_mutate(workflowspec.DEFAULT, state=("refused", {"code": "approved"}))),
     "Two states have the same code."),
    (lambda: form_data({**workflowspec.DEFAULT, "states": [
        dict(s, terminal=False) for s in workflowspec.DEFAULT["states"]]}),
     "At least one state must end the case"),
    (lambda: form_data(_mutate(workflowspec.DEFAULT, add_state=ORPHAN)),
     "State “orphan” can never be reached."),
    (lambda: form_data(_mutate(workflowspec.DEFAULT, add_transition={
        "code": "reopen", "label": {"ru": "Открыть", "en": "Reopen"}, "from": ["refused"],
        "to": "in_review", "group": "Case workers", "requires": [], "notify": True})),
     "Transition “reopen”: “refused” ends the case; nothing can follow it."),
    (lambda: form_data(_mutate(workflowspec.DEFAULT, transition=("withdraw", {
        "code": "approve"}))),
     "Transition “approve”: the code is used twice."),
    (lambda: form_data({**workflowspec.DEFAULT, "initial": ""}),
     "Choose the state a new case starts in."),
    (lambda: _two_starts(workflowspec.DEFAULT),
     "New cases can start in one state only; untick “New cases start here” on all but one "
     "of: received, in_review."),
], ids=["unknown-target", "unknown-source", "duplicate-state", "no-end", "unreachable",
        "after-the-end", "duplicate-step", "no-start", "two-starts"])
def test_a_workflow_that_cannot_work_is_refused_with_the_reason_and_not_saved(editor, data,
                                                                              message):
    with tenant_context(editor["tenant"]):
        before = Workflow.objects.get(pk=editor["workflow"].pk)
        versions = before.versions.count()
    response = editor["client"].post(editor["url"], data(), **NORTH)
    assert response.status_code == 200
    html = body(response)
    assert "could not be saved" in html
    assert message in html, html[html.find("errorlist"):][:1500]
    with tenant_context(editor["tenant"]):
        after = Workflow.objects.get(pk=editor["workflow"].pk)
        assert after.definition == before.definition == workflowspec.DEFAULT
        assert list(after.states.raw_data) == list(before.states.raw_data)
        assert after.versions.count() == versions


def test_a_change_that_would_break_a_service_s_automatic_rule_is_refused(editor):
    with tenant_context(editor["tenant"]):
        service = editor["service"]
        service.rules = [{"name": "Small house", "when": {"<=": [{"var": "floors"}, 3]},
                          "then": "approve"}]
        service.save()
        versions = editor["workflow"].versions.count()
    # Approving only after review: a new case could no longer be approved by the rule.
    data = form_data(_mutate(workflowspec.DEFAULT, transition=("approve", {
        "from": ["in_review"]})))
    response = editor["client"].post(editor["url"], data, **NORTH)
    assert response.status_code == 200
    assert "has the automatic rule “Small house”, which takes the step “approve”" in body(response)
    with tenant_context(editor["tenant"]):
        assert Workflow.objects.get(pk=editor["workflow"].pk).versions.count() == versions
    # Without the rule the same change is fine.
    with tenant_context(editor["tenant"]):
        service.rules = []
        service.save()
    assert editor["client"].post(editor["url"], data, **NORTH).status_code == 302


def test_a_block_error_is_shown_on_the_block_and_nothing_saved(editor):
    with tenant_context(editor["tenant"]):
        versions = Workflow.objects.get(pk=editor["workflow"].pk).versions.count()
    data = form_data(workflowspec.DEFAULT)
    data["states-2-value-code"] = "More Info"
    data["states-3-value-label_en"] = ""
    response = editor["client"].post(editor["url"], data, **NORTH)
    assert response.status_code == 200
    html = body(response)
    assert "could not be saved" in html
    # Shown against the block (the StreamField's error data); the whole-workflow messages
    # about the half-read workflow wait until the block is right.
    assert "Use a-z, 0-9 and _, starting with a letter (at most 40 characters)." in html
    assert "This field is required." in html
    assert "unknown state" not in html
    with tenant_context(editor["tenant"]):
        assert Workflow.objects.get(pk=editor["workflow"].pk).versions.count() == versions


# --- the data migration -----------------------------------------------------------------------
def test_the_data_migration_fills_the_blocks_of_a_json_only_workflow(tenant_a):
    from django.db.migrations.executor import MigrationExecutor

    migration = importlib.import_module("services.migrations.0004_workflow_builder")
    with tenant_context(tenant_a):
        legacy = WorkflowFactory(name="Legacy", definition=copy.deepcopy(WITH_VISIT))
        # As a row from before the editor: a definition and no blocks.
        Workflow.objects.filter(pk=legacy.pk).update(states=[], transitions=[])
        assert len(Workflow.objects.get(pk=legacy.pk).states) == 0
        state = MigrationExecutor(connection).loader.project_state(
            ("services", "0004_workflow_builder"))
        migration.fill_blocks(state.apps, None)
        filled = Workflow.objects.get(pk=legacy.pk)
        assert [s.value["code"] for s in filled.states] == [
            s["code"] for s in WITH_VISIT["states"]]
        assert workflow_blocks.definition_from_stream(filled.states, filled.transitions) \
            == WITH_VISIT
        assert filled.definition == WITH_VISIT and filled.versions.count() == 1


# --- states and groups chosen from lists (issue 12) ---------------------------------------------
def test_steps_choose_states_and_groups_from_lists(editor):
    with tenant_context(editor["tenant"]):
        Group.objects.get_or_create(name="Инспекторы")
    html = body(editor["client"].get(editor["url"], **NORTH))
    definition = block_definition(html, "transitions")
    assert "dgbox.widgets.ChooserCheckboxes" in definition  # from states: ticked
    assert "dgbox.widgets.ChooserSelect" in definition  # to state, taken by: chosen
    for group in (workflowspec.STAFF_GROUP, "Инспекторы", "The applicant (their own step"):
        assert group in definition, group
    steps = block_state(html, "transitions")[0]
    refuse = next(step["value"] for step in steps if step["value"]["code"] == "refuse")
    assert refuse["from_states"] == "received, in_review"
    assert refuse["to_state"] == ["refused"] and refuse["group"] == [workflowspec.STAFF_GROUP]


def test_ticked_states_save_as_the_codes_they_were(editor):
    changed = _mutate(workflowspec.DEFAULT, transition=("withdraw", {"from": ["received",
                                                                             "more_info"]}))
    data = form_data(changed)
    index = [t["code"] for t in changed["transitions"]].index("withdraw")
    # One value per ticked box, as the browser posts them.
    data[f"transitions-{index}-value-from_states"] = ["received", "more_info"]
    response = editor["client"].post(editor["url"], data, **NORTH)
    assert response.status_code == 302, body(response)[-2000:]
    with tenant_context(editor["tenant"]):
        assert Workflow.objects.get(pk=editor["workflow"].pk).definition == changed


@pytest.mark.parametrize(("data", "field", "index", "part", "message"), [
    (lambda: form_data(_mutate(workflowspec.DEFAULT, transition=("approve", {"to": "limbo"}))),
     "transitions", "3", "to_state", "Transition “approve”: unknown target state “limbo”."),
    (lambda: form_data(_mutate(workflowspec.DEFAULT, add_transition={
        "code": "reopen", "label": {"ru": "Открыть", "en": "Reopen"}, "from": ["refused"],
        "to": "in_review", "group": "Case workers", "requires": [], "notify": True})),
     "transitions", "6", "from_states",
     "Transition “reopen”: “refused” ends the case; nothing can follow it."),
    (lambda: _two_starts(workflowspec.DEFAULT), "states", "1", "initial",
     "New cases can start in one state only"),
    (lambda: form_data(_mutate(workflowspec.DEFAULT, add_state=ORPHAN)), "states", "6", None,
     "State “orphan” can never be reached."),
], ids=["unknown-target", "after-the-end", "two-starts", "unreachable"])
def test_a_problem_is_also_shown_on_the_block_where_it_was_made(editor, data, field, index,
                                                                  part, message):
    response = editor["client"].post(editor["url"], data(), **NORTH)
    assert response.status_code == 200
    html = body(response)
    assert message in html  # listed at the top, as before
    error = block_state(html, field)[1]["blockErrors"][index]
    shown = error["blockErrors"][part]["messages"] if part else error["messages"]
    assert any(message in text for text in shown), error
