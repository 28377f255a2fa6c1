"""The Digital Government Assessment (issue 17; services/assessment/, docs/assessment.md).

- The shipped model file is valid: eight dimensions, levels 1-5 with criteria in English and
  Russian, automatic indicators naming known measures with increasing thresholds; a broken
  file is refused with a message naming the place.
- Scores: a dimension is the mean of its assessed indicators, the overall the mean of the
  assessed dimensions; not assessed is left out, never zero.
- Automatic measures on constructed data: 2FA coverage from real django-otp devices, take-up
  from KPI snapshot rows.
- The workflow: the approver differs from the submitter; an approved round is frozen; the
  public copy is written; audit events of each step.
- The admin screens and the console comparison (scoped by region); bad input is a form error,
  never a 500.
"""

import copy
import datetime
import json
import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_tenants.utils import tenant_context
from wagtail.models import Page

from services.assessment import framework, measures, workflow
from services.assessment.models import Answer, Round
from services.assessment.scoring import score
from services.kpis.models import KpiSnapshot
from tenants.audit.models import AuditEvent, Kind
from tenants.models import AssessmentResult

from .factories import NORTH, StaffFactory

pytestmark = pytest.mark.django_db
MODEL_FILE = framework.MODEL_DIR / "v1.json"
DIMENSIONS = ["leadership", "user_focus", "processes", "analytics", "registers",
              "infrastructure", "skills", "security"]


# --- The model file ---------------------------------------------------------------------------

def test_shipped_model_is_valid_and_has_the_eight_dimensions():
    model = framework.load(MODEL_FILE, set(measures.MEASURES))
    assert model.version == 1
    assert [d.code for d in model.dimensions] == DIMENSIONS
    for dimension in model.dimensions:
        assert dimension.reference and len(dimension.indicators) >= 2
        assert any(not i.automatic for i in dimension.indicators)
        for indicator in dimension.indicators:
            assert len(indicator.levels) == 5
            assert all(level["ru"] and level["en"] for level in indicator.levels)
            assert indicator.code.startswith(dimension.code + ".")
    automatic = {i.measure for i in model.indicators() if i.automatic}
    assert automatic == set(measures.MEASURES)  # every measure is used, none is unknown
    assert framework.current() == model


@pytest.mark.parametrize("break_it, complaint", [
    (lambda raw: raw["dimensions"][0]["indicators"][0]["levels"].pop(), "levels 1 to 5"),
    (lambda raw: raw["dimensions"][1]["indicators"][1].update(thresholds=[0.5, 0.4, 0.6, 0.8]),
     "strictly increasing"),
    (lambda raw: raw["dimensions"][1]["indicators"][1].update(measure="guesswork"),
     "unknown measure"),
    (lambda raw: raw["dimensions"][0]["indicators"][0].update(source="oracle"), "'source'"),
    (lambda raw: raw["dimensions"][2]["title"].pop("ru"), "non-empty text"),
    (lambda raw: raw["dimensions"][3]["indicators"][0].update(code="leadership.strategy"),
     "used twice"),
    (lambda raw: raw.update(version="1"), "'version'"),
])
def test_broken_model_is_refused_saying_where(break_it, complaint):
    raw = json.loads(MODEL_FILE.read_text(encoding="utf-8"))
    broken = copy.deepcopy(raw)
    break_it(broken)
    with pytest.raises(framework.ModelFileError, match=complaint):
        framework.parse(broken, name="v1.json", known_measures=set(measures.MEASURES))


def test_texts_follow_the_language():
    indicator = framework.current().indicator("user_focus.take_up")
    assert framework.text(indicator.title, "ru") == "Доля обращений онлайн"
    assert framework.text(indicator.title, "ru-ru") == "Доля обращений онлайн"
    assert framework.text(indicator.title, "de") == "Digital take-up"


def test_thresholds_map_measured_values_to_levels():
    take_up = framework.current().indicator("user_focus.take_up")  # 0.2, 0.4, 0.6, 0.8
    assert [take_up.level_for(v) for v in (0, 0.19, 0.2, 0.45, 0.6, 0.79, 0.8, 1)] == \
        [1, 1, 2, 3, 4, 4, 5, 5]
    assert take_up.level_for(None) is None


