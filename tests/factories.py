"""What the tests build again and again (factory_boy), and the test data it is built from.

Each factory makes its rows the way the tests relied on them being made:

- OnlineServiceFactory: an online service on one of the demo service pages every session
  tenant has (demo.site.populate), its form built from a plain spec; saving it makes the
  first form version.
- ApplicationDraftFactory: a draft as the apply form leaves it (answers to the form's
  questions plus the applicant's contact details), written straight to its table.
- SubmittedCaseFactory: a case made by services.applications.submission.submit_application
  from such a draft, with everything submitting does: reference, workflow version and
  deadline, the "submitted" event, the automatic rules' decision, the receipt on commit.
- CaseFactory and make_cases(): case rows straight into the table (no submission, no
  events, no messages), for lists, filters and counts.
- StaffFactory: a member of staff made by create_user, in groups (made when missing), with
  permissions, reading the admin in a language.
- WorkflowFactory, RegisterFactory (records put in by registers.replace_records) and
  MessageFactory (outbox rows as notify() leaves them, written directly).
- launch(): a tenant launched through tenants.launch.launch_tenant.
- console_account(): a national operator or, with `region`, a regional administrator of
  the operator console (public schema), made as `dgbox operator add` makes them.

All but launch() work in the current tenant's schema: call them inside tenant_context.
"""

import copy
import json
import re
import time
import uuid
from contextlib import contextmanager
from datetime import timedelta
from html import unescape
from urllib.parse import quote

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connection
from django.utils import timezone
from django.utils.text import slugify
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_tenants.utils import tenant_context
from factory.django import DjangoModelFactory
from qsessions.models import Session
from wagtail import blocks
from wagtail.users.models import UserProfile

from cms.models import ServiceIndexPage, ServicePage
from services.applications.submission import submit_application
from services.forms.blocks import stream_data_from_spec
from services.models import ApplicationDraft, Case, OnlineService, Register, Workflow
from services.notifications.models import Message
from services.registers import service as registers
from services.rules.blocks import Context as RulesContext
from services.rules.blocks import rules_block
from services.workflows import spec as workflowspec
from tenants.console import reauth
from tenants.launch import LaunchRequest, launch_tenant
from tenants.models import RegionalAdministrator

# --- Test data ---------------------------------------------------------------------------------

#: Host headers of the session tenants (tests/conftest.py: `north` and `south`).
NORTH = {"HTTP_HOST": "north.localhost"}
SOUTH = {"HTTP_HOST": "south.localhost"}

#: The smallest files each type sniffer accepts as what they are.
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00"
       b"\x00\x90wS\xde\x00\x00\x00\x0cIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00"
       b"\x00\x00\x00IEND\xaeB`\x82")

#: A form with a question of every field type, limits and a condition.
FORM_SPEC = [
    {"type": "text", "name": "purpose", "label": "Purpose", "required": True,
     "min_length": 3, "max_length": 20},
    {"type": "long_text", "name": "details", "label": "Details", "required": False,
     "max_length": 50},
    {"type": "number", "name": "children", "label": "Children", "required": True,
     "min_value": "0", "max_value": "12"},
    {"type": "date", "name": "born", "label": "Born", "required": True, "when": "past"},
    {"type": "email", "name": "work_email", "label": "Work email", "required": False},
    {"type": "phone", "name": "work_phone", "label": "Work phone", "required": False},
    {"type": "choice", "name": "school", "label": "School", "required": True,
     "choices": ["No. 1", "No. 2"]},
    {"type": "multi_choice", "name": "clubs", "label": "Clubs", "required": False,
     "choices": ["Chess", "Music", "Sport"], "max_selections": 2},
    {"type": "yes_no", "name": "benefits", "label": "Benefits?", "required": True},
    {"type": "text", "name": "benefit_no", "label": "Benefit number", "required": True,
     "show_if": {"field": "benefits", "value": "yes"}},
    {"type": "address", "name": "home", "label": "Home address", "required": True},
    {"type": "national_id", "name": "snils", "label": "SNILS", "required": True,
     "id_kind": "snils"},
    {"type": "file", "name": "certificate", "label": "Certificate", "required": True,
     "file_kinds": ["pdf"], "max_size_mb": 1},
]

