"""Staff screens of cases in Wagtail's admin: the inbox (filters, search, bulk assign) and the
case detail (answers, files, history, notes, automated decisions, next actions), plus files
served only through an authorised view that records who opened which file.

Every write goes through the case engine (services/engine.py): transitions are checked and
atomic there, and its refusals (TransitionError, ConflictError) are shown to staff as messages,
never as a server error. Only users with `services.view_case` reach any of these views; the
engine decides who may take which step. Reads come from services/cases/query.py and cost a fixed
number of queries per page, whatever the number of rows.
"""

import json
import secrets
import time
from urllib.parse import urlencode

import django_filters
from django import forms
from django.contrib.auth.decorators import permission_required
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F
from django.http import FileResponse, Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import dateformat, timezone
from django.utils.formats import get_format
from django.utils.functional import cached_property
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from wagtail.admin import messages
from wagtail.admin.filters import WagtailFilterSet
from wagtail.admin.paginator import WagtailPaginator
from wagtail.admin.ui.tables import BaseColumn, Column
from wagtail.admin.views.generic import IndexView
from wagtail.permission_policies import ModelPermissionPolicy

from tenants import staff
from tenants.audit.models import Kind as AuditKind
from tenants.audit.service import keyed_hash
from tenants.audit.service import record as audit

from ..applications.models import UploadedFile
from ..forms.spec import answer_rows
from ..workflows import spec as workflowspec
from . import engine, query, sla
from .models import AutomatedDecision, Case, CaseEvent, CaseNote, Channel

can_view = permission_required("services.view_case", raise_exception=True)
NOTE_MAX = 4000
# Inbox searches by name never travel in a URL (nor so in access logs): the term is posted,
# kept in the session under a random token, and the inbox is opened with `?search=<token>`.
SEARCHES = "dgbox_inbox_searches"
SEARCH_SECONDS = 30 * 60
SEARCHES_KEPT = 10
SEARCH_MAX = 255


# --- Inbox -------------------------------------------------------------------------------


class CaseFilterSet(WagtailFilterSet):
    """The inbox's filters; choices that depend on the tenant (services, states, staff) are
    given by the view, from queries it makes once per request."""

    service = django_filters.ChoiceFilter(label=gettext_lazy("Service"),
                                          field_name="service_id", choices=[],
                                          empty_label=gettext_lazy("All services"))
    status = django_filters.MultipleChoiceFilter(label=gettext_lazy("State"),
                                                 field_name="status", choices=[],
                                                 distinct=False,
                                                 widget=forms.CheckboxSelectMultiple)
    assignee = django_filters.ChoiceFilter(label=gettext_lazy("Assigned to"),
                                           method="filter_assignee", choices=[],
                                           empty_label=gettext_lazy("Anyone"))
    deadline = django_filters.ChoiceFilter(
        label=gettext_lazy("Deadline"), method="filter_deadline",
        choices=[("overdue", gettext_lazy("Overdue")), ("nearing", gettext_lazy("Due soon"))],
        empty_label=gettext_lazy("Any"))
    channel = django_filters.ChoiceFilter(label=gettext_lazy("Channel"),
                                          choices=Channel.choices,
                                          empty_label=gettext_lazy("Any"))
    closed = django_filters.ChoiceFilter(
        label=gettext_lazy("Open or closed"), method="filter_closed",
        choices=[("closed", gettext_lazy("Closed")), ("all", gettext_lazy("Open and closed"))],
        empty_label=gettext_lazy("Open"))

    class Meta:
        model = Case
        fields = []

    def __init__(self, data=None, queryset=None, *, request=None, prefix=None, choices=None):
        super().__init__(data, queryset, request=request, prefix=prefix)
        for name, values in (choices or {}).items():
            self.filters[name].extra["choices"] = values

    def filter_assignee(self, queryset, _name, value):
        return query.assigned_to(queryset, value, me=self.request.user)

    def filter_deadline(self, queryset, _name, value):
        return query.overdue(queryset) if value == "overdue" else query.nearing(queryset)

    def filter_closed(self, queryset, _name, value):
        return query.closed_only(queryset) if value == "closed" else queryset

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        if not self.form.cleaned_data.get("closed"):
            queryset = query.open_only(queryset)  # the inbox shows open cases by default
        return queryset


