"""Case work over the API (scope `cases:work`): list and read cases, take a transition, add a
note, download a file, as the client's **service account**, with exactly the case engine's
rules (services/cases/engine.py).

- The account must be able to work on cases as a person would (active, `services.view_case`,
  as the staff inbox requires). A client without one is refused with a 403 problem saying so.
- It sees what the staff inbox shows it (services/cases/query.py), never more, and less in one
  respect: a case routed to a staff group (Case.group) the account is not in is neither listed
  nor readable (the inbox shows it to every case worker; a machine account gets least
  privilege). A superuser account sees every case: do not give a client one.
- Transitions go through `engine.take` as the account: its groups decide which steps it may
  take; a step of another group is 403, a missing required field 400 with `errors`, a case
  changed since `expected_state` (or a step the case's state does not allow) 409.
- Writes leave the engine's own records with the account as the actor (CaseEvent, CaseNote),
  and every case event written during an API call says which client made it
  (`data["via_api_client"]`); reading a case or a file is recorded in the audit trail as
  "<account> via API client <name>", as the staff screens record a person's.
"""

import datetime
import re
from contextlib import contextmanager
from contextvars import ContextVar

from django.core import signing
from django.db.models import Q
from django.db.models.signals import pre_save
from django.dispatch import receiver
from django.http import FileResponse, Http404
from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, permissions, status
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import JSONParser
from rest_framework.response import Response

from tenants.audit.context import Actor, user_actor
from tenants.audit.models import Kind as AuditKind
from tenants.audit.service import record as audit

from ..applications.models import UploadedFile
from ..cases import engine, query, sla
from ..cases.inbox import readable_history
from ..cases.models import Case, CaseEvent
from ..forms.models import OnlineService
from ..forms.spec import answer_rows
from ..workflows import spec as workflowspec
from . import serializers_cases as io
from .auth import HasScope, client_of
from .base import ScopedV1
from .problems import problem
from .scopes import Scope

#: What a reference in a path may look like before it is looked up (anything else is a 404
#: without a query: a NUL or 10 KB of text never reaches PostgreSQL).
REFERENCE_SHAPE = re.compile(r"^[A-Za-z0-9-]{1,32}$")
CURSOR_SALT = "services.api.cases.cursor"
VIA_KEY = "via_api_client"

# --- "via API client X" on the engine's records ----------------------------------------------

_calling_client: ContextVar = ContextVar("dgbox_api_calling_client", default=None)


@contextmanager
def on_behalf_of(client):
    """Case events written inside the block say they were made through `client`."""
    token = _calling_client.set(client)
    try:
        yield
    finally:
        _calling_client.reset(token)


@receiver(pre_save, sender=CaseEvent, dispatch_uid="api-case-event-via-client")
def _stamp_calling_client(sender, instance, **kwargs):
    # The engine writes its events itself (take, add_note); this adds the client to each one
    # written while an API call acts, without the engine knowing about API clients.
    client = _calling_client.get()
    if client is not None and instance.pk is None:
        instance.data = {**(instance.data or {}),
                         VIA_KEY: {"id": client.pk, "name": client.name}}


def audit_actor(request):
    """The service account, "via API client <name>", for the audit trail."""
    person = user_actor(request.user)
    return Actor(person.id, f"{person.display} via API client {client_of(request).name}")


def audit_details(request, **extra):
    client = client_of(request)
    return {"api_client": client.pk, "api_client_name": client.name, **extra}


# --- Who may call ---------------------------------------------------------------------------


class HasServiceAccount(permissions.BasePermission):
    """The client acts as an active staff account that may work on cases (as the inbox's
    `services.view_case`)."""

    def has_permission(self, request, view):
        client = client_of(request)
        if client.service_user_id is None:
            raise exceptions.PermissionDenied(_(
                "This API client has no service account. Case work is done as a member of "
                "staff: ask the administrator to give the client a service account in the "
                "case workers' group."))
        user = client.service_user
        if not user.is_active:
            raise exceptions.PermissionDenied(_(
                "This API client's service account is deactivated. Ask the administrator to "
                "reactivate it or to give the client another one."))
        if not user.has_perm("services.view_case"):
            raise exceptions.PermissionDenied(_(
                "This API client's service account may not work on cases. Ask the "
                "administrator to give it the case worker role."))
        return True