# --- Scores -------------------------------------------------------------------------------------

def _codes(source):
    return [i.code for i in framework.current().indicators() if i.source == source]


def test_scores_of_manual_answers_only():
    model = framework.current()
    levels = dict.fromkeys(_codes("manual"), 4)
    levels["leadership.office"] = 1  # leadership: (4 + 1) / 2
    result = score(model, levels)
    assert result.dimensions["leadership"] == 2.5
    assert result.dimensions["skills"] == 4
    # user_focus has one manual indicator among three: its mean is that one's level.
    assert result.dimensions["user_focus"] == 4
    assert result.overall == round((2.5 + 4 * 7) / 8, 2)
    assert result.assessed == len(_codes("manual"))


def test_scores_of_automatic_only_leave_dimensions_without_measures_not_assessed():
    model = framework.current()
    result = score(model, dict.fromkeys(_codes("automatic"), 5))
    assert result.dimensions["leadership"] is None  # no automatic indicator there
    assert result.dimensions["skills"] is None
    assert result.dimensions["user_focus"] == 5
    assert result.overall == 5  # the mean of the six assessed dimensions, not of eight


def test_scores_mixed_and_not_assessed_is_not_zero():
    model = framework.current()
    result = score(model, {"processes.digital_by_default": 2, "processes.end_to_end": 3,
                           "processes.sla": None, "security.by_design": 5})
    assert result.dimensions["processes"] == 2.5  # (2 + 3) / 2, the unmeasured SLA left out
    assert result.dimensions["security"] == 5
    assert result.overall == 3.75
    assert result.indicators["processes.sla"] is None
    assert score(model, {}).overall is None
    # Rounded half up to two decimals: (1 + 2 + 2) / 3 = 1.666... -> 1.67.
    three = score(model, {"user_focus.design": 1, "user_focus.take_up": 2,
                          "user_focus.usefulness": 2})
    assert three.dimensions["user_focus"] == 1.67
    with pytest.raises(ValueError, match="not 1 to 5"):
        score(model, {"security.by_design": 0})


# --- Automatic measures on constructed data ---------------------------------------------------

def _only_these_staff():
    """Deactivate the tenant's existing accounts (rolled back after the test)."""
    get_user_model().objects.update(is_active=False)


def _device(user, confirmed=True):
    return TOTPDevice.objects.create(user=user, name="Приложение", confirmed=confirmed)


def test_two_factor_coverage_counts_confirmed_devices_of_active_staff(tenant_a):
    with tenant_context(tenant_a):
        _only_these_staff()
        admin = StaffFactory(username="adm2fa", is_superuser=True)
        editor = StaffFactory(username="ed2fa", groups=["Editors"])
        Group.objects.get(name="Editors").permissions.add(
            Permission.objects.get(codename="access_admin"))
        StaffFactory(username="nodevice", groups=["Editors"])
        unconfirmed = StaffFactory(username="unconfirmed", groups=["Editors"])
        citizen = StaffFactory(username="notstaff")
        gone = StaffFactory(username="gone", is_superuser=True, is_active=False)
        for user in (admin, editor, citizen, gone):
            _device(user)
        _device(unconfirmed, confirmed=False)
        measured = measures.staff_2fa()
        assert measured.figures == {"with_second_factor": 2, "staff": 4}
        assert measured.value == 0.5
        indicator = framework.current().indicator("security.staff_2fa")
        assert indicator.level_for(measured.value) == 3
        _device(unconfirmed)
        TOTPDevice.objects.filter(user__username="nodevice").delete()
        _device(get_user_model().objects.get(username="nodevice"))
        assert indicator.level_for(measures.staff_2fa().value) == 5
    connection.set_schema_to_public()


def _snapshot(day, page=None, **counts):
    return KpiSnapshot.objects.create(day=day, page=page, computed_at=timezone.now(), **counts)