class SelectColumn(BaseColumn):
    """The header of the checkbox column for bulk assignment (select all on the page)."""

    header_template_name = "services/admin/cells/select_header.html"


class CasePaginator(WagtailPaginator):
    """Pages of cases fetched as ids first, then rows (query.slice_by_ids)."""

    def page(self, number):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        return self._get_page(query.slice_by_ids(self.object_list, bottom, top), number, self)


class CaseIndexView(IndexView):
    """The staff inbox: open cases by default, the most urgent first."""

    model = Case
    page_title = gettext_lazy("Cases")
    header_icon = "folder-open-inverse"
    index_url_name = "services_cases"
    index_results_url_name = "services_cases_results"
    template_name = "services/admin/case_list.html"
    results_template_name = "services/admin/case_list_results.html"
    paginate_by = 50
    paginator_class = CasePaginator
    default_ordering = "due_date"
    filterset_class = CaseFilterSet
    search_fields = ["reference", "applicant_name", "applicant_email"]
    is_searchable = False  # Wagtail's search box sends the term in the URL; see case_search
    any_permission_required = ["view"]
    permission_policy = ModelPermissionPolicy(Case)
    ORDERINGS = {
        "due_date": (query.in_inbox_order, None),
        "submitted_at": (None, ("submitted_at", "id")),
        "-submitted_at": (None, ("-submitted_at", "-id")),
        "reference": (None, ("reference",)),
        "-reference": (None, ("-reference",)),
    }

    @cached_property
    def verbose_name_plural(self):
        return _("cases")

    @cached_property
    def versions(self):
        return query.workflow_versions()

    @cached_property
    def services(self):
        return query.service_titles()

    @cached_property
    def staff(self):
        return list(query.staff(query.staff_groups(self.versions)))

    def get_filterset_kwargs(self):
        user = self.request.user
        people = [("me", _("Me")), ("none", _("Nobody (unassigned)"))]
        people += [(str(u.pk), query.display_name(u)) for u in self.staff if u.pk != user.pk]
        return {**super().get_filterset_kwargs(), "choices": {
            "service": [(str(pk), title) for pk, title in self.services.items()],
            "status": query.state_choices(self.versions),
            "assignee": people,
        }}

    def get_base_queryset(self):
        return query.inbox()

    def get_valid_orderings(self):
        return [*self.ORDERINGS, "-due_date"]

    def order_queryset(self, queryset):
        ordering = self.ordering or self.default_ordering
        if ordering == "-due_date":
            return queryset.order_by(F("due_date").desc(nulls_last=True), "-submitted_at",
                                     "-id")
        function, fields = self.ORDERINGS.get(ordering, self.ORDERINGS["due_date"])
        return function(queryset) if function else queryset.order_by(*fields)

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        if not (self.filters and self.filters.is_valid()):
            queryset = query.open_only(queryset)  # an unusable filter still hides closed cases
        return queryset

    @cached_property
    def search_token(self):
        return self.request.GET.get("search", "")[:40]

    @cached_property
    def search_query(self):
        """The term posted to case_search, found by the URL's token in the session."""
        return searched_term(self.request, self.search_token)

    def search_queryset(self, queryset):
        return query.search(queryset, self.search_query) if self.is_searching else queryset

    @cached_property
    def columns(self):
        """The table's headers (labels, sort links). Rows are rendered by one template loop
        over row_values() instead of a template per cell: 50 rows x 9 cells of Wagtail's
        per-cell components cost ~100 ms a page; the loop a few."""
        return [
            SelectColumn("select", label=_("Select")),
            Column("reference", label=_("Reference"), sort_key="reference"),
            Column("service", label=_("Service")),
            Column("applicant_name", label=_("Applicant")),
            Column("state", label=_("State")),
            Column("assignee", label=_("Assigned to")),
            Column("due_date", label=_("Due"), sort_key="due_date"),
            Column("channel", label=_("Channel")),
            Column("submitted_at", label=_("Sent"), sort_key="submitted_at"),
        ]

    def row_values(self, cases):
        versions, services, lang = self.versions, self.services, query.language()
        day = query.today()
        horizon = sla.add_working_days(day, sla.NEARING_DAYS)
        link = reverse("services_case", args=[0]).rsplit("0/", 1)[0]  # reversed once, not 50x
        short = get_format("SHORT_DATE_FORMAT")
        zone = timezone.get_current_timezone()
        return [{
            "id": str(case.pk), "reference": case.reference, "url": f"{link}{case.pk}/",
            "service": services.get(case.service_id, ""),
            "applicant": case.applicant_name,
            "state": query.state_label(case, versions, lang),
            "assignee": query.display_name(case.assignee),
            "due_iso": case.due_date.isoformat() if case.due_date else "",
            "due": dateformat.format(case.due_date, short) if case.due_date else "",
            "deadline": query.deadline_state(case, day, horizon),
            "channel": case.get_channel_display(),
            "sent": dateformat.format(case.submitted_at.astimezone(zone), short),
        } for case in cases]

    def get_context_data(self, *args, **kwargs):
        context = super().get_context_data(*args, **kwargs)
        params = self.request.GET.copy()
        params.pop("_w_filter_fragment", None)
        context["next_url"] = self.index_url + (f"?{params.urlencode()}" if params else "")
        context["assignees"] = [(u.pk, query.display_name(u)) for u in self.staff]
        context["rows"] = self.row_values(context["object_list"])
        context["search_term"] = self.search_query
        context["search_token"] = self.search_token if self.search_query else ""
        context["search_expired"] = bool(self.search_token and not self.search_query)
        context["is_searching"] = self.is_searching
        return context


