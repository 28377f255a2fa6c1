"""Reads of cases for staff screens, reusable and bounded: each helper returns a QuerySet (or a
small dict) whose cost does not grow with the number of rows shown.

The staff inbox (services/cases/inbox.py) is built from these: `inbox()` is the base list
(one query per page, related rows joined), `open_only()`/`closed_only()`, `overdue()`,
`nearing()`, `assigned_to()` and `search()` narrow it, `in_inbox_order()` sorts it (due date,
then oldest first). What a page needs around the rows (service titles, workflow versions for
state labels, the staff who can take cases) comes from one query each over small tables.
"""

import re

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import get_language

from ..forms.models import OnlineService
from ..workflows import spec as workflowspec
from ..workflows.models import WorkflowVersion
from . import sla
from .models import Case

#: Columns the inbox reads from a case (and its assignee); nothing large (answers) is loaded.
LIST_FIELDS = (
    "id", "reference", "service_id", "status", "workflow_version_id", "channel", "due_date",
    "paused_since", "sla_flag", "closed_at", "submitted_at", "applicant_name", "group",
    "assignee__id", "assignee__username", "assignee__first_name", "assignee__last_name",
)
REFERENCE_RE = re.compile(r"^[A-Z]{2,5}-\d{4}-\d{6}$")
#: Longest search text used (longer input is cut): the searched columns are at most 254 long.
SEARCH_MAX = 100


def language():
    return (get_language() or "ru").split("-")[0]


def today():
    return timezone.localdate()


# --- The inbox list ------------------------------------------------------------------------


def inbox():
    """All cases as the inbox lists them: one query per page, the assignee joined."""
    return Case.objects.select_related("assignee").only(*LIST_FIELDS)


def in_inbox_order(queryset):
    """Due date first (cases without one last), then the oldest submission, then id so that
    pages never overlap."""
    return queryset.order_by(F("due_date").asc(nulls_last=True), "submitted_at", "id")


def slice_by_ids(queryset, bottom, top):
    """Rows bottom..top of an ordered queryset in two steps: their ids first (a narrow sort
    over the case table alone, or an index scan), then the rows with their joins. Deep pages
    (an OFFSET of 100,000) then cost a sort of ids instead of a sort of joined rows."""
    ids = list(queryset.values_list("pk", flat=True)[bottom:top])
    if not ids:
        return []
    found = {row.pk: row for row in queryset.order_by().filter(pk__in=ids)}
    return [found[pk] for pk in ids if pk in found]


def open_only(queryset):
    return queryset.filter(closed_at__isnull=True)


def closed_only(queryset):
    return queryset.filter(closed_at__isnull=False)


def overdue(queryset, day=None):
    """Open cases past their deadline: flagged overdue by the deadline job, or due before
    today while the clock runs (a case waiting for the applicant is not overdue)."""
    day = day or today()
    return open_only(queryset).filter(
        Q(sla_flag="overdue") | Q(due_date__lt=day, paused_since__isnull=True))


def nearing(queryset, day=None):
    """Open cases whose deadline is today or within sla.NEARING_DAYS working days."""
    day = day or today()
    horizon = sla.add_working_days(day, sla.NEARING_DAYS)
    return open_only(queryset).filter(
        Q(sla_flag="nearing") | Q(due_date__gte=day, due_date__lte=horizon,
                                  paused_since__isnull=True)
    ).exclude(sla_flag="overdue")


def deadline_state(case, day=None, horizon=None):
    """'overdue', 'nearing' or '' for one case, the same rule as overdue()/nearing().
    `horizon` (the last day that counts as nearing) can be given to save working it out."""
    if case.closed_at is not None:
        return ""
    day = day or today()
    running = case.paused_since is None
    if case.sla_flag == "overdue" or (running and case.due_date and case.due_date < day):
        return "overdue"
    if case.sla_flag == "nearing":
        return "nearing"
    if running and case.due_date:
        horizon = horizon or sla.add_working_days(day, sla.NEARING_DAYS)
        if case.due_date <= horizon:
            return "nearing"
    return ""