class CaseWorkView(ScopedV1, GenericAPIView):
    required_scope = Scope.CASE_WORK
    permission_classes = [HasScope, HasServiceAccount]
    parser_classes = [JSONParser]

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Cache-Control"] = "no-store"  # personal data: never in a shared cache
        return response

    def groups(self):
        if not hasattr(self, "_groups"):
            self._groups = engine.user_groups(self.request.user)
        return self._groups

    def visible(self, queryset):
        """`queryset` narrowed to the cases this account may see."""
        user = self.request.user
        if user.is_superuser:
            return queryset
        return queryset.filter(Q(group="") | Q(group__in=sorted(self.groups())))

    def get_case(self, reference):
        if not REFERENCE_SHAPE.match(reference):
            raise Http404
        found = (self.visible(Case.objects.by_reference(reference))
                 .select_related("service__page", "form_version", "workflow_version",
                                 "assignee", "entered_by").first())
        if found is None:
            raise exceptions.NotFound(_("No case %(reference)s that this client may see.")
                                      % {"reference": reference.upper()})
        return found


PROBLEMS = {code: OpenApiResponse(description=text) for code, text in (
    (400, "Invalid parameters or body (problem JSON with `errors`)."),
    (401, "No key, or a key this tenant does not know (problem JSON)."),
    (403, "No cases:work scope, no usable service account, or a step of another group."),
    (404, "No such case for this client (problem JSON)."),
)}


# --- The list ---------------------------------------------------------------------------------


def _after(queryset, position):
    """Rows after `position` (due date, submitted at, id) in inbox order (due date first,
    cases without one last, then the oldest, then id): keyset pagination, so a page costs
    the same at the millionth case as at the first and never skips or repeats a row."""
    due, submitted, pk = position
    later = Q(submitted_at__gt=submitted) | Q(submitted_at=submitted, id__gt=pk)
    if due is None:
        return queryset.filter(Q(due_date__isnull=True) & later)
    return queryset.filter(Q(due_date__gt=due) | Q(due_date__isnull=True)
                           | (Q(due_date=due) & later))


def _cursor(case):
    return signing.dumps([case.due_date.isoformat() if case.due_date else None,
                          case.submitted_at.isoformat(), case.pk], salt=CURSOR_SALT)


def _position(cursor):
    try:
        due, submitted, pk = signing.loads(cursor, salt=CURSOR_SALT)
        return (datetime.date.fromisoformat(due) if due else None,
                datetime.datetime.fromisoformat(submitted), int(pk))
    except (signing.BadSignature, ValueError, TypeError) as exc:
        raise exceptions.ValidationError({"cursor": [_(
            "This cursor is not one this API gave. Start again without it.")]}) from exc


def _filtered(view, given):
    cases = view.visible(query.inbox())
    closed = given.get("closed") or "open"
    if closed == "open":
        cases = query.open_only(cases)
    elif closed == "closed":
        cases = query.closed_only(cases)
    if given.get("status"):
        cases = cases.filter(status__in=given["status"])
    if given.get("service"):
        cases = cases.filter(service__page__slug=given["service"])
    if "group" in given:
        cases = cases.filter(group=given["group"])
    if given.get("assignee"):
        cases = query.assigned_to(cases, given["assignee"], me=view.request.user)
    if given.get("sla") == "overdue":
        cases = query.overdue(cases)
    elif given.get("sla") == "nearing":
        cases = query.nearing(cases)
    if given.get("channel"):
        cases = cases.filter(channel=given["channel"])
    if given.get("submitted_since"):
        cases = cases.filter(submitted_at__gte=given["submitted_since"])
    if given.get("submitted_until"):
        cases = cases.filter(submitted_at__lte=given["submitted_until"])
    if given.get("updated_since"):
        cases = cases.filter(updated_at__gte=given["updated_since"])
    reference = " ".join((given.get("reference") or "").split()).upper()
    if reference:
        cases = (cases.filter(reference=reference) if query.REFERENCE_RE.match(reference)
                 else cases.filter(reference__icontains=reference))
    return cases


