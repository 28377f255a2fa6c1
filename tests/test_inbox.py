"""The staff inbox and case detail in Wagtail's admin: filters and search narrow correctly
(the search term posted, never in a URL, and audited as a keyed hash),
bulk assignment writes one event per case, next actions go through the case engine with
refusals shown as messages (wrong state, wrong group, missing field, somebody else first),
notes, decision reviews and exports are recorded, query counts do not grow with the number
of rows, and a case id of another tenant is a 404."""

import json
import re
import uuid
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import tenant_context

from services.models import (
    AutomatedDecision,
    Case,
    CaseEvent,
    CaseNote,
    UploadedFile,
)
from services.workflows import spec as workflowspec
from tenants.audit.models import AuditEvent
from tenants.audit.service import keyed_hash

from .factories import (
    NORTH,
    SOUTH,
    OnlineServiceFactory,
    StaffFactory,
    WorkflowFactory,
    make_cases,
)

pytestmark = pytest.mark.django_db
SIMPLE = [{"type": "text", "name": "purpose", "label": "Purpose", "required": True}]
REF = re.compile(r"\bINB-\d{4}-\d{6}\b")  # the references make_cases gives


def make_staff(username, *, group=True, view=True, language="en"):
    """A member of staff in the admin (in `language`), who can see cases when `view`, in the
    standard workflow's group when `group`."""
    return StaffFactory(
        username=username, first_name=username.title(), admin_language=language,
        permissions=["wagtailadmin.access_admin", *(["services.view_case"] if view else [])],
        groups=[workflowspec.STAFF_GROUP] if group else [])


@pytest.fixture
def north(tenant_a):
    """Two services and three members of staff on tenant A: two case workers (Ann reads the
    admin in English, Bob in Russian) and one who can see cases but is not in the workflow's
    group."""
    with tenant_context(tenant_a):
        permit = OnlineServiceFactory(spec=SIMPLE)
        trading = OnlineServiceFactory(slug="street-trading", spec=SIMPLE)
        ann, bob = make_staff("ann"), make_staff("bob", language="ru")
        outsider = make_staff("olga", group=False)
    connection.set_schema_to_public()
    return {"permit": permit, "trading": trading, "ann": ann, "bob": bob, "olga": outsider,
            "tenant": tenant_a}


def login(client, tenant, user):
    with tenant_context(tenant):
        client.force_login(user)


def listed(client, path="/admin/cases/", **params):
    response = client.get(path, params, **NORTH)
    assert response.status_code == 200, response.status_code
    return set(REF.findall(response.content.decode()))


def refs(cases):
    return {c.reference for c in cases}


def body(response):
    return response.content.decode()


# --- Inbox ------------------------------------------------------------------------------------


def test_inbox_lists_open_cases_most_urgent_first(client, north):
    today = timezone.localdate()
    with tenant_context(north["tenant"]):
        late, soon, later = make_cases(north["permit"], 3, each=lambda i: {
            "due_date": today + timedelta(days=[-3, 1, 30][i])})
        undated = make_cases(north["permit"], 1, due_date=None)[0]
        closed = make_cases(north["permit"], 1, status="approved", closed_at=timezone.now())[0]
    login(client, north["tenant"], north["ann"])
    html = body(client.get("/admin/cases/", **NORTH))
    order = list(dict.fromkeys(REF.findall(html)))
    assert order == [late.reference, soon.reference, later.reference, undated.reference]
    assert closed.reference not in html
    assert html.count("dgbox-badge dgbox-badge--overdue") == 1  # the late case's badge
    # The state label from the case's workflow version, in Ann's language, then Bob's.
    assert len(re.findall(r"<td\s*>\s*Received\s*</td>", html)) == 4
    login(client, north["tenant"], north["bob"])
    russian = body(client.get("/admin/cases/", **NORTH))
    assert len(re.findall(r"<td\s*>\s*Получено\s*</td>", russian)) == 4