def searched_term(request, token):
    """The search term kept under `token` in this session, if it has not expired."""
    entry = request.session.get(SEARCHES, {}).get(token) if token else None
    if not entry or time.time() - entry["at"] > SEARCH_SECONDS:
        return ""
    return entry["q"]


@never_cache
@can_view
@require_POST
def case_search(request):
    """Search the inbox by reference, applicant's name or e-mail without the term ever being
    in a URL: it is kept in the session under a random token, valid SEARCH_SECONDS, and the
    search is recorded in the audit trail as a keyed hash and a length only."""
    term = " ".join((request.POST.get("q") or "").split())[:SEARCH_MAX]
    target = reverse("services_cases")
    if not term or request.POST.get("clear"):
        return HttpResponseRedirect(target)
    now = time.time()
    kept = {token: entry for token, entry in request.session.get(SEARCHES, {}).items()
            if now - entry["at"] <= SEARCH_SECONDS}
    token = secrets.token_urlsafe(12)
    kept[token] = {"q": term, "at": now}
    request.session[SEARCHES] = dict(sorted(kept.items(), key=lambda item: item[1]["at"])
                                     [-SEARCHES_KEPT:])
    audit(AuditKind.INBOX_SEARCHED, "", details={"query_hash": keyed_hash(term),
                                                 "length": len(term)})
    return HttpResponseRedirect(f"{target}?{urlencode({'search': token})}")


case_list = never_cache(CaseIndexView.as_view())
case_list_results = never_cache(CaseIndexView.as_view(results_only=True))


def _staff_member(value, group_names, me):
    """The user a form chose to assign to ("me", "" for nobody, or an id), if allowed."""
    if value == "me":
        return me, True
    if value in ("", "none"):
        return None, True
    try:
        pk = int(value)
    except (TypeError, ValueError):
        return None, False
    found = query.staff(group_names).filter(pk=pk).first()
    return found, found is not None