def _services():
    """{service id: {slug, title}} for every online service of the tenant: one query."""
    return {pk: {"slug": slug, "title": title} for pk, slug, title in
            OnlineService.objects.values_list("id", "page__slug", "page__title")}


def _summary(case, *, services, versions, lang, day, horizon, link):
    return {
        "reference": case.reference, "url": f"{link}{case.reference}",
        "service": services.get(case.service_id, {"slug": "", "title": ""}),
        "status": case.status, "status_label": query.state_label(case, versions, lang),
        "group": case.group,
        "assignee": ({"id": case.assignee.pk, "name": query.display_name(case.assignee)}
                     if case.assignee_id else None),
        "channel": case.channel, "applicant_name": case.applicant_name,
        "due_date": case.due_date, "sla": query.deadline_state(case, day, horizon),
        "submitted_at": case.submitted_at, "updated_at": case.updated_at,
        "closed_at": case.closed_at,
    }


def _case_link(request):
    return request.build_absolute_uri(reverse("api-v1:case", args=["X"]))[:-1]


class CaseList(CaseWorkView):
    """The cases this client's service account sees in the staff inbox, in inbox order (due
    date first, then the oldest), open ones unless `closed` says otherwise."""

    serializer_class = io.CasePage

    @extend_schema(operation_id="cases_list", parameters=[io.CaseFilters],
                   responses={200: io.CasePage, **PROBLEMS})
    def get(self, request):
        filters = io.CaseFilters(data=request.query_params)
        filters.is_valid(raise_exception=True)
        given = filters.validated_data
        cases = query.in_inbox_order(_filtered(self, given)).only(*query.LIST_FIELDS,
                                                                  "updated_at")
        if given.get("cursor"):
            cases = _after(cases, _position(given["cursor"]))
        limit = given["limit"]
        rows = list(cases[:limit + 1])
        more, rows = len(rows) > limit, rows[:limit]
        day = query.today()
        context = {"services": _services(), "versions": query.workflow_versions(),
                   "lang": query.language(), "day": day,
                   "horizon": sla.add_working_days(day, sla.NEARING_DAYS),
                   "link": _case_link(request)}
        following = None
        if more:
            params = request.query_params.copy()
            params["cursor"] = _cursor(rows[-1])
            following = f"{request.build_absolute_uri(request.path)}?{params.urlencode()}"
        return Response(io.CasePage({"results": [_summary(c, **context) for c in rows],
                                     "next": following}).data)


# --- One case ---------------------------------------------------------------------------------


def _file_info(stored, link):
    return {"id": stored.pk, "field": stored.field_name, "name": stored.original_name,
            "content_type": stored.content_type, "size": stored.size, "sha256": stored.sha256,
            "uploaded_at": stored.uploaded_at, "download": f"{link}files/{stored.pk}"}