def test_each_filter_narrows_the_list(client, north):
    today = timezone.localdate()
    ann, bob = north["ann"], north["bob"]
    with tenant_context(north["tenant"]):
        permit = make_cases(north["permit"], 2)
        trading = make_cases(north["trading"], 2)
        in_review = make_cases(north["permit"], 1, status="in_review")
        mine = make_cases(north["permit"], 1, assignee=ann)
        bobs = make_cases(north["permit"], 1, assignee=bob)
        overdue_by_date = make_cases(north["permit"], 1, due_date=today - timedelta(days=1))
        overdue_flagged = make_cases(north["permit"], 1, sla_flag="overdue")
        paused = make_cases(north["permit"], 1, status="more_info", paused_since=today,
                            due_date=today - timedelta(days=2))
        nearing = make_cases(north["permit"], 1, due_date=today)
        by_phone = make_cases(north["trading"], 1, channel="phone")
        closed = make_cases(north["permit"], 1, status="refused", closed_at=timezone.now())
    everything_open = (refs(permit) | refs(trading) | refs(in_review) | refs(mine) | refs(bobs)
                       | refs(overdue_by_date) | refs(overdue_flagged) | refs(paused)
                       | refs(nearing) | refs(by_phone))
    login(client, north["tenant"], ann)
    assert listed(client) == everything_open
    assert listed(client, service=north["trading"].pk) == refs(trading) | refs(by_phone)
    assert listed(client, status="in_review") == refs(in_review)
    assert listed(client, status=["in_review", "more_info"]) == refs(in_review) | refs(paused)
    assert listed(client, assignee="me") == refs(mine)
    assert listed(client, assignee=bob.pk) == refs(bobs)
    assert listed(client, assignee="none") == everything_open - refs(mine) - refs(bobs)
    assert listed(client, deadline="overdue") == refs(overdue_by_date) | refs(overdue_flagged)
    assert listed(client, deadline="nearing") == refs(nearing)
    assert listed(client, channel="phone") == refs(by_phone)
    assert listed(client, closed="closed") == refs(closed)
    assert listed(client, closed="all") == everything_open | refs(closed)
    assert listed(client, service=north["permit"].pk, assignee="me") == refs(mine)
    # The results-only view (what the filter drawer fetches) narrows the same way.
    assert listed(client, "/admin/cases/results/", channel="phone") == refs(by_phone)
    # A value that is not a choice is ignored, never an error, and closed cases stay hidden.
    assert listed(client, channel="pigeon") == everything_open


def searched(client, text, **params):
    """The references the inbox lists after searching for `text` (posted, never in a URL),
    with `params` (filters) added to the inbox's address."""
    response = client.post("/admin/cases/search/", {"q": text}, **NORTH)
    assert response.status_code == 302, response.status_code
    location = response["Location"]
    assert text.lower() not in location.lower() and location.startswith("/admin/cases/?search=")
    token = location.split("search=", 1)[1]
    return listed(client, search=token, **params)


def test_search_by_reference_and_by_applicant(client, north):
    with tenant_context(north["tenant"]):
        cases = make_cases(north["permit"], 4, each=lambda i: {
            "applicant_name": ["Анна Иванова", "Пётр Сидоров", "Anna Smith", "Ivan"][i],
            "applicant_email": ["anna@example.org", "petr@example.org", "asmith@mail.example",
                                "ivan@example.org"][i]})
        closed = make_cases(north["permit"], 1, applicant_name="Анна Иванова",
                            status="approved", closed_at=timezone.now())[0]
    login(client, north["tenant"], north["ann"])
    target = cases[1].reference
    assert searched(client, target) == {target}
    assert searched(client, target.lower()) == {target}  # references are case-insensitive
    assert searched(client, target[-6:]) == {target}  # the number alone
    assert searched(client, "Иванова") == {cases[0].reference}
    assert searched(client, "anna") == {cases[0].reference, cases[2].reference}  # name or email
    assert searched(client, "ASMITH@MAIL") == {cases[2].reference}
    assert searched(client, "Иванова", closed="all") == {cases[0].reference, closed.reference}
    assert searched(client, "nobody-like-this") == set()
    assert searched(client, "x" * 5000) == set()
    # A term in the URL (an old bookmark, Wagtail's own search box) searches nothing.
    assert listed(client, q="Иванова") == listed(client)
    # Another session cannot use the token, nor can anyone once it has expired.
    token = client.post("/admin/cases/search/", {"q": "Иванова"}, **NORTH)["Location"]
    token = token.split("search=", 1)[1]
    other = Client()
    login(other, north["tenant"], north["ann"])
    assert listed(other, search=token) == listed(other)
    session = client.session
    session["dgbox_inbox_searches"][token]["at"] -= 31 * 60
    session.save()
    expired = client.get("/admin/cases/", {"search": token}, **NORTH).content.decode()
    assert "That search has expired" in expired
    # Clearing goes back to the whole inbox.
    cleared = client.post("/admin/cases/search/", {"q": "anna", "clear": "1"}, **NORTH)
    assert cleared["Location"] == "/admin/cases/"