def test_take_up_and_gauges_from_constructed_snapshots(tenant_a):
    with tenant_context(tenant_a):
        KpiSnapshot.objects.all().delete()
        assert measures.take_up().value is None  # nothing to measure: not assessed
        today = timezone.localdate()
        service_page = Page.objects.filter(depth__gt=1).first()
        _snapshot(today - datetime.timedelta(days=3), cases_online=20, cases_office=50,
                  cases_phone=5, cases_post=5, services_published=10, services_online=3,
                  services_api=1)
        _snapshot(today - datetime.timedelta(days=2), cases_online=10, cases_office=10,
                  services_published=10, services_online=6, services_api=3)
        # Ignored: a service's own row (counted in the overall one) and a day out of period.
        _snapshot(today - datetime.timedelta(days=2), page=service_page, cases_online=500)
        _snapshot(today - datetime.timedelta(days=200), cases_office=1000)
        take_up = measures.take_up()
        assert take_up.figures == {"online": 30, "cases": 100}
        assert take_up.value == 0.3
        assert framework.current().indicator("user_focus.take_up").level_for(0.3) == 2
        online = measures.services_online_share()  # the latest day's gauges
        assert (online.value, online.figures) == (0.6, {"online": 6, "published": 10})
        assert measures.services_api_share().value == 0.5
    connection.set_schema_to_public()


# --- The workflow -------------------------------------------------------------------------------

def _admins():
    first = get_user_model().objects.get(email="admin@north.example")
    second = StaffFactory(username="second-admin", is_superuser=True)
    return first, second


def _fresh():
    Round.objects.all().delete()


def test_round_from_opening_to_approval(tenant_a):
    with tenant_context(tenant_a):
        _fresh()
        submitter, approver = _admins()
        round_ = workflow.open_round(submitter)
        assert set(round_.automatic) == set(_codes("automatic"))
        with pytest.raises(workflow.AssessmentError):
            workflow.open_round(submitter)  # one round in progress at a time
        workflow.save_answer(round_, "leadership.strategy", level=3,
                             justification="Стратегия утверждена\x00 постановлением",
                             evidence=["https://north.example/strategy"], user=submitter)
        with pytest.raises(workflow.AssessmentError):
            workflow.save_answer(round_, "user_focus.take_up", level=5, justification="",
                                 evidence=[], user=submitter)  # measured, not answered
        round_ = workflow.submit(round_, submitter)
        with pytest.raises(workflow.AssessmentError, match="другой администратор"):
            workflow.approve(round_, submitter)
        editor = StaffFactory(username="editor-not-admin", groups=["Editors"])
        with pytest.raises(workflow.AssessmentError):
            workflow.approve(round_, editor)
        round_ = workflow.approve(round_, approver)
        assert round_.frozen and round_.approved_by == approver
        assert round_.scores["dimensions"]["leadership"] == 3.0
        # Frozen: no answer, no measurement, no second approval changes it.
        for step in (lambda: workflow.save_answer(round_, "leadership.office", level=5,
                                                  justification="", evidence=[],
                                                  user=submitter),
                     lambda: workflow.refresh_automatic(round_),
                     lambda: workflow.submit(round_, submitter),
                     lambda: workflow.approve(round_, approver)):
            with pytest.raises(workflow.AssessmentError):
                step()
        Answer.objects.filter(round=round_).update(level=5)  # even if a row changed behind
        assert workflow.scores(round_).dimensions["leadership"] == 3.0
        steps = list(AuditEvent.objects.filter(kind=Kind.ASSESSMENT, object_id=str(round_.pk))
                     .order_by("id").values_list("details__step", "actor_id"))
        assert steps == [("opened", submitter.pk), ("submitted", submitter.pk),
                         ("approved", approver.pk)]
        number = round_.number
    connection.set_schema_to_public()
    result = AssessmentResult.objects.get(schema_name="north", round_number=number)
    assert result.tenant_id == tenant_a.pk and result.model_version == 1
    assert [d["code"] for d in result.dimensions] == DIMENSIONS
    assert result.score_of("leadership") == 3.0
    assert result.dimensions[0]["title"]["ru"] == "Руководство и организация"
    assert result.indicators_total == len(framework.current().indicators())