def _back(request, default):
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return HttpResponseRedirect(target)
    return HttpResponseRedirect(default)


@never_cache
@can_view
@require_POST
def bulk_assign(request):
    """Assign the ticked cases of the inbox to one member of staff: one event per case."""
    index = reverse("services_cases")
    ids = sorted({int(v) for v in request.POST.getlist("case") if v.isdigit()})
    if not ids:
        messages.error(request, _("Tick at least one case to assign."))
        return _back(request, index)
    group_names = query.staff_groups(query.workflow_versions())
    group_names |= set(Case.objects.filter(pk__in=ids).exclude(group="")
                       .values_list("group", flat=True).distinct())
    assignee, ok = _staff_member(request.POST.get("assignee", ""), group_names, request.user)
    if not ok:
        messages.error(request, _("Choose a member of staff who works on cases."))
        return _back(request, index)
    count = engine.assign(ids, assignee, actor=request.user)
    if assignee is None:
        messages.success(request, _("%(count)s case(s) unassigned.") % {"count": count})
    else:
        messages.success(request, _("%(count)s case(s) assigned to %(name)s.")
                         % {"count": count, "name": query.display_name(assignee)})
    return _back(request, index)


# --- Case detail ----------------------------------------------------------------------------


class TransitionForm(forms.Form):
    """One next action: the fields its transition requires and the state the member of staff
    saw (so that a change made meanwhile by someone else is caught)."""

    expected_state = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, transition, *args, **kwargs):
        kwargs.setdefault("auto_id", f"id_{transition['code']}_%s")
        super().__init__(*args, **kwargs)
        self.transition = transition
        for requirement in transition.get("requires") or []:
            self.fields[requirement] = forms.CharField(
                label=workflowspec.REQUIREMENTS[requirement], max_length=NOTE_MAX,
                widget=forms.Textarea(attrs={"rows": 3}))

    def values(self):
        return {k: v for k, v in self.cleaned_data.items() if k != "expected_state"}


class NoteForm(forms.Form):
    text = forms.CharField(label=gettext_lazy("Internal note"), max_length=NOTE_MAX,
                           widget=forms.Textarea(attrs={"rows": 3}),
                           help_text=gettext_lazy("Only staff see internal notes."))


def _label(labels, lang):
    return (labels or {}).get(lang) or (labels or {}).get("ru") or (labels or {}).get("en") or ""


def readable_history(case, events, files, lang):
    """Each event in words staff can read; people looked up in one query."""
    flow = case.workflow_version.definition if case.workflow_version_id else None
    steps = {t["code"]: t for t in (flow or {}).get("transitions", [])}
    names = query.user_names(e.data.get("assignee") for e in events
                             if e.kind == CaseEvent.Kind.ASSIGNED)
    file_names = {str(f.pk): f.original_name for f in files}

    def state(code):
        return workflowspec.label(flow, code, lang) if flow else code

    items = []
    for event in events:
        data, kind, K = event.data or {}, event.kind, CaseEvent.Kind
        text = event.get_kind_display()
        if kind == K.SUBMITTED:
            text = _("Application received (%(channel)s, form version %(version)s).") % {
                "channel": dict(Channel.choices).get(data.get("channel"), data.get("channel")),
                "version": data.get("form_version", "?")}
        elif kind == K.STATUS:
            step = steps.get(data.get("transition"))
            text = _("%(step)s: %(from)s → %(to)s.") % {
                "step": _label(step["label"], lang) if step else data.get("transition", ""),
                "from": state(data.get("from")), "to": state(data.get("to"))}
            if data.get("automatic"):
                text += " " + _("(automatic)")
        elif kind == K.ASSIGNED:
            who = data.get("assignee")
            text = (_("Assigned to %(name)s.") % {"name": names.get(who, f"#{who}")}
                    if who else _("Unassigned."))
        elif kind == K.AUTO_DECISION:
            text = (_("Automatic decision by the rule “%(rule)s” reviewed.") if data.get("reviewed")
                    else _("Automatic decision by the rule “%(rule)s”: %(outcome)s.")) % {
                        "rule": data.get("rule", ""), "outcome": data.get("outcome", "")}
        elif kind == K.FILE_VIEWED:
            text = _("File opened: %(name)s.") % {
                "name": file_names.get(data.get("file"), data.get("field", ""))}
        elif kind == K.PAYMENT:
            text = _("Payment %(status)s: %(amount)s.") % {
                "status": data.get("status", ""), "amount": data.get("amount", "")}
        elif kind == K.ROUTED:
            text = _("Routed to the group “%(group)s”.") % {
                "group": staff.group_label(data.get("group", ""))}
        elif kind == K.EXPORTED:
            text = _("Case data exported (%(format)s).") % {"format": data.get("format", "")}
        items.append({"at": event.at, "text": text, "public": event.public,
                      "actor": query.display_name(event.actor) if event.actor_id
                      else (_("Applicant") if event.actor_role == "applicant" else _("System"))})
    return items