def test_searches_are_audited_without_the_term(client, north):
    login(client, north["tenant"], north["ann"])
    client.post("/admin/cases/search/", {"q": "Анна  Иванова"}, **NORTH)
    with tenant_context(north["tenant"]):
        event = AuditEvent.objects.filter(kind="inbox_searched").latest("id")
    assert event.actor_id == north["ann"].pk
    assert event.details == {"query_hash": keyed_hash("Анна Иванова"), "length": 12}
    assert "Иванова" not in str(event.__dict__)


@pytest.mark.parametrize("text", ["Иванова", "anna"])
def test_search_by_name_or_email_can_use_the_trigram_indexes(north, text):
    """The indexes match the expressions the search writes (UPPER(col) LIKE ...): with
    sequential scans off, PostgreSQL answers from them. On a handful of rows it would not
    choose them on its own; bench/inbox.py measures the difference at 100,000 cases."""
    from services.cases import query

    with tenant_context(north["tenant"]):
        found = query.search(Case.objects.order_by(), text)
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            plan = found.explain()
            cursor.execute("SET LOCAL enable_seqscan = on")
    assert "case_name_trgm_idx" in plan and "case_email_trgm_idx" in plan, plan
    assert "Seq Scan" not in plan, plan


def test_bulk_assign_writes_one_event_per_case(client, north):
    with tenant_context(north["tenant"]):
        cases = make_cases(north["permit"], 4)
        untouched = make_cases(north["permit"], 1)[0]
    chosen = [c.pk for c in cases]
    login(client, north["tenant"], north["ann"])
    page = body(client.get("/admin/cases/", **NORTH))
    assert 'name="case"' in page and 'id="bulk-assignee"' in page and "Bob" in page
    response = client.post("/admin/cases/assign/", {
        "case": [str(pk) for pk in chosen], "assignee": str(north["bob"].pk),
        "next": "/admin/cases/?channel=online"}, **NORTH)
    assert response.status_code == 302 and response["Location"] == "/admin/cases/?channel=online"
    with tenant_context(north["tenant"]):
        assert set(Case.objects.filter(assignee=north["bob"]).values_list("pk", flat=True)) \
            == set(chosen)
        events = CaseEvent.objects.filter(kind="assigned")
        assert sorted(events.values_list("case_id", flat=True)) == sorted(chosen)
        assert {e.data["assignee"] for e in events} == {north["bob"].pk}
        assert {e.actor_id for e in events} == {north["ann"].pk}
        assert Case.objects.get(pk=untouched.pk).assignee is None
    # To me, then nobody; a user who does not work on cases is refused.
    client.post("/admin/cases/assign/", {"case": [chosen[0]], "assignee": "me"}, **NORTH)
    client.post("/admin/cases/assign/", {"case": [chosen[1]], "assignee": ""}, **NORTH)
    with tenant_context(north["tenant"]):
        stranger = get_user_model().objects.create_user("stranger")
    refused = client.post("/admin/cases/assign/", {"case": [chosen[2]],
                                                   "assignee": str(stranger.pk)}, **NORTH)
    assert refused.status_code == 302
    assert "staff" in body(client.get(refused["Location"], **NORTH))  # the error message
    with tenant_context(north["tenant"]):
        assert Case.objects.get(pk=chosen[0]).assignee == north["ann"]
        assert Case.objects.get(pk=chosen[1]).assignee is None
        assert Case.objects.get(pk=chosen[2]).assignee == north["bob"]
        assert CaseEvent.objects.filter(kind="assigned").count() == 6