#: What the form above posts when every answer is right (the file aside: good_files()).
GOOD_ANSWERS = {
    "applicant_name": "Анна Иванова", "applicant_email": "anna@example.org",
    "purpose": "School", "children": "2", "born": "2019-05-01", "school": "No. 1",
    "clubs": ["Chess"], "benefits": "no", "home_0": "ул. Ленина, 1", "home_1": "",
    "home_2": "Северск", "home_3": "101000", "snils": "112-233-445 95",
}


def good_files(content=PDF, name="certificate.pdf"):
    """The upload FORM_SPEC asks for, as the form receives it."""
    return {"certificate": SimpleUploadedFile(name, content, content_type="application/pdf")}


#: A building permit's two questions, which the case tests' automatic rules read.
PERMIT_SPEC = [{"type": "number", "name": "floors", "label": "Floors", "required": True},
               {"type": "yes_no", "name": "heritage", "label": "Heritage site?",
                "required": True}]
PERMIT_ANSWERS = {"floors": "5", "heritage": "no"}

#: Automatic rules over PERMIT_SPEC's questions, one of each outcome.
RULES = [
    {"name": "Heritage goes to specialists", "when": {"==": [{"var": "heritage"}, "yes"]},
     "then": "route", "group": "Heritage"},
    {"name": "Small house", "when": {"<=": [{"var": "floors"}, 3]}, "then": "approve"},
    {"name": "Too tall", "when": {">": [{"var": "floors"}, 30]}, "then": "refuse"},
]

#: The standard workflow plus a site visit: inspectors visit during review and hand back.
WITH_VISIT = copy.deepcopy(workflowspec.DEFAULT)
WITH_VISIT["states"].insert(2, {
    "code": "site_visit", "label": {"ru": "Выезд на место", "en": "Site visit"},
    "terminal": False, "clock": "runs"})
WITH_VISIT["transitions"] += [
    {"code": "plan_visit", "label": {"ru": "Назначить выезд", "en": "Plan a site visit"},
     "from": ["in_review"], "to": "site_visit", "group": "Inspectors", "requires": ["note"],
     "notify": True},
    {"code": "visit_done", "label": {"ru": "Выезд проведён", "en": "Site visit done"},
     "from": ["site_visit"], "to": "in_review", "group": "Inspectors", "requires": [],
     "notify": False},
]


# --- Tenants -----------------------------------------------------------------------------------

def launch(name, kind="region", **kwargs):
    """A tenant launched as operators launch one (schema from the template, domain, first
    administrator); returns the LaunchResult. Call it in the public schema."""
    kwargs.setdefault("admin_email", f"admin@{uuid.uuid4().hex[:6]}.example")
    return launch_tenant(LaunchRequest(name=name, kind=kind, **kwargs))


def console_account(username, *, region=None, password="a long console password"):  # noqa: S107 - test data
    """A user of the public schema who may use the console: a national operator (the "Can
    view tenant" permission) or, with `region` (a Tenant), its regional administrator."""
    user = get_user_model().objects.create_user(username, f"{username}@gov.example", password,
                                                is_staff=True)
    if region is None:
        user.user_permissions.add(Permission.objects.get(
            codename="view_tenant", content_type__app_label="tenants"))
    else:
        RegionalAdministrator.objects.create(user=user, region=region)
    return user


def admin_with_password(tenant, password):
    """The tenant's administrator (admin@north.example), with `password` to sign in with."""
    with tenant_context(tenant):
        user = get_user_model().objects.get(email="admin@north.example")
        user.set_password(password)
        user.save()
    connection.set_schema_to_public()
    return user