def _decision_row(decision, steps, lang):
    """An automated decision as staff read it: the rule's condition as JSON, what it read,
    and its outcome in words."""
    rule = decision.rule if isinstance(decision.rule, dict) else {}
    outcome = decision.outcome
    if outcome.startswith("route:"):
        outcome = _("Routed to the group “%(group)s”.") % {
            "group": staff.group_label(outcome.split(":", 1)[1])}
    elif outcome in steps:
        outcome = _label(steps[outcome]["label"], lang)
    return {
        "pk": decision.pk, "rule_name": decision.rule_name,
        "when": json.dumps(rule.get("when"), ensure_ascii=False),
        "inputs": [(name, _input_text(value))
                   for name, value in sorted((decision.inputs or {}).items())],
        "outcome": outcome,
        "created_at": decision.created_at, "reviewed_at": decision.reviewed_at,
        "reviewed_by": query.display_name(decision.reviewed_by),
    }


def _input_text(value):
    """A value a rule read, in words; a register's source as "name: key …, N records,
    imported …" (what the register held when the rule read it)."""
    if isinstance(value, dict) and "register" in value:
        return _("%(register)s: key %(key)s, %(records)s records, imported %(imported)s") % {
            "register": value.get("register"), "key": value.get("key") or "—",
            "records": value.get("records", "—"), "imported": value.get("imported_at") or "—"}
    return value


def _detail_context(request, case, bound=None, note_form=None):
    lang = query.language()
    flow = engine.definition(case)
    forms_ = []
    for transition in engine.available(case, request.user):
        form = bound if bound is not None and bound.transition["code"] == transition["code"] \
            else TransitionForm(transition, initial={"expected_state": case.status})
        forms_.append({"code": transition["code"], "label": _label(transition["label"], lang),
                       "form": form, "ends_case": workflowspec.state(
                           flow, transition["to"]).get("terminal", False)})
    steps = {t["code"]: t for t in flow["transitions"]}
    files = list(query.files(case))
    events = list(query.history(case))
    group_names = {t["group"] for t in flow["transitions"] if t["group"] != engine.APPLICANT}
    if case.group:
        group_names.add(case.group)
    notes = list(query.notes(case))
    return {
        "case": case,
        "state_label": workflowspec.label(flow, case.status, lang),
        "service_title": case.service.page.title if case.service.page_id else case.service.slug,
        "deadline_state": query.deadline_state(case),
        "rows": answer_rows(case.form_version.spec, case.answers),
        "files": files,
        "history": readable_history(case, events, files, lang),
        "notes": notes,
        "decisions": [_decision_row(d, steps, lang) for d in query.decisions(case)],
        "actions": forms_,
        "note_form": note_form or NoteForm(),
        "assignees": [(u.pk, query.display_name(u)) for u in query.staff(group_names)],
        "assignee_name": query.display_name(case.assignee),
        "entered_by_name": query.display_name(case.entered_by),
        "breadcrumbs_items": [
            {"url": reverse("wagtailadmin_home"), "label": _("Home")},
            {"url": reverse("services_cases"), "label": _("Cases")},
            {"url": "", "label": case.reference},
        ],
        "header_title": case.reference,
        "header_icon": "folder-open-inverse",
    }