def test_only_staff_who_can_view_cases_reach_the_inbox(client, north):
    with tenant_context(north["tenant"]):
        case = make_cases(north["permit"], 1)[0]
        clerk = make_staff("clerk", view=False, group=False)
    assert client.get("/admin/cases/", **NORTH).status_code == 302  # anonymous: login
    login(client, north["tenant"], clerk)
    for method, path in (("get", "/admin/cases/"), ("get", f"/admin/cases/{case.pk}/"),
                         ("post", "/admin/cases/assign/"),
                         ("post", f"/admin/cases/{case.pk}/steps/start_review/")):
        response = getattr(client, method)(path, {"case": case.pk, "assignee": "me",
                                                  "expected_state": "received"}, **NORTH)
        assert response.status_code in (302, 403), path
        assert "/admin/cases" not in response.get("Location", "")
    assert "/admin/cases/" not in body(client.get("/admin/", **NORTH))  # no menu item
    with tenant_context(north["tenant"]):
        assert Case.objects.get(pk=case.pk).status == "received"
        assert not CaseEvent.objects.filter(case=case).exists()


def _count_queries(client, path):
    """The page's queries, without the routing's `SET search_path` (made only when the
    connection was left on another schema, as the test's own tenant_context does)."""
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path, **NORTH)
    assert response.status_code == 200
    return [q["sql"] for q in captured.captured_queries
            if not q["sql"].startswith("SET search_path")], response


def assert_same_queries(few, many):
    """The same number of queries; on failure, the ones that differ."""
    shapes = [re.sub(r"\b\d+\b", "N", q)[:160] for q in few]
    extra = [re.sub(r"\b\d+\b", "N", q)[:160] for q in many]
    for q in shapes:
        if q in extra:
            extra.remove(q)
    assert len(many) == len(few), extra


@pytest.mark.parametrize("path", ["/admin/cases/", "/admin/cases/?closed=all&search=example",
                                  "/admin/cases/results/?deadline=overdue&channel=online"])
def test_inbox_queries_do_not_grow_with_rows(client, north, path, django_assert_max_num_queries):
    today = timezone.localdate()
    staff = [north["ann"], north["bob"], None]
    services = [north["permit"], north["trading"]]

    def spread(i):
        return {"assignee": staff[i % 3], "service": services[i % 2],
                "status": ["received", "in_review", "more_info"][i % 3],
                "due_date": today - timedelta(days=i % 5 - 2),
                "channel": ["online", "office", "phone"][i % 3]}

    with tenant_context(north["tenant"]):
        make_cases(north["permit"], 5, each=spread)
        other = WorkflowFactory(name="Other")
    login(client, north["tenant"], north["ann"])
    if "search=" in path:  # a search's token, from posting the term
        location = client.post("/admin/cases/search/", {"q": "example"}, **NORTH)["Location"]
        path = "/admin/cases/?closed=all&" + location.split("?", 1)[1]
    client.get(path, **NORTH)  # warm per-process caches (site, menu)
    few, response = _count_queries(client, path)
    assert len(REF.findall(body(response))) >= 1
    with tenant_context(north["tenant"]):
        cases = make_cases(north["permit"], 55, each=spread)
        Case.objects.filter(pk__in=[c.pk for c in cases[::2]]).update(
            workflow_version=other.current_version())
    many, response = _count_queries(client, path)
    assert_same_queries(few, many)
    with django_assert_max_num_queries(len(few)):
        client.get(path, **NORTH)
    assert len(set(REF.findall(body(response)))) > 5 or "results" in path


# --- Case detail and next actions --------------------------------------------------------


@pytest.fixture
def north_case(north):
    with tenant_context(north["tenant"]):
        return make_cases(north["permit"], 1, applicant_name="Анна Иванова",
                          applicant_email="anna@example.org", applicant_phone="+79001234567")[0]