def admin_in_english(client, tenant):
    """The tenant's administrator (admin@north.example) signed in on `client`, reading the
    admin in English, and the tenant's Russian service catalogue: (admin, catalogue)."""
    with tenant_context(tenant):
        admin = get_user_model().objects.get(email="admin@north.example")
        profile = UserProfile.get_for_user(admin)
        profile.preferred_language = "en"
        profile.save()
        index = ServiceIndexPage.objects.get(locale__language_code="ru")
        client.force_login(admin)
    connection.set_schema_to_public()
    return admin, index


def console_sign_in(client, user, *, checked=True):
    """`client` signed in to the console as `user`; with `checked`, as if the password had just
    been asked again (tenants/console/reauth.py), so destructive actions go through."""
    client.force_login(user)
    if checked:
        session = client.session
        session[reauth.SESSION_KEY] = time.time()
        session.save()
    return client


def forget_console_user(user):
    """Remove a committed public-schema user a browser test made, with the rows that point at
    it (sessions, second factors, a regional assignment). Not user.delete(): its cascade looks
    for tables (Wagtail's user profiles) that live in tenant schemas only."""
    RegionalAdministrator.objects.filter(user=user).delete()
    Session.objects.filter(user=user).delete()
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
    type(user).objects.filter(pk=user.pk)._raw_delete(using="default")


# --- Services, drafts and cases ------------------------------------------------------------------

class OnlineServiceFactory(DjangoModelFactory):
    """An online service on the tenant's demo service page `slug` (Russian locale), with the
    form `spec`; saving it makes form version 1."""

    class Meta:
        model = OnlineService

    class Params:
        slug = "building-permit"
        spec = FORM_SPEC

    page = factory.LazyAttribute(
        lambda o: ServicePage.objects.get(slug=o.slug, locale__language_code="ru"))
    form = factory.LazyAttribute(lambda o: stream_data_from_spec(o.spec))


class ApplicationDraftFactory(DjangoModelFactory):
    """A draft on the service's current form version: `form_answers` (the answers to the
    form's own questions, not checked) plus the applicant's name, e-mail and phone."""

    class Meta:
        model = ApplicationDraft

    class Params:
        form_answers = factory.Dict(PERMIT_ANSWERS)
        applicant_name = "Ann"
        applicant_email = "ann@example.org"
        applicant_phone = ""

    service = factory.SubFactory(OnlineServiceFactory, spec=PERMIT_SPEC)
    form_version = factory.LazyAttribute(lambda o: o.service.current_version())
    answers = factory.LazyAttribute(lambda o: {
        **o.form_answers, "applicant_name": o.applicant_name,
        "applicant_email": o.applicant_email, "applicant_phone": o.applicant_phone})


class SubmittedCaseFactory(factory.Factory):
    """A case made as an applicant makes one: an ApplicationDraftFactory draft of `answers`
    (what the case's `answers` will be) submitted through submit_application. Other keyword
    arguments (applicant_name, applicant_email, applicant_phone, language...) go to the
    draft. Only created, never built: a case without its submission would not be one."""

    class Meta:
        model = Case

    service = factory.SubFactory(OnlineServiceFactory, spec=PERMIT_SPEC)
    answers = factory.Dict(PERMIT_ANSWERS)

    @classmethod
    def _build(cls, model_class, *args, **kwargs):
        raise TypeError("SubmittedCaseFactory only creates (it submits a draft); "
                        "use CaseFactory.build() for an unsaved case")

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        draft = ApplicationDraftFactory(form_answers=kwargs.pop("answers"), **kwargs)
        case, _created = submit_application(draft.token)
        return case