def _form_problems(form):
    """One line for the messages area: the fields left empty, then any other problem."""
    missing, other = [], []
    for name, errors in form.errors.as_data().items():
        label = str(form.fields[name].label) if name in form.fields else name
        if any(error.code == "required" for error in errors):
            missing.append(label)
        else:
            other.append(f"{label}: {' '.join(m for e in errors for m in e.messages)}")
    parts = [_("Fill in: %(fields)s.") % {"fields": ", ".join(missing)}] if missing else []
    return " ".join(parts + other)


def _case_or_404(pk):
    try:
        return query.case_detail(pk)
    except Case.DoesNotExist as exc:
        raise Http404("No such case.") from exc


def _render_detail(request, case, status=200, **kwargs):
    return render(request, "services/admin/case_detail.html",
                  _detail_context(request, case, **kwargs), status=status)


@never_cache
@can_view
def case_detail(request, pk):
    case = _case_or_404(pk)
    audit(AuditKind.CASE_VIEWED, case.reference, obj=case)
    return _render_detail(request, case)


@never_cache
@can_view
@require_POST
def case_transition(request, pk, code):
    """Take one next action. Refusals are shown on the case page, with what was typed kept."""
    case = _case_or_404(pk)
    flow = engine.definition(case)
    transition = next((t for t in flow["transitions"] if t["code"] == code), None)
    if transition is None:
        raise Http404("No such step in this case's engine.")
    form = TransitionForm(transition, request.POST)
    if not form.is_valid():
        messages.error(request, _form_problems(form))
        return _render_detail(request, case, status=400, bound=form)
    try:
        case = engine.take(case.pk, code, actor=request.user,
                             expected_state=form.cleaned_data["expected_state"],
                             values=form.values())
    except engine.ConflictError as exc:
        messages.error(request, str(exc))
        return _render_detail(request, _case_or_404(pk), status=409)
    except engine.TransitionError as exc:
        messages.error(request, str(exc))
        return _render_detail(request, _case_or_404(pk), status=400, bound=form)
    lang = query.language()
    messages.success(request, _("%(reference)s: %(step)s done. It is now “%(state)s”.") % {
        "reference": case.reference, "step": _label(transition["label"], lang),
        "state": workflowspec.label(flow, case.status, lang)})
    return HttpResponseRedirect(reverse("services_case", args=[case.pk]))


@never_cache
@can_view
@require_POST
def case_note(request, pk):
    case = _case_or_404(pk)
    form = NoteForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Write the note first (at most %(max)s characters).")
                       % {"max": NOTE_MAX})
        return _render_detail(request, case, status=400, note_form=form)
    engine.add_note(case, form.cleaned_data["text"], actor=request.user)
    messages.success(request, _("Note added."))
    return HttpResponseRedirect(reverse("services_case", args=[case.pk]))


@never_cache
@can_view
@require_POST
def case_assign(request, pk):
    case = _case_or_404(pk)
    flow = engine.definition(case)
    group_names = {t["group"] for t in flow["transitions"] if t["group"] != engine.APPLICANT}
    if case.group:
        group_names.add(case.group)
    assignee, ok = _staff_member(request.POST.get("assignee", ""), group_names, request.user)
    if not ok:
        messages.error(request, _("Choose a member of staff who works on cases."))
    else:
        engine.assign([case.pk], assignee, actor=request.user)
        messages.success(request, _("Assigned to %(name)s.") % {
            "name": query.display_name(assignee)} if assignee else _("Unassigned."))
    return HttpResponseRedirect(reverse("services_case", args=[case.pk]))