def step(client, case, code, host=NORTH, **values):
    return client.post(f"/admin/cases/{case.pk}/steps/{code}/", values, **host)


def status_of(north, case):
    with tenant_context(north["tenant"]):
        return Case.objects.get(pk=case.pk).status


def test_detail_shows_the_case_and_its_next_actions(client, north, north_case):
    with tenant_context(north["tenant"]):
        CaseNote.objects.create(case=north_case, text="Please send the plan", kind="request")
        CaseNote.objects.create(case=north_case, text="Here it is", kind="answer")
        CaseEvent.objects.create(case=north_case, kind="submitted", actor_role="applicant",
                                 public=True, data={"channel": "online", "form_version": 1})
    login(client, north["tenant"], north["ann"])
    response = client.get(f"/admin/cases/{north_case.pk}/", **NORTH)
    assert response.status_code == 200
    html = body(response)
    for text in (north_case.reference, "Анна Иванова", "anna@example.org", "+79001234567",
                 "purpose 0", "Please send the plan", "Here it is",
                 'data-transition="start_review"', 'data-transition="refuse"',
                 'name="expected_state" value="received"', 'name="reason"', "Assign to me",
                 "Start review", "Request more information"):
        assert text in html, text
    assert 'data-transition="info_received"' not in html  # the applicant's step


def test_transition_succeeds_and_is_recorded(client, north, north_case):
    login(client, north["tenant"], north["ann"])
    response = step(client, north_case, "start_review", expected_state="received")
    assert response.status_code == 302 and response["Location"] == \
        f"/admin/cases/{north_case.pk}/"
    page = body(client.get(response["Location"], **NORTH))
    assert 'data-case-state="in_review"' in page
    response = step(client, north_case, "refuse", expected_state="in_review",
                    reason="The plan is missing.")
    assert response.status_code == 302
    with tenant_context(north["tenant"]):
        case = Case.objects.get(pk=north_case.pk)
        assert case.status == "refused" and case.closed_at is not None
        assert case.decision_reason == "The plan is missing."
        moves = list(CaseEvent.objects.filter(case=case, kind="status").order_by("id"))
        assert [(e.data["from"], e.data["to"], e.actor_id) for e in moves] == [
            ("received", "in_review", north["ann"].pk), ("in_review", "refused", north["ann"].pk)]
    html = body(client.get(f"/admin/cases/{north_case.pk}/", **NORTH))
    assert "data-transition=" not in html  # closed: nothing left to do


def test_illegal_transition_is_a_clear_message(client, north, north_case):
    login(client, north["tenant"], north["ann"])
    step(client, north_case, "start_review", expected_state="received")
    response = step(client, north_case, "start_review", expected_state="in_review")
    assert response.status_code == 400
    html = body(response)
    assert "“Start review” cannot be taken while the case is “Being reviewed”." in html
    assert status_of(north, north_case) == "in_review"
    assert step(client, north_case, "no_such_step", expected_state="x").status_code == 404


def test_member_of_staff_outside_the_group_is_refused(client, north, north_case):
    login(client, north["tenant"], north["olga"])
    page = body(client.get(f"/admin/cases/{north_case.pk}/", **NORTH))
    assert "data-transition=" not in page  # no actions offered
    response = step(client, north_case, "approve", expected_state="received")
    assert response.status_code == 400
    assert f"Only members of “{workflowspec.STAFF_GROUP}” can take this step." in body(response)
    assert status_of(north, north_case) == "received"


def test_required_field_missing_keeps_the_case_and_says_what_to_fill(client, north,
                                                                     north_case):
    login(client, north["tenant"], north["ann"])
    response = step(client, north_case, "refuse", expected_state="received", reason="   ")
    assert response.status_code == 400
    html = body(response)
    assert "Fill in: Reason for the decision." in html
    assert status_of(north, north_case) == "received"
    # What was typed is kept when the form comes back with its error.
    response = step(client, north_case, "withdraw", expected_state="received", note="x" * 4001)
    assert response.status_code == 400 and "x" * 4001 in body(response)
    assert status_of(north, north_case) == "received"