def assigned_to(queryset, who, me=None):
    """`who`: "me", "none" or a user id."""
    if who == "me":
        return queryset.filter(assignee=me)
    if who == "none":
        return queryset.filter(assignee__isnull=True)
    return queryset.filter(assignee_id=int(who))


def search(queryset, text):
    """A full reference finds that case (unique index); anything else is looked for, case
    insensitively, in the reference, the applicant's name and the applicant's email."""
    text = " ".join((text or "").split())[:SEARCH_MAX]
    if not text:
        return queryset
    upper = text.upper()
    if REFERENCE_RE.match(upper):
        return queryset.filter(reference=upper)
    if "@" in text:
        return queryset.filter(applicant_email__icontains=text)
    return queryset.filter(Q(reference__icontains=text) | Q(applicant_name__icontains=text)
                           | Q(applicant_email__icontains=text))


# --- What a page needs around the rows --------------------------------------------------------


def workflow_versions():
    """Every workflow version of the tenant by id (a small table: one row per saved change
    of a workflow), for state labels and state choices."""
    return {v.pk: v for v in WorkflowVersion.objects.only("id", "definition")}


def state_label(case, versions, lang=None):
    version = versions.get(case.workflow_version_id)
    if version is None:
        return case.status_label
    return workflowspec.label(version.definition, case.status, lang or language())


def state_choices(versions, lang=None):
    """(code, label) for every state of every workflow version, first label wins."""
    lang = lang or language()
    seen = {}
    for version in sorted(versions.values(), key=lambda v: -v.pk):  # newest label first
        for item in version.definition.get("states", []):
            seen.setdefault(item["code"], workflowspec.label(version.definition, item["code"],
                                                             lang))
    for code, label in Case.Status.choices:
        seen.setdefault(code, str(label))
    return sorted(seen.items(), key=lambda pair: pair[1])


def staff_groups(versions):
    """Names of the staff groups that take steps in any workflow version."""
    names = {workflowspec.STAFF_GROUP}
    for version in versions.values():
        for transition in version.definition.get("transitions", []):
            if transition.get("group") and transition["group"] != "applicant":
                names.add(transition["group"])
    return names


def service_titles():
    """{service id: title} for every online service (one query, the page title joined)."""
    return dict(OnlineService.objects.order_by("page__title")
                .values_list("id", "page__title"))


def staff(group_names=()):
    """Active users who can work on cases: superusers, anyone with services.view_case
    (directly or through a group), and members of the given staff groups."""
    view_case = Permission.objects.filter(codename="view_case",
                                          content_type__app_label="services")
    condition = (Q(is_superuser=True) | Q(user_permissions__in=view_case)
                 | Q(groups__permissions__in=view_case))
    if group_names:
        condition |= Q(groups__name__in=list(group_names))
    User = get_user_model()
    ids = User.objects.filter(condition).values("pk")
    return (User.objects.filter(is_active=True, pk__in=ids)
            .only("id", "username", "first_name", "last_name")
            .order_by("first_name", "last_name", "username"))


def display_name(user):
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()


def user_names(pks):
    """{user id: display name} for the given ids, one query."""
    pks = {pk for pk in pks if pk}
    if not pks:
        return {}
    User = get_user_model()
    return {u.pk: display_name(u) for u in
            User.objects.filter(pk__in=pks).only("id", "username", "first_name", "last_name")}


# --- One case ----------------------------------------------------------------------------------


def case_detail(pk):
    """One case with what its header shows joined (service page, versions, people)."""
    return (Case.objects.select_related("service__page", "form_version", "workflow_version",
                                        "assignee", "entered_by")
            .get(pk=pk))


def history(case):
    return case.events.select_related("actor").order_by("at", "id")


def notes(case):
    return case.notes.select_related("author").order_by("created_at", "id")


def decisions(case):
    return case.automated_decisions.select_related("reviewed_by").order_by("created_at", "id")


def files(case):
    return case.files.order_by("uploaded_at", "original_name")