def test_returned_round_is_open_again_with_the_note(tenant_a):
    with tenant_context(tenant_a):
        _fresh()
        submitter, approver = _admins()
        round_ = workflow.submit(workflow.open_round(submitter), submitter)
        round_ = workflow.return_round(round_, approver, "Приложите протокол")
        assert round_.status == Round.Status.OPEN and round_.return_note == "Приложите протокол"
        assert round_.submitted_by is None
        # Now the approver may submit it, and the first administrator approve it.
        round_ = workflow.approve(workflow.submit(round_, approver), submitter)
        assert round_.frozen
    connection.set_schema_to_public()


# --- The admin screens --------------------------------------------------------------------------

INDEX = "/admin/assessment/"


def _client_for(tenant, user):
    client = Client(**NORTH)
    with tenant_context(tenant):
        client.force_login(user)
    connection.set_schema_to_public()
    return client


def test_questionnaire_scores_and_report_screens(tenant_a):
    with tenant_context(tenant_a):
        _fresh()
        admin = get_user_model().objects.get(email="admin@north.example")
    connection.set_schema_to_public()
    client = _client_for(tenant_a, admin)
    assert client.get(INDEX).status_code == 200
    opened = client.post(INDEX + "open/")
    assert opened.status_code == 302
    with tenant_context(tenant_a):
        number = Round.objects.get().number
    connection.set_schema_to_public()
    page = client.get(f"{INDEX}{number}/")
    html = page.content.decode()
    assert page.status_code == 200
    assert 'role="img"' in html and "data-assessment-scores" in html
    assert "Руководство и организация" in html  # the dimension's Russian title, from the data
    form_url = f"{INDEX}{number}/leadership/"
    assert client.get(form_url).status_code == 200
    bad = client.post(form_url, {
        "leadership-strategy-level": "3",
        "leadership-strategy-justification": "Стратегия\x00 утверждена",
        "leadership-strategy-evidence": "javascript:alert(1)\nftp://north.example/x",
        "leadership-office-level": "7",
        "leadership-office-evidence": "не адрес",
    })
    assert bad.status_code == 400
    assert "data-form-errors" in bad.content.decode()
    with tenant_context(tenant_a):
        assert not Answer.objects.exists()  # nothing saved from a form with an error
    connection.set_schema_to_public()
    long_text = "Ёлки-палки, " * 300  # 3,600 characters of Cyrillic
    good = client.post(form_url, {
        "leadership-strategy-level": "4",
        "leadership-strategy-justification": long_text,
        "leadership-strategy-evidence": "https://north.example/стратегия.pdf\n\n"
                                        "http://north.example/plan",
        "leadership-office-level": "",
        "next": "1",
    })
    assert good.status_code == 302 and good["Location"].endswith(f"/{number}/user_focus/")
    with tenant_context(tenant_a):
        strategy = Answer.objects.get(indicator="leadership.strategy")
        assert strategy.level == 4 and strategy.justification == long_text.strip()
        assert strategy.evidence == ["https://north.example/стратегия.pdf",
                                     "http://north.example/plan"]
        assert Answer.objects.get(indicator="leadership.office").level is None
    connection.set_schema_to_public()
    assert client.get(f"{INDEX}{number}/nonsense/").status_code == 404
    assert client.get(f"{INDEX}{number + 100}/").status_code == 404
    assert client.post(f"{INDEX}{number}/step/explode/").status_code == 404
    report = client.get(f"{INDEX}{number}/report/")
    text = report.content.decode()
    assert report.status_code == 200 and '<html lang="ru">' in text
    assert "@media print" in text and "https://north.example/стратегия.pdf" in text
    # Submitted by this administrator: the approve button is not offered, nor obeyed.
    assert client.post(f"{INDEX}{number}/step/submit/").status_code == 302
    assert "data-approve-round" not in client.get(f"{INDEX}{number}/").content.decode()
    client.post(f"{INDEX}{number}/step/approve/")
    with tenant_context(tenant_a):
        assert Round.objects.get(number=number).status == Round.Status.SUBMITTED
        approver = StaffFactory(username="approver", is_superuser=True)
    connection.set_schema_to_public()
    other = _client_for(tenant_a, approver)
    assert "data-approve-round" in other.get(f"{INDEX}{number}/").content.decode()
    assert other.post(f"{INDEX}{number}/step/return/", {"note": "\x00"}).status_code == 302
    assert other.post(f"{INDEX}{number}/step/approve/").status_code == 302
    with tenant_context(tenant_a):
        assert Round.objects.get(number=number).frozen
    connection.set_schema_to_public()
    # Frozen: the questionnaire is read-only and refuses a POST (Wagtail's "permission
    # denied": back to the admin's home with a message).
    assert 'class="dgbox-choices" disabled' in other.get(form_url).content.decode()
    refused = other.post(form_url, {"leadership-strategy-level": "1"})
    assert (refused.status_code, refused["Location"]) == (302, "/admin/")
    with tenant_context(tenant_a):
        assert Answer.objects.get(indicator="leadership.strategy").level == 4
    connection.set_schema_to_public()
    history = other.get(INDEX).content.decode()
    assert f'data-round="{number}"' in history