def _detail(view, case):
    request, lang = view.request, query.language()
    flow = engine.definition(case)
    link = f"{_case_link(request)}{case.reference}/"
    files = list(query.files(case))
    by_id = {str(f.pk): _file_info(f, link) for f in files}
    answers = []
    for row in answer_rows(case.form_version.spec, case.answers or {}):
        raw = case.answers[row["name"]]
        file_id = raw.get("file") if isinstance(raw, dict) else None
        answers.append({**row, "value": str(row["value"]), "raw": raw,
                        "file": by_id.get(str(file_id)) if file_id else None})
    events = list(query.history(case))
    readable = readable_history(case, events, files, lang)
    version = {case.workflow_version_id: case.workflow_version} if case.workflow_version_id \
        else {}
    day = query.today()
    transitions = [{
        "code": t["code"], "label": _label(t["label"], lang), "to": t["to"],
        "to_label": workflowspec.label(flow, t["to"], lang),
        "ends_case": bool(workflowspec.state(flow, t["to"]).get("terminal")),
        "requires": [{"field": r, "label": str(workflowspec.REQUIREMENTS[r])}
                     for r in t.get("requires") or []],
    } for t in engine.available(case, request.user)]
    services = {case.service_id: {"slug": case.service.page.slug if case.service.page_id
                                  else "", "title": case.service.page.title
                                  if case.service.page_id else ""}}
    return io.CaseDetail({
        **_summary(case, services=services, versions=version, lang=lang, day=day,
                   horizon=sla.add_working_days(day, sla.NEARING_DAYS),
                   link=_case_link(request)),
        "language": case.language,
        "applicant": {"name": case.applicant_name, "email": case.applicant_email,
                      "phone": case.applicant_phone},
        "decision_reason": case.decision_reason,
        "answers": answers,
        "files": list(by_id.values()),
        "events": [{"kind": event.kind, "text": str(item["text"]), "at": event.at,
                    "actor": str(item["actor"]), "actor_role": event.actor_role,
                    "public": event.public,
                    "via_api_client": (event.data or {}).get(VIA_KEY, {}).get("name")}
                   for event, item in zip(events, readable, strict=True)],
        "notes": [{"id": n.pk, "kind": n.kind, "text": n.text,
                   "author": query.display_name(n.author), "created_at": n.created_at}
                  for n in query.notes(case)],
        "transitions": transitions,
    }).data


def _label(labels, lang):
    return (labels or {}).get(lang) or (labels or {}).get("ru") or (labels or {}).get("en") or ""


REFERENCE_PARAMETER = OpenApiParameter("reference", str, OpenApiParameter.PATH,
                                       description="The case's reference, e.g. NRT-2026-000123.")


class CaseRead(CaseWorkView):
    """One case as the staff case page shows it: answers, files, history, notes and the
    steps the service account may take now. Recorded in the audit trail as a view."""

    serializer_class = io.CaseDetail

    @extend_schema(operation_id="cases_read", parameters=[REFERENCE_PARAMETER],
                   responses={200: io.CaseDetail, **PROBLEMS})
    def get(self, request, reference):
        case = self.get_case(reference)
        audit(AuditKind.CASE_VIEWED, case.reference, obj=case, actor=audit_actor(request),
              details=audit_details(request))
        return Response(_detail(self, case))