def test_two_staff_at_once_the_second_gets_a_conflict(client, north, north_case):
    from django.test import Client

    other = Client()
    login(client, north["tenant"], north["ann"])
    login(other, north["tenant"], north["bob"])
    # Both open the case while it is "received"...
    for c in (client, other):
        assert 'name="expected_state" value="received"' in body(
            c.get(f"/admin/cases/{north_case.pk}/", **NORTH))
    # ...Bob starts the review first; Ann's approval was decided on what she saw.
    assert step(other, north_case, "start_review", expected_state="received").status_code == 302
    response = step(client, north_case, "approve", expected_state="received")
    assert response.status_code == 409
    html = body(response)
    assert "Someone else changed this case while you were looking at it" in html
    assert 'data-case-state="in_review"' in html  # she now sees the current state
    assert status_of(north, north_case) == "in_review"


def test_note_added_and_shown(client, north, north_case):
    login(client, north["tenant"], north["ann"])
    response = client.post(f"/admin/cases/{north_case.pk}/notes/",
                           {"text": "Called the applicant."}, **NORTH)
    assert response.status_code == 302
    with tenant_context(north["tenant"]):
        note = CaseNote.objects.get(case=north_case)
        assert note.kind == "internal" and note.author == north["ann"]
        event = CaseEvent.objects.get(case=north_case, kind="note")
        assert event.data == {"note": note.pk} and event.actor == north["ann"]
    assert "Called the applicant." in body(client.get(f"/admin/cases/{north_case.pk}/",
                                                      **NORTH))
    empty = client.post(f"/admin/cases/{north_case.pk}/notes/", {"text": " "}, **NORTH)
    assert empty.status_code == 400
    with tenant_context(north["tenant"]):
        assert CaseNote.objects.filter(case=north_case).count() == 1


def test_assign_to_me_from_the_case(client, north, north_case):
    login(client, north["tenant"], north["bob"])
    response = client.post(f"/admin/cases/{north_case.pk}/assign/", {"assignee": "me"}, **NORTH)
    assert response.status_code == 302
    with tenant_context(north["tenant"]):
        assert Case.objects.get(pk=north_case.pk).assignee == north["bob"]
        assert CaseEvent.objects.get(case=north_case, kind="assigned").actor == north["bob"]
    assert "Bob" in body(client.get(f"/admin/cases/{north_case.pk}/", **NORTH))


def test_automated_decision_shown_and_marked_reviewed_once(client, north, north_case):
    with tenant_context(north["tenant"]):
        decision = AutomatedDecision.objects.create(
            case=north_case, rule_name="Small house",
            rule={"name": "Small house", "when": {"<=": [{"var": "floors"}, 3]},
                  "then": "approve"}, inputs={"floors": 2}, outcome="approve")
    login(client, north["tenant"], north["ann"])
    html = body(client.get(f"/admin/cases/{north_case.pk}/", **NORTH))
    assert "Small house" in html and "<code>floors</code> = 2" in html
    assert "{&quot;&lt;=&quot;: [{&quot;var&quot;: &quot;floors&quot;}, 3]}" in html  # as JSON
    url = f"/admin/cases/{north_case.pk}/decisions/{decision.pk}/review/"
    assert client.post(url, **NORTH).status_code == 302
    assert client.post(url, **NORTH).status_code == 302  # twice: recorded once
    with tenant_context(north["tenant"]):
        decision.refresh_from_db()
        assert decision.reviewed_by == north["ann"] and decision.reviewed_at is not None
        events = CaseEvent.objects.filter(case=north_case, kind="auto_decision")
        assert [e.data.get("reviewed") for e in events] == [True]


def test_export_downloads_the_case_and_is_recorded(client, north, north_case):
    login(client, north["tenant"], north["ann"])
    assert client.get(f"/admin/cases/{north_case.pk}/export/", **NORTH).status_code == 405
    response = client.post(f"/admin/cases/{north_case.pk}/export/", **NORTH)
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert "attachment" in response["Content-Disposition"]
    assert "no-store" in response["Cache-Control"] or "no-cache" in response["Cache-Control"]
    data = json.loads(response.content)
    assert data["reference"] == north_case.reference
    assert data["applicant"]["email"] == "anna@example.org"
    assert data["answers"] == {"purpose": "purpose 0"}
    with tenant_context(north["tenant"]):
        event = CaseEvent.objects.get(case=north_case, kind="exported")
        assert event.actor == north["ann"] and event.data == {"format": "json"}