def test_staff_without_the_permission_do_not_see_the_assessment(tenant_a):
    with tenant_context(tenant_a):
        editor = StaffFactory(username="plain-editor", groups=["Editors"])
    connection.set_schema_to_public()
    client = _client_for(tenant_a, editor)
    for response in (client.get(INDEX), client.post(INDEX + "open/")):
        # Wagtail's "permission denied": back to the admin's home with a message.
        assert (response.status_code, response["Location"]) == (302, "/admin/")
    with tenant_context(tenant_a):
        assert not Round.objects.filter(opened_by=editor).exists()
    connection.set_schema_to_public()


# --- The console's comparison -------------------------------------------------------------------

def _result(tenant, number, scores):
    return AssessmentResult.objects.create(
        tenant=tenant, schema_name=tenant.schema_name, round_number=number, model_version=1,
        approved_at=timezone.now(), overall=None, indicators_total=19,
        dimensions=[{"code": code, "title": {"en": code, "ru": f"Измерение {code}"},
                     "score": score} for code, score in zip(DIMENSIONS, scores, strict=True)])


def test_console_compares_tenants_in_scope(client, session_tenants):
    from .factories import console_account, console_sign_in

    north, south, village = session_tenants["a"], session_tenants["b"], session_tenants["m"]
    AssessmentResult.objects.filter(schema_name__in=["north", "south", "ryabinovka"]).delete()
    _result(north, 1, [1] * 8)
    _result(north, 2, [3, 3, 3, 3, 3, 3, 3, None])  # the latest round counts
    _result(south, 1, [5] * 8)
    _result(village, 1, [2] * 8)

    portal = {"HTTP_HOST": "localhost"}
    console_sign_in(client, console_account("assess-op"))
    everyone = client.get("/operator/assessment/", **portal).content.decode()
    assert all(f'data-tenant="{s}"' in everyone for s in ("north", "south", "ryabinovka"))
    assert "Измерение leadership" in everyone
    # North against the median of the regions (north 3 and south 5: 4).
    one = client.get("/operator/assessment/?tenant=north", **portal)
    assert one.status_code == 200
    html = one.content.decode()
    assert "data-console-radar" in html and 'role="img"' in html
    median_cell = re.search(r'<th scope="row" class="govuk-table__header">Измерение leadership'
                            r'</th><td[^>]*>([^<]*)</td><td[^>]*>([^<]*)</td>', html)
    assert median_cell.groups() == ("3,00", "4,00")  # north 3; regions north 3, south 5

    console_sign_in(client, console_account("assess-north", region=north))
    regional = client.get("/operator/assessment/", **portal).content.decode()
    assert 'data-tenant="north"' in regional and 'data-tenant="ryabinovka"' in regional
    assert 'data-tenant="south"' not in regional
    assert client.get("/operator/assessment/?tenant=south", **portal).status_code == 404
    assert client.get("/operator/assessment/?tenant=%D0%B6%D1%83%D0%BA", **portal).status_code \
        == 404  # a Cyrillic slug no tenant has
    assert client.get("/operator/assessment/?tenant=%00", **portal).status_code == 400
