"""Reading the audit trail: one filter form, query and CSV export shared by the tenant
administrators' screen in the Wagtail admin (`wagtail_hooks`) and the operators' screen in
the console (tenants/console/views.py). Each reads the schema it is served from only: a
tenant's administrators see their tenant's events, operators the platform's."""

import csv
import datetime
import json
from typing import Any

from django import forms
from django.core.paginator import Page, Paginator
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import AuditEvent, Kind
from .service import record

PER_PAGE = 50
CSV_COLUMNS = ["at", "kind", "kind_label", "actor_id", "actor", "client_address",
               "object_type", "object_id", "summary", "details", "request_id"]


class AuditFilterForm(forms.Form):
    """Filters: event kind, actor (name, user name or id), and a date range (inclusive)."""

    kind = forms.ChoiceField(label=_("Event"), required=False,
                             choices=[("", _("All events")), *Kind.choices])
    actor = forms.CharField(label=_("Actor"), required=False, max_length=100,
                            help_text=_("Part of a name or user name, or a user id"))
    since = forms.DateField(label=_("From (date)"), required=False,
                            widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label=_("To (date)"), required=False,
                            widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and since > until:
            raise forms.ValidationError(_("The start date is after the end date."))
        return cleaned


def _day_start(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def filtered(form: AuditFilterForm) -> QuerySet[AuditEvent]:
    """The events the (bound) form asks for, newest first; all of them if it is invalid."""
    events = AuditEvent.objects.order_by("-at", "-id")
    if not form.is_valid():
        return events
    data = form.cleaned_data
    if data["kind"]:
        events = events.filter(kind=data["kind"])
    actor = (data["actor"] or "").strip()
    if actor:
        match = Q(actor_display__icontains=actor)
        if actor.isdigit():
            match |= Q(actor_id=int(actor))
        events = events.filter(match)
    if data["since"]:
        events = events.filter(at__gte=_day_start(data["since"]))
    if data["until"]:
        events = events.filter(at__lt=_day_start(data["until"] + datetime.timedelta(days=1)))
    return events


def _cell(value: Any) -> str:
    """A CSV cell a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_response(events: QuerySet[AuditEvent], filters: dict[str, str]) -> HttpResponse:
    """The filtered events as CSV (UTF-8); the export itself is recorded."""
    record(Kind.AUDIT_EXPORTED, "csv", details={"filters": filters})
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.csv"'
    writer = csv.writer(response)
    writer.writerow(CSV_COLUMNS)
    labels = dict(Kind.choices)
    for event in events.iterator(chunk_size=2000):
        writer.writerow([_cell(v) for v in (
            event.at.isoformat(), event.kind, labels.get(event.kind, event.kind),
            event.actor_id, event.actor_display, event.client_address, event.object_type,
            event.object_id, event.summary,
            json.dumps(event.details, cls=DjangoJSONEncoder, ensure_ascii=False, sort_keys=True),
            event.request_id)])
    return response


def audit_log(request: HttpRequest, template: str, context: dict[str, Any]) -> HttpResponse:
    """The log page (filters, a page of events) or, with `?export=csv`, the CSV of every
    event the filters select."""
    form = AuditFilterForm(request.GET or None)
    events = filtered(form) if form.is_bound else AuditEvent.objects.order_by("-at", "-id")
    filters = {name: str(request.GET[name]) for name in form.fields if request.GET.get(name)}
    if request.GET.get("export") == "csv":
        return csv_response(events, filters)
    page: Page[AuditEvent] = Paginator(events, PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("export", None)
    labels = dict(Kind.choices)
    return render(request, template, {
        **context, "form": form, "page": page, "query": query.urlencode(),
        "rows": [{"event": e, "label": labels.get(e.kind, e.kind),
                  "details": json.dumps(e.details, cls=DjangoJSONEncoder, ensure_ascii=False,
                                        sort_keys=True) if e.details else ""}
                 for e in page.object_list],
    })