class CaseFactory(DjangoModelFactory):
    """A case row written straight to the table, as if received: on the standard workflow's
    current version in its first state, due in 20 days, no events, no messages."""

    class Meta:
        model = Case

    reference = factory.Sequence(lambda n: f"INB-2026-{100001 + n:06d}")
    submission_key = factory.LazyFunction(uuid.uuid4)
    service = factory.SubFactory(OnlineServiceFactory, spec=PERMIT_SPEC)
    form_version = factory.LazyAttribute(lambda o: o.service.current_version())
    workflow_version = factory.LazyFunction(lambda: Workflow.default().current_version())
    status = factory.LazyAttribute(lambda o: o.workflow_version.definition["initial"])
    due_date = factory.LazyFunction(lambda: timezone.localdate() + timedelta(days=20))
    applicant_name = factory.Sequence(lambda n: f"Applicant {n}")
    applicant_email = factory.Sequence(lambda n: f"person{n}@example.org")
    answers = factory.Sequence(lambda n: {"purpose": f"purpose {n}"})


def make_cases(service, n, each=None, **fields):
    """n CaseFactory cases of `service` in one INSERT (bulk_create: no save()), numbered from
    0 in each call ("Applicant 0", "person0@example.org", answers {"purpose": "purpose 0"});
    `fields` for all of them, `each(i)` for the i-th; both may change any of these but the
    answers (the form version stays that of `service`)."""
    form_version = service.current_version()
    version = Workflow.default().current_version()
    today = timezone.localdate()
    rows = []
    for i in range(n):
        values = {"service": service, "status": version.definition["initial"],
                  "due_date": today + timedelta(days=20), "applicant_name": f"Applicant {i}",
                  "applicant_email": f"person{i}@example.org", **fields,
                  **(each(i) if each else {})}
        rows.append(CaseFactory.build(form_version=form_version, workflow_version=version,
                                      answers={"purpose": f"purpose {i}"}, **values))
    return Case.objects.bulk_create(rows)


# --- People --------------------------------------------------------------------------------------

class StaffFactory(DjangoModelFactory):
    """A member of staff: create_user with the password "x" and the e-mail
    <username>@north.example; then, when given, `admin_language` (the admin's language in
    their Wagtail profile), `permissions` ("app_label.codename") and `groups` (names; a group
    missing in the tenant is made)."""

    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True  # the hooks below save what they change themselves

    username = factory.Sequence(lambda n: f"staff{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@north.example")
    password = "x"

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return model_class._default_manager.create_user(*args, **kwargs)

    @factory.post_generation
    def admin_language(user, create, extracted, **kwargs):
        if extracted:
            profile = UserProfile.get_for_user(user)
            profile.preferred_language = extracted
            profile.save()

    @factory.post_generation
    def permissions(user, create, extracted, **kwargs):
        if extracted:
            user.user_permissions.add(*[
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
                for app_label, codename in (name.split(".") for name in extracted)])

    @factory.post_generation
    def groups(user, create, extracted, **kwargs):
        for name in extracted or ():
            user.groups.add(Group.objects.get_or_create(name=name)[0])


# --- Definitions: workflows and registers ------------------------------------------------------

class WorkflowFactory(DjangoModelFactory):
    """A workflow besides the standard one, by default a copy of its definition; saving it
    fills the editor's blocks and makes version 1."""

    class Meta:
        model = Workflow

    name = factory.Sequence(lambda n: f"Workflow {n}")
    definition = factory.LazyFunction(lambda: copy.deepcopy(workflowspec.DEFAULT))


class RegisterFactory(DjangoModelFactory):
    """A register keyed by `key_kind`, its `columns` given as (name, type) pairs; `records`
    [(key, data)] are put in by registers.replace_records, as an import does."""

    class Meta:
        model = Register
        skip_postgeneration_save = True  # replace_records updates the register's row itself

    class Params:
        columns = ()

    code = factory.Sequence(lambda n: f"register_{n}")
    name = factory.LazyAttribute(lambda o: o.code.replace("_", " ").title())
    key_kind = "snils"
    fields = factory.LazyAttribute(lambda o: [{"type": "field", "value": {"name": n, "type": t}}
                                              for n, t in o.columns])

    @factory.post_generation
    def records(register, create, extracted, **kwargs):
        if extracted is not None:
            registers.replace_records(register, extracted)