def test_detail_queries_do_not_grow_with_history(client, north, north_case,
                                                 django_assert_max_num_queries):
    path = f"/admin/cases/{north_case.pk}/"

    def add(i):
        CaseNote.objects.create(case=north_case, text=f"note {i}", author=north["bob"])
        CaseEvent.objects.create(case=north_case, kind="assigned", actor=north["ann"],
                                 data={"assignee": north["bob"].pk})
        AutomatedDecision.objects.create(case=north_case, rule_name=f"r{i}", rule={},
                                         inputs={"x": i}, outcome="approve",
                                         reviewed_by=north["bob"] if i % 2 else None,
                                         reviewed_at=timezone.now() if i % 2 else None)
        UploadedFile.objects.create(case=north_case, field_name="plan", size=10,
                                    storage_name=f"uploads/x/{uuid.uuid4().hex}.pdf",
                                    original_name=f"plan-{i}.pdf", extension="pdf",
                                    content_type="application/pdf", sha256="0" * 64)

    with tenant_context(north["tenant"]):
        add(0)
    login(client, north["tenant"], north["ann"])
    client.get(path, **NORTH)
    few, _response = _count_queries(client, path)
    with tenant_context(north["tenant"]):
        for i in range(1, 15):
            add(i)
    many, response = _count_queries(client, path)
    assert_same_queries(few, many)
    with django_assert_max_num_queries(len(few)):
        client.get(path, **NORTH)
    assert "note 14" in body(response)


# --- Tenants ---------------------------------------------------------------------------------


def test_a_case_id_of_another_tenant_is_a_404(client, north, north_case, tenant_b):
    with tenant_context(tenant_b):
        assert not Case.objects.filter(pk=north_case.pk).exists()
        boss = get_user_model().objects.create_superuser("boss", "boss@south.example", "x")
        client.force_login(boss)
    for method, path in (("get", f"/admin/cases/{north_case.pk}/"),
                         ("post", f"/admin/cases/{north_case.pk}/steps/approve/"),
                         ("post", f"/admin/cases/{north_case.pk}/notes/"),
                         ("post", f"/admin/cases/{north_case.pk}/assign/"),
                         ("post", f"/admin/cases/{north_case.pk}/export/")):
        response = getattr(client, method)(path, {"expected_state": "received", "text": "x",
                                                  "assignee": "me"}, **SOUTH)
        assert response.status_code == 404, path
    inbox = body(client.get("/admin/cases/", {"closed": "all"}, **SOUTH))
    assert north_case.reference not in inbox
    # Bulk assign with A's id on B touches nothing on A.
    client.post("/admin/cases/assign/", {"case": [north_case.pk], "assignee": "me"}, **SOUTH)
    with tenant_context(north["tenant"]):
        assert Case.objects.get(pk=north_case.pk).assignee is None
        assert not CaseEvent.objects.filter(case=north_case).exists()


def test_a_launched_tenant_has_the_case_workers_group_and_membership_is_enough(client,
                                                                              tenant_b):
    """Made by a migration in the template every tenant is launched from: a member of staff
    added to "Case workers" signs in to the admin and works the inbox, nothing else to set."""
    with tenant_context(tenant_b):
        group = Group.objects.get(name=workflowspec.STAFF_GROUP)
        assert {"access_admin", "view_case"} <= set(
            group.permissions.values_list("codename", flat=True))
        user = get_user_model().objects.create_user("newcomer", "n@south.example", "x")
        user.groups.add(group)
        client.force_login(user)
    assert client.get("/admin/cases/", **SOUTH).status_code == 200
    with tenant_context(tenant_b):
        user.groups.clear()
    assert client.get("/admin/cases/", **SOUTH).status_code in (302, 403)
