"""Deadline escalation: recompute the SLA flag of every open case and tell staff about cases
that are nearing or past their deadline.

Run per tenant by the periodic task `services.escalate_deadlines` (fanned out to every active
tenant). The flag is the one `services.sla.flag()` gives for "today" in the tenant's time
zone; instead of evaluating it case by case, the three flag values are turned into ranges of
due dates (see `due_ranges()`), so a run is one UPDATE per flag value.

A case whose flag *changes* to "nearing" or "overdue" gets a CaseEvent ESCALATED
{"flag", "due"} and its staff (the members of its group, default "Case workers", and its
assignee) get one e-mail per run listing such cases: reference, service, due date and a link
to the case in the admin, never the applicant's personal data. Running again the same day
finds nothing changed and sends nothing.
"""

import logging
import zoneinfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage, get_connection
from django.db import connection, transaction
from django.db.models import Q
from django.urls import NoReverseMatch, reverse
from django.utils import formats, timezone, translation

from . import sla
from .models import Case, CaseEvent
from .workflowspec import STAFF_GROUP

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
            messages = staff_messages(escalated)
            transaction.on_commit(lambda: _send(messages), robust=True)
    return changed


def staff_messages(escalated):
    """One e-mail per member of staff concerned, listing their escalated cases."""
    from .models import OnlineService

    users = get_user_model().objects.filter(is_active=True).exclude(email="")
    groups = {row["group"] or STAFF_GROUP for row in escalated}
    members = {}
    for user_id, email, group in (users.filter(groups__name__in=groups)
                                  .values_list("pk", "email", "groups__name")):
        members.setdefault(group, set()).add((user_id, email))
    assignees = dict(users.filter(pk__in={r["assignee_id"] for r in escalated
                                          if r["assignee_id"]})
                     .values_list("pk", "email"))
    titles = dict(OnlineService.objects.filter(pk__in={r["service_id"] for r in escalated})
                  .values_list("pk", "page__title"))
    per_recipient = {}
    for row in escalated:
        recipients = set(members.get(row["group"] or STAFF_GROUP, ()))
        if row["assignee_id"] in assignees:
            recipients.add((row["assignee_id"], assignees[row["assignee_id"]]))
        for _user_id, email in recipients:
            per_recipient.setdefault(email, []).append(row)
    if not per_recipient:
        return []
    tenant = connection.tenant
    language = getattr(tenant, "default_language", "") or settings.LANGUAGE_CODE
    base = site_root(tenant)
    return [_message(email, rows, titles, language, base, getattr(tenant, "name", ""))
            for email, rows in sorted(per_recipient.items())]


TEXTS = {
    "ru": {
        "subject_one": "Срок по заявлению {reference}: {flag}",
        "subject_many": "Сроки по заявлениям: {count} требуют внимания",
        NEARING: "срок подходит к концу",
        OVERDUE: "срок истёк",
        "intro": "Сроки рассмотрения этих заявлений требуют внимания:",
        "line": "{reference} — {service}\nСрок: {due} ({flag})\n{link}",
        "footer": "Письмо отправлено автоматически системой «{tenant}». Сведения о "
                  "заявителях в письмо не включаются: откройте заявление по ссылке.",
    },
    "en": {
        "subject_one": "Deadline of case {reference}: {flag}",
        "subject_many": "Deadlines: {count} cases need attention",
        NEARING: "deadline is near",
        OVERDUE: "deadline has passed",
        "intro": "The deadlines of these cases need your attention:",
        "line": "{reference} — {service}\nDue: {due} ({flag})\n{link}",
        "footer": "This message was sent automatically by {tenant}. Applicants' details are "
                  "never included: open the case with the link.",
    },
}


def _message(email, rows, titles, language, base, tenant_name):
    language = language if language in TEXTS else "en"
    text = TEXTS[language]
    with translation.override(language):
        lines = [text["line"].format(
            reference=row["reference"], service=titles.get(row["service_id"], ""),
            due=formats.date_format(row["due_date"], "SHORT_DATE_FORMAT"),
            flag=text[row["flag"]], link=base + case_path(row["pk"])) for row in rows]
    if len(rows) == 1:
        subject = text["subject_one"].format(reference=rows[0]["reference"],
                                             flag=text[rows[0]["flag"]])
    else:
        subject = text["subject_many"].format(count=len(rows))
    body = "\n\n".join([text["intro"], *lines, text["footer"].format(tenant=tenant_name)])
    return EmailMessage(subject=subject, body=body + "\n", to=[email])


def case_path(pk):
    try:
        return reverse("services_case", args=[pk], urlconf=settings.ROOT_URLCONF)
    except NoReverseMatch:
        return f"/admin/cases/{pk}/"


def site_root(tenant):
    domain = getattr(tenant, "primary_domain", None) or ""
    port = f":{settings.DGBOX_SITE_PORT}" if settings.DGBOX_SITE_PORT else ""
    return f"{settings.DGBOX_SITE_SCHEME}://{domain}{port}"


def _send(messages):
    if not messages:
        return
    try:
        get_connection().send_messages(messages)
    except Exception:  # noqa: BLE001 - the flags and events are committed; log and move on
        log.exception("Could not e-mail %d deadline escalation message(s) of %s",
                      len(messages), connection.schema_name)