# --- Notifications -----------------------------------------------------------------------------

class MessageFactory(DjangoModelFactory):
    """An outbox row written directly, not through notify(): a receipt in Russian to
    a@example.org (an SMS: to +79990000000, no subject), pending unless told otherwise."""

    class Meta:
        model = Message

    channel = "email"
    recipient = factory.LazyAttribute(
        lambda o: "+79990000000" if o.channel == "sms" else "a@example.org")
    key = "application_received"
    language = "ru"
    subject = factory.LazyAttribute(lambda o: "" if o.channel == "sms" else "S")
    body = "b"


def database_url_of(db) -> str:
    """A DATABASES entry as a DATABASE_URL, for the processes a test starts."""
    host = quote(db.get("HOST") or "", safe="")
    auth = db.get("USER") or "postgres"
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"], safe="")
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{auth}@{host}{port}/{db['NAME']}"


# --- What Wagtail's admin posts and draws (the test client through the real views) ------------
def post_data(block, prefix, value):
    """{name: value} a browser would post for `value` (raw stream data) of `block` at
    `prefix`: the names the browser side of StreamField sends (<prefix>-count,
    <prefix>-<i>-type, -id, -order, -deleted, -value-<child>...)."""
    data = {}
    _flatten(block, prefix, value, data)
    return data


def _flatten(block, prefix, value, data):
    if isinstance(block, blocks.StreamBlock):
        items = list(value or [])
        data[f"{prefix}-count"] = str(len(items))
        for i, item in enumerate(items):
            child = f"{prefix}-{i}"
            data.update({f"{child}-type": item["type"], f"{child}-deleted": "",
                         f"{child}-order": str(i), f"{child}-id": item.get("id") or ""})
            _flatten(block.child_blocks[item["type"]], f"{child}-value", item["value"], data)
    elif isinstance(block, blocks.ListBlock):
        items = list(value or [])
        data[f"{prefix}-count"] = str(len(items))
        for i, item in enumerate(items):
            child = f"{prefix}-{i}"
            data.update({f"{child}-deleted": "", f"{child}-order": str(i), f"{child}-id": ""})
            _flatten(block.child_block, f"{child}-value", item, data)
    elif isinstance(block, blocks.StructBlock):
        for name, child in block.child_blocks.items():
            _flatten(child, f"{prefix}-{name}", (value or {}).get(name, child.get_default()),
                     data)
    elif isinstance(block, blocks.BooleanBlock):
        if value:
            data[prefix] = "on"
    elif value is None:
        data[prefix] = ""
    elif isinstance(value, list | tuple):
        data[prefix] = [str(v) for v in value]
    else:
        data[prefix] = str(value)


def rich(text):
    """A rich text field as the Draftail editor posts it."""
    return json.dumps({"blocks": [{"key": "a1b2c", "type": "unstyled", "depth": 0,
                                   "text": text, "inlineStyleRanges": [], "entityRanges": [],
                                   "data": {}}], "entityMap": {}})


#: The blocks the online form's builders post through (their lists do not change the names).
FORM_BLOCK = OnlineService._meta.get_field("form").stream_block
LOOKUPS_BLOCK = OnlineService._meta.get_field("register_lookups").stream_block
RULES_BLOCK = rules_block(RulesContext(subjects=(), steps=(), groups=()))