@never_cache
@can_view
@require_POST
def decision_review(request, pk, decision_pk):
    """A member of staff confirms they checked an automated decision (recorded once)."""
    with transaction.atomic():
        decision = get_object_or_404(
            AutomatedDecision.objects.select_for_update().filter(case_id=pk), pk=decision_pk)
        if decision.reviewed_at is None:
            decision.reviewed_by = request.user
            decision.reviewed_at = timezone.now()
            decision.save(update_fields=["reviewed_by", "reviewed_at"])
            CaseEvent.objects.create(
                case_id=pk, kind=CaseEvent.Kind.AUTO_DECISION, actor=request.user,
                actor_role="staff", data={"decision": decision.pk, "rule": decision.rule_name,
                                          "outcome": decision.outcome, "reviewed": True})
            messages.success(request, _("Automatic decision marked as reviewed."))
        else:
            messages.info(request, _("This decision was already reviewed."))
    return HttpResponseRedirect(reverse("services_case", args=[pk]) + "#decisions")


@never_cache
@can_view
@require_POST
def case_export(request, pk):
    """Everything held on one case as JSON, for a subject access request or a hand-over;
    the export itself is recorded in the case history."""
    case = _case_or_404(pk)
    with transaction.atomic():
        CaseEvent.objects.create(case=case, kind=CaseEvent.Kind.EXPORTED, actor=request.user,
                                 actor_role="staff", data={"format": "json"})
        audit(AuditKind.CASE_EXPORTED, case.reference, obj=case, details={"format": "json"})
        payload = {
            "reference": case.reference, "service": case.service.slug,
            "status": case.status, "channel": case.channel, "language": case.language,
            "applicant": {"name": case.applicant_name, "email": case.applicant_email,
                          "phone": case.applicant_phone},
            "answers": case.answers,
            "form_version": case.form_version.number,
            "workflow_version": case.workflow_version_id,
            "group": case.group, "assignee": case.assignee_id,
            "due_date": case.due_date, "closed_at": case.closed_at,
            "decision_reason": case.decision_reason, "submitted_at": case.submitted_at,
            "files": [{"id": str(f.pk), "field": f.field_name, "name": f.original_name,
                       "type": f.content_type, "size": f.size, "sha256": f.sha256}
                      for f in query.files(case)],
            "notes": [{"kind": n.kind, "text": n.text, "author": n.author_id,
                       "at": n.created_at} for n in CaseNote.objects.filter(case=case)],
            "automated_decisions": [
                {"rule": d.rule_name, "definition": d.rule, "inputs": d.inputs,
                 "outcome": d.outcome, "at": d.created_at, "reviewed_by": d.reviewed_by_id,
                 "reviewed_at": d.reviewed_at} for d in case.automated_decisions.all()],
            "events": [{"kind": e.kind, "at": e.at, "actor": e.actor_id,
                        "role": e.actor_role, "data": e.data}
                       for e in case.events.order_by("at", "id")],
        }
    response = HttpResponse(json.dumps(payload, cls=DjangoJSONEncoder, ensure_ascii=False,
                                       indent=2), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="{case.reference}.json"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


@never_cache
@can_view
def case_file(request, pk):
    stored = get_object_or_404(UploadedFile.objects.select_related("case"), pk=pk,
                               case__isnull=False)
    try:
        handle = stored.open()
    except FileNotFoundError as exc:
        raise Http404("The file is missing from storage.") from exc
    CaseEvent.objects.create(case_id=stored.case_id, kind=CaseEvent.Kind.FILE_VIEWED,
                             actor=request.user, actor_role="staff",
                             data={"file": str(stored.pk), "field": stored.field_name})
    audit(AuditKind.FILE_VIEWED, stored.case.reference, obj=stored,
          details={"case": stored.case_id, "field": stored.field_name})
    response = FileResponse(handle, as_attachment=True, filename=stored.download_name,
                            content_type=stored.content_type)
    response["X-Content-Type-Options"] = "nosniff"
    return response

