"""Deadline escalation: recompute the SLA flag of every open case and tell staff about cases
that are nearing or past their deadline.

Run per tenant by the periodic task `services.escalate_deadlines` (fanned out to every active
tenant). The flag is the one `services.cases.sla.flag()` gives for "today" in the tenant's time
zone; instead of evaluating it case by case, the three flag values are turned into ranges of
due dates (see `due_ranges()`), so a run is one UPDATE per flag value.

A case whose flag *changes* to "nearing" or "overdue" gets a CaseEvent ESCALATED
{"flag", "due"} and its staff (the members of its group, default "Case workers", and its
assignee) get one e-mail per run listing such cases: reference, service, due date and a link
to the case in the admin, never the applicant's personal data. The e-mails are notifications
of the kind "staff_escalation" (services.notifications: the tenant can reword them), written
to the outbox in the same transaction as the flags and events, so a broker or mail server
outage delays them and never loses them. Running again the same day finds nothing changed and
writes nothing.
"""

import logging
import zoneinfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django.urls import NoReverseMatch, reverse
from django.utils import formats, timezone, translation

from ..forms.models import OnlineService
from ..notifications.api import notify
from ..workflows.spec import STAFF_GROUP
from . import sla
from .models import Case, CaseEvent

log = logging.getLogger(__name__)

NEARING, OVERDUE = "nearing", "overdue"


def tenant_zone(tenant=None):
    """The tenant's time zone (the project's default if it has none or an unknown one)."""
    tenant = tenant if tenant is not None else getattr(connection, "tenant", None)
    name = getattr(tenant, "time_zone", "") or settings.TIME_ZONE
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        log.warning("Unknown time zone %r of tenant %s; using %s", name,
                    connection.schema_name, settings.TIME_ZONE)
        return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def today(now=None, tenant=None):
    """Today's date where the tenant is (deadlines are dates in the tenant's time zone)."""
    return timezone.localdate(now or timezone.now(), tenant_zone(tenant))


def due_ranges(day, off=None):
    """{flag: Q over due_date} equivalent to `sla.flag(due_date, day)`.

    Overdue: due before `day`. Nearing: due from `day` up to (not including) the
    (NEARING_DAYS + 1)-th working day after `day`, i.e. NEARING_DAYS working days or fewer
    remain. On time: due later (or no due date).
    """
    off = sla.holidays() if off is None else off
    horizon = sla.add_working_days(day, sla.NEARING_DAYS + 1, off)
    return {
        OVERDUE: Q(due_date__lt=day),
        NEARING: Q(due_date__gte=day, due_date__lt=horizon),
        "": Q(due_date__isnull=True) | Q(due_date__gte=horizon),
    }


def escalate(day=None):
    """Bring every open case's SLA flag up to date for `day` (default: today in the tenant's
    time zone). Returns {"nearing": n, "overdue": n, "cleared": n} (cases changed)."""
    day = day or today()
    ranges = due_ranges(day)
    open_cases = Case.objects.filter(closed_at__isnull=True)
    running = open_cases.filter(paused_since__isnull=True)
    changed = {}
    with transaction.atomic():
        escalated = []
        for flag in (OVERDUE, NEARING):
            rows = list(running.filter(ranges[flag]).exclude(sla_flag=flag)
                        .select_for_update().order_by("pk")
                        .values("pk", "reference", "due_date", "group", "assignee_id",
                                "service_id"))
            if rows:
                Case.objects.filter(pk__in=[r["pk"] for r in rows]).update(sla_flag=flag)
            escalated += [dict(row, flag=flag) for row in rows]
            changed[flag] = len(rows)
        # Back on time (deadline moved) or paused (take() clears it too): no message.
        changed["cleared"] = (open_cases.filter(ranges[""] | Q(paused_since__isnull=False))
                              .exclude(sla_flag="").update(sla_flag=""))
        if escalated:
            CaseEvent.objects.bulk_create([
                CaseEvent(case_id=row["pk"], kind=CaseEvent.Kind.ESCALATED, actor_role="system",
                          data={"flag": row["flag"], "due": row["due_date"].isoformat()})
                for row in escalated])
            # In this transaction: the messages exist exactly when the flags changed.
            notify_staff(escalated, day)
    return changed