def service_page_data(title, spec=None, *, form=None, rules=(), slug=None, online_id=None,
                      channel_id=None, accepting=True, apply_url="", delete_online=False,
                      go_live_at="", workflow="", **extra):
    """The service page editor's POST data: the content tab, one office channel, and the
    "Online application" tab with the form built from `spec` (or raw builder data `form`; no
    online form if both are None) and the rules builder's raw data `rules`. `online_id` /
    `channel_id`: None for a new row, else the row the editor shows (its id, or "" for a row a
    revision keeps without one). The slug is what the editor's script makes of the title, as
    Wagtail does (Cyrillic kept)."""
    slug = slugify(title, allow_unicode=True) if slug is None else slug
    has_form = spec is not None or form is not None
    data = {
        "title": title, "slug": slug, "summary": "Для вырубки деревьев на участке.",
        "who_can_apply": rich("Владельцы участков."), "documents-count": "0",
        "cost_kind": "free", "cost_amount": "", "cost_details": "", "processing_days": "10",
        "processing_details": "", "legal_basis": rich("Правила благоустройства."),
        "category": "", "apply_url": apply_url, "seo_title": "", "search_description": "",
        "go_live_at": go_live_at, "expire_at": "",
        "comments-TOTAL_FORMS": "0", "comments-INITIAL_FORMS": "0",
        "comments-MIN_NUM_FORMS": "0", "comments-MAX_NUM_FORMS": "1000",
        "channels-TOTAL_FORMS": "1",
        "channels-INITIAL_FORMS": "0" if channel_id is None else "1",
        "channels-MIN_NUM_FORMS": "1", "channels-MAX_NUM_FORMS": "1000",
        "channels-0-id": channel_id or "", "channels-0-kind": "office",
        "channels-0-details": "В администрации.", "channels-0-url": "", "channels-0-phone": "",
        "channels-0-address": "", "channels-0-ORDER": "1", "channels-0-DELETE": "",
        "online_services-TOTAL_FORMS": "1" if has_form else "0",
        "online_services-INITIAL_FORMS": "1" if online_id is not None and has_form else "0",
        "online_services-MIN_NUM_FORMS": "0", "online_services-MAX_NUM_FORMS": "1",
    }
    if has_form:
        prefix = "online_services-0"
        data.update({f"{prefix}-id": online_id or "", f"{prefix}-workflow": str(workflow or ""),
                     f"{prefix}-sla_days": "", f"{prefix}-retention_days": "1095",
                     f"{prefix}-DELETE": "1" if delete_online else ""})
        if accepting:
            data[f"{prefix}-accepting"] = "on"
        data.update(post_data(FORM_BLOCK, f"{prefix}-form",
                              form if form is not None else stream_data_from_spec(spec)))
        data.update(post_data(LOOKUPS_BLOCK, f"{prefix}-register_lookups", []))
        data.update(post_data(RULES_BLOCK, f"{prefix}-rules", list(rules)))
    data.update(extra)
    return data


def block_state(html, name):
    """The value and errors a StreamField `name` is drawn with (its data-w-block-arguments)."""
    found = re.search(rf'<div id="{name}" data-block data-controller="w-block" '
                      r'data-w-block-data-value="[^"]*" data-w-block-arguments-value="([^"]*)"',
                      html)
    assert found, f"no StreamField {name}"
    return json.loads(unescape(found.group(1)))


def block_definition(html, name):
    """A StreamField's block definitions (what the browser draws it from), as text."""
    found = re.search(rf'<div id="{name}" data-block data-controller="w-block" '
                      r'data-w-block-data-value="([^"]*)"', html)
    assert found, f"no StreamField {name}"
    return json.dumps(json.loads(unescape(found.group(1))), ensure_ascii=False)


def problems_in(response):
    """The error messages of an admin form page, for an assertion's message."""
    html = response.content.decode()
    found = [re.sub(r"\s+", " ", unescape(m)) for m in re.findall(
        r'<p class="error-message">(.*?)</p>', html, re.S)]
    for name, arguments in re.findall(r'<div id="([\w-]+)" data-block [^>]*'
                                      r'data-w-block-arguments-value="([^"]*)"', html):
        errors = json.loads(unescape(arguments))[1]
        if errors:
            found.append(f"{name}: {json.dumps(errors, ensure_ascii=False)}")
    return found