class CaseTransition(CaseWorkView):
    """Take one step of the case's workflow through the engine, as the service account."""

    serializer_class = io.CaseTransitionRequest

    @extend_schema(operation_id="cases_transition", parameters=[REFERENCE_PARAMETER],
                   request=io.CaseTransitionRequest, responses={
                       200: io.CaseDetail, **PROBLEMS,
                       409: OpenApiResponse(description="The case changed since "
                                            "expected_state, or its state does not allow "
                                            "the step.")})
    def post(self, request, reference):
        case = self.get_case(reference)
        body = io.CaseTransitionRequest(data=request.data)
        body.is_valid(raise_exception=True)
        code, expected = body.validated_data["transition"], body.validated_data["expected_state"]
        values = body.validated_data["values"]
        refused = self.refusal(case, code, expected, values)
        if refused is not None:
            return refused
        try:
            with on_behalf_of(client_of(request)):
                engine.take(case.pk, code, actor=request.user, expected_state=expected,
                            values=values)
        except engine.ConflictError as exc:
            return problem(status.HTTP_409_CONFLICT, exc)
        except engine.TransitionError as exc:  # what changed under the lock since refusal()
            return problem(status.HTTP_409_CONFLICT, exc)
        return Response(_detail(self, self.get_case(case.reference)))

    def refusal(self, case, code, expected, values):
        """The engine's checks, in the engine's order, made first so that each refusal gets
        its own status: the engine repeats them under the row lock (a race ends in 409)."""
        flow = engine.definition(case)
        if case.status != expected:
            return problem(409, _(
                "Someone else changed this case while you were looking at it: it is now "
                "“%(state)s”. Reload the case and check before acting.")
                % {"state": workflowspec.label(flow, case.status, query.language())})
        transition = next((t for t in flow["transitions"] if t["code"] == code), None)
        if transition is None:
            known = ", ".join(t["code"] for t in flow["transitions"])
            message = _("This case's workflow has no step “%(code)s”. Its steps: %(known)s.") % {
                "code": code, "known": known}
            return problem(400, message, errors={"transition": [message]})
        if case.status not in transition["from"]:
            return problem(409, _("“%(step)s” cannot be taken while the case is “%(state)s”.")
                           % {"step": _label(transition["label"], query.language()),
                              "state": workflowspec.label(flow, case.status,
                                                          query.language())})
        if not engine.may_take(transition, self.request.user, self.groups()):
            return problem(403, _("Only members of “%(group)s” can take this step; this "
                                  "client's service account is not one.")
                           % {"group": transition["group"]})
        missing = [r for r in transition.get("requires") or [] if not values.get(r)]
        if missing:
            labels = ", ".join(str(workflowspec.REQUIREMENTS[r]) for r in missing)
            return problem(400, _("Fill in: %(fields)s.") % {"fields": labels},
                           errors={"values": {r: [_("This step requires it.")]
                                              for r in missing}})
        return None


class CaseNotes(CaseWorkView):
    """Add an internal note (only staff see it) through the engine, as the service account."""

    serializer_class = io.CaseNoteRequest

    @extend_schema(operation_id="cases_add_note", parameters=[REFERENCE_PARAMETER],
                   request=io.CaseNoteRequest, responses={201: io.CaseNoteItem, **PROBLEMS})
    def post(self, request, reference):
        case = self.get_case(reference)
        body = io.CaseNoteRequest(data=request.data)
        body.is_valid(raise_exception=True)
        with on_behalf_of(client_of(request)):
            note = engine.add_note(case, body.validated_data["text"], actor=request.user)
        return Response(io.CaseNoteItem({"id": note.pk, "kind": note.kind, "text": note.text,
                                 "author": query.display_name(request.user),
                                 "created_at": note.created_at}).data,
                        status=status.HTTP_201_CREATED)


class CaseFile(CaseWorkView):
    """A file of the case, streamed from the tenant's private storage to the key holder (never
    a public address); recorded in the case history and the audit trail, as for staff."""

    @extend_schema(operation_id="cases_file", parameters=[REFERENCE_PARAMETER],
                   responses={(200, "application/octet-stream"): bytes, **PROBLEMS})
    def get(self, request, reference, file_id):
        case = self.get_case(reference)
        stored = UploadedFile.objects.filter(case=case, pk=file_id).first()
        if stored is None:
            raise exceptions.NotFound(_("This case has no such file."))
        try:
            handle = stored.open()
        except FileNotFoundError as exc:
            raise exceptions.NotFound(_("The file is missing from storage.")) from exc
        with on_behalf_of(client_of(request)):
            CaseEvent.objects.create(case=case, kind=CaseEvent.Kind.FILE_VIEWED,
                                     actor=request.user, actor_role="staff",
                                     data={"file": str(stored.pk), "field": stored.field_name})
        audit(AuditKind.FILE_VIEWED, case.reference, obj=stored, actor=audit_actor(request),
              details=audit_details(request, case=case.pk, field=stored.field_name))
        response = FileResponse(handle, as_attachment=True, filename=stored.download_name,
                                content_type=stored.content_type)
        response["X-Content-Type-Options"] = "nosniff"
        return response