def staff_recipients(escalated):
    """{e-mail address: ([escalated rows], {user ids})} of the staff concerned: the active
    members with an address of each case's group, and its assignee."""
    users = get_user_model().objects.filter(is_active=True).exclude(email="")
    groups = {row["group"] or STAFF_GROUP for row in escalated}
    members = {}
    for user_id, email, group in (users.filter(groups__name__in=groups)
                                  .values_list("pk", "email", "groups__name")):
        members.setdefault(group, set()).add((user_id, email))
    assignees = dict(users.filter(pk__in={r["assignee_id"] for r in escalated
                                          if r["assignee_id"]})
                     .values_list("pk", "email"))
    per_recipient = {}
    for row in escalated:
        recipients = set(members.get(row["group"] or STAFF_GROUP, ()))
        if row["assignee_id"] in assignees:
            recipients.add((row["assignee_id"], assignees[row["assignee_id"]]))
        by_email = {}  # two accounts may share an address: one message
        for user_id, email in recipients:
            by_email.setdefault(email, set()).add(user_id)
        for email, ids in by_email.items():
            rows, user_ids = per_recipient.setdefault(email, ([], set()))
            rows.append(row)
            user_ids |= ids
    return per_recipient


def notify_staff(escalated, day):
    """Write one pending "staff_escalation" e-mail per member of staff concerned, listing
    their escalated cases, in the caller's transaction; the notifications outbox sends each
    once after commit (services/notifications). Returns the messages."""
    per_recipient = staff_recipients(escalated)
    if not per_recipient:
        return []
    titles = dict(OnlineService.objects.filter(pk__in={r["service_id"] for r in escalated})
                  .values_list("pk", "page__title"))
    tenant = connection.tenant
    language = staff_language(tenant)
    base = site_root(tenant)
    messages = []
    for email, (rows, user_ids) in sorted(per_recipient.items()):
        try:
            messages += notify("staff_escalation", language=language, email=email,
                               topic=f"escalation {day.isoformat()}",
                               context=staff_context(rows, titles, language, base))
        except ValidationError:  # raised before anything is written: skip this address
            log.warning("Deadline escalation in %s: the e-mail address of user(s) %s is not "
                        "valid; they get no message. Correct it in Settings → Users.",
                        connection.schema_name, ", ".join(map(str, sorted(user_ids))))
    return messages


#: How each case is listed in a staff message (the {cases} placeholder). The rest of the
#: message is a notification template (services/notifications/defaults.py).
CASE_LINES = {
    "ru": {NEARING: "срок подходит к концу", OVERDUE: "срок истёк",
           "line": "{reference} — {service}\nСрок: {due} ({flag})\n{link}"},
    "en": {NEARING: "deadline is near", OVERDUE: "deadline has passed",
           "line": "{reference} — {service}\nDue: {due} ({flag})\n{link}"},
}
#: References named in the {references} placeholder (e.g. the subject); "…" when more.
REFERENCES_SHOWN = 5


def staff_language(tenant):
    """Staff messages are written in the tenant's default language (English if unknown)."""
    language = (getattr(tenant, "default_language", "") or settings.LANGUAGE_CODE)
    language = language.lower().split("-")[0]
    return language if language in CASE_LINES else "en"


def staff_context(rows, titles, language, base):
    """The placeholder values of a "staff_escalation" message about `rows` (no personal
    data: references, service titles, due dates and links to the admin only)."""
    text = CASE_LINES[language]
    with translation.override(language):
        lines = [text["line"].format(
            reference=row["reference"], service=titles.get(row["service_id"], ""),
            due=formats.date_format(row["due_date"], "SHORT_DATE_FORMAT"),
            flag=text[row["flag"]], link=base + case_path(row["pk"])) for row in rows]
    references = [row["reference"] for row in rows]
    shown = ", ".join(references[:REFERENCES_SHOWN])
    if len(references) > REFERENCES_SHOWN:
        shown += ", …"
    return {"count": len(rows), "references": shown, "cases": "\n\n".join(lines),
            "url": base + cases_path()}


def case_path(pk):
    try:
        return reverse("services_case", args=[pk], urlconf=settings.ROOT_URLCONF)
    except NoReverseMatch:
        return f"/admin/cases/{pk}/"


def cases_path():
    try:
        return reverse("services_cases", urlconf=settings.ROOT_URLCONF)
    except NoReverseMatch:
        return "/admin/cases/"


def site_root(tenant):
    domain = getattr(tenant, "primary_domain", None) or ""
    port = f":{settings.DGBOX_SITE_PORT}" if settings.DGBOX_SITE_PORT else ""
    return f"{settings.DGBOX_SITE_SCHEME}://{domain}{port}"