# --- The citizen's journey over HTTP (the test client) --------------------------------------
def post_form(client, slug="building-permit", data=None, files=None, host=NORTH):
    payload = dict(GOOD_ANSWERS if data is None else data)
    payload.update(files if files is not None else {
        "certificate": SimpleUploadedFile("справка.pdf", PDF, content_type="application/pdf")})
    return client.post(f"/ru/apply/{slug}/", payload, **host)


def submit(client, slug="building-permit", host=NORTH):
    check = client.get(f"/ru/apply/{slug}/check/", **host)
    assert check.status_code == 200
    token = re.search(r'name="draft" value="([0-9a-f-]+)"', check.content.decode()).group(1)
    return client.post(f"/ru/apply/{slug}/check/", {"draft": token}, **host), token


def forget_celery_connections(app):
    """Celery caches its producer pool, control mailbox and result backend on first use;
    drop them so the new broker and backend settings take effect."""
    import threading

    from kombu import pools

    if app._pool is not None:
        app._pool.force_close_all()
        app._pool = None
    # kombu keeps process-wide pools keyed by broker URL; a pool closed above would be handed
    # out again the next time this URL is used ("Acquire on closed pool").
    pools.reset()
    for attr in ("amqp", "control", "events"):
        app.__dict__.pop(attr, None)
    app._local = threading.local()


# --- Second factor (tenants/staffauth/) ----------------------------------------------------------

def totp_code(device, steps_ahead=0):
    """The code `device`'s authenticator app shows now (or `steps_ahead` 30-second steps
    later: django-otp accepts one step of drift, and never the same step twice)."""
    import time

    from django_otp.oath import TOTP

    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + steps_ahead * device.step
    return f"{totp.token():0{device.digits}d}"


def forget_code_failures(user):
    """Clear django-otp's back-off after a wrong code (the next try would otherwise have to
    wait a second), for tests that type a wrong code and then the right one."""
    from django_otp.plugins.otp_static.models import StaticDevice
    from django_otp.plugins.otp_totp.models import TOTPDevice

    for model in (TOTPDevice, StaticDevice):
        model.objects.filter(user=user).update(throttling_failure_count=0,
                                               throttling_failure_timestamp=None)


def enrol_authenticator(user):
    """A confirmed authenticator app and ten recovery codes for `user`, made the way the
    enrolment page makes them (in the current schema); returns (device, codes)."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from tenants.staffauth import devices

    device = TOTPDevice.objects.create(user=user, name="Phone", confirmed=True)
    return device, devices.new_recovery_codes(user)
# --- The audit trail ---------------------------------------------------------------------------
def audit_triggers(schema):
    """(trigger, schema of its function, function) of the audit table's triggers in `schema`."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT t.tgname, fn.nspname, p.proname FROM pg_trigger t "
            "JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            "JOIN pg_proc p ON p.oid = t.tgfoid JOIN pg_namespace fn ON fn.oid = p.pronamespace "
            "WHERE c.relname = 'audit_auditevent' AND n.nspname = %s AND NOT t.tgisinternal "
            "ORDER BY 1", [schema])
        return cursor.fetchall()


@contextmanager
def a_request():
    """What a request's start and end signal, as Django's test client sends them (without
    closing the test's connection): the tenant's cache reads per request (tenant_cache.py)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    request_started.send(sender=None)
    try:
        yield
    finally:
        request_finished.send(sender=None)
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def own_connection(**options):
    """A psycopg connection of the test's own to the test database: what it commits is
    committed (the test's transaction does not hold it), e.g. to change rows as another
    process would."""
    import psycopg

    settings = connection.settings_dict
    return psycopg.connect(host=settings["HOST"] or "127.0.0.1", port=settings["PORT"] or 5432,
                           user=settings["USER"], password=settings["PASSWORD"] or None,
                           dbname=settings["NAME"], **options)
