"""Decision letters: when a case is approved or refused, a letter is made for the applicant.

When the case engine (services/cases/engine.py) decides a case it sends `case_decided`;
`services.letters.tasks.on_decision` then queues, after the transaction commits, the tenant
task `services.issue_letter`, which calls `issue_letter(case)`. The letter is the tenant's
DecisionLetterTemplate for the outcome and the case's language, or the built-in default
(Russian and English), rendered as a small standalone accessible HTML document
(services/templates/services/letters/decision.html) and stored in the tenant's private
storage at `letters/<case id>-<outcome>.html`, as an UploadedFile of the case (field_name
"decision_letter"), with a CaseEvent LETTER. One letter per case and outcome: issuing again
returns the letter already made. Letters hold personal data and are erased with the case.

If the task could not be queued (broker down at commit) or gave up, the periodic tenant task
`services.issue_missing_letters` (fanned out to every active tenant) finds decided cases
without their letter and issues them (`issue_missing_letters()`).
"""

import hashlib
import logging
from datetime import timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, TextField, Value
from django.db.models.functions import Cast, Concat
from django.template.loader import render_to_string
from django.utils import formats, timezone, translation
from wagtail.models import Locale

from ..applications.models import UploadedFile, private_storage
from ..cases.escalation import tenant_zone
from ..cases.models import Case, CaseEvent, status_label
from ..notifications.placeholders import PlaceholderError
from ..notifications.placeholders import render as fill
from .models import DecisionLetterTemplate

log = logging.getLogger(__name__)

FIELD_NAME = "decision_letter"
OUTCOMES = tuple(DecisionLetterTemplate.Outcome.values)  # approved, refused
LANGUAGES = ("ru", "en")

#: Built-in letters: (title, paragraphs). A paragraph with {reason} is left out when the
#: decision has no reason. Formal, plain language.
DEFAULT_LETTERS = {
    ("approved", "ru"): ("Решение по вашему заявлению", [
        "Здравствуйте, {applicant_name}!",
        "Мы рассмотрели ваше заявление {reference} на услугу «{service}».",
        "Решение: заявление одобрено.",
        "Пояснение: {reason}",
        "Если у вас есть вопросы, свяжитесь с нами и назовите номер заявления {reference}.",
        "С уважением,\n{tenant_name}",
    ]),
    ("approved", "en"): ("Decision on your application", [
        "Dear {applicant_name},",
        "We have considered your application {reference} for the service “{service}”.",
        "Decision: your application has been approved.",
        "Note: {reason}",
        "If you have any questions, contact us and quote your reference {reference}.",
        "Yours sincerely,\n{tenant_name}",
    ]),
    ("refused", "ru"): ("Решение по вашему заявлению", [
        "Здравствуйте, {applicant_name}!",
        "Мы рассмотрели ваше заявление {reference} на услугу «{service}».",
        "Решение: в предоставлении услуги отказано.",
        "Причина отказа: {reason}",
        "Вы можете подать заявление снова, когда причина отказа будет устранена. Вы также "
        "вправе обжаловать это решение в порядке, установленном законом.",
        "Если у вас есть вопросы, свяжитесь с нами и назовите номер заявления {reference}.",
        "С уважением,\n{tenant_name}",
    ]),
    ("refused", "en"): ("Decision on your application", [
        "Dear {applicant_name},",
        "We have considered your application {reference} for the service “{service}”.",
        "Decision: your application has been refused.",
        "Reason for the refusal: {reason}",
        "You can apply again once the reason for the refusal no longer applies. You also "
        "have the right to appeal against this decision as the law provides.",
        "If you have any questions, contact us and quote your reference {reference}.",
        "Yours sincerely,\n{tenant_name}",
    ]),
}

LABELS = {
    "ru": {"reference": "Номер заявления", "service": "Услуга", "date": "Дата решения",
           "decision": "Решение", "from": "Отправитель"},
    "en": {"reference": "Reference", "service": "Service", "date": "Date of decision",
           "decision": "Decision", "from": "From"},
}


def storage_name(case, outcome):
    return f"letters/{case.pk}-{outcome}.html"  # also in missing_letters() as SQL


def letter_language(case):
    base = (case.language or settings.LANGUAGE_CODE).lower().split("-")[0]
    return base if base in LANGUAGES else "ru"


def context(case, language):
    """The placeholder values of a case's letter (LETTER_PLACEHOLDERS)."""
    decided = case.closed_at or timezone.now()
    day = timezone.localtime(decided, tenant_zone()).date()
    with translation.override(language):
        date_text = formats.date_format(day, "j E Y" if language == "ru" else "j F Y")
    return {
        "reference": case.reference,
        "service": service_title(case, language),
        "applicant_name": case.applicant_name,
        "decision": status_label(case.status, case.workflow_version, language),
        "reason": case.decision_reason,
        "date": date_text,
        "tenant_name": getattr(connection.tenant, "name", ""),
        "_iso_date": day.isoformat(),
    }


def service_title(case, language):
    page = case.service.page
    try:
        locale = Locale.objects.filter(language_code=language).first()
        translated = page.get_translation_or_none(locale) if locale else None
    except Exception:  # noqa: BLE001 - a missing translation is not an error
        translated = None
    return (translated or page).title


def render_letter(case, outcome=None, language=None):
    """The letter of a case as (title, HTML document)."""
    outcome = outcome or case.status
    language = language or letter_language(case)
    values = context(case, language)
    custom = DecisionLetterTemplate.objects.filter(outcome=outcome, language=language).first()
    title = paragraphs = None
    if custom is not None:
        try:
            title = fill(custom.title, values)
            paragraphs = [p for p in fill(custom.body, values).replace("\r\n", "\n")
                          .split("\n\n") if p.strip()]
        except (PlaceholderError, KeyError):
            log.warning("Decision letter template %s/%s of %s does not render; the default "
                        "letter is used", outcome, language, connection.schema_name)
            title = paragraphs = None
    if title is None:
        default_title, default_paragraphs = DEFAULT_LETTERS[(outcome, language)]
        title = default_title
        paragraphs = [fill(p, values) for p in default_paragraphs
                      if values["reason"] or "{reason}" not in p]
    return title, document(title, paragraphs, values, language)


STYLE = ("body{font-family:system-ui,-apple-system,'Segoe UI',Arial,sans-serif;"
         "font-size:1.1875rem;line-height:1.5;color:#0b0c0c;background:#fff;max-width:40em;"
         "margin:0 auto;padding:1.5em 1em}"
         "h1{font-size:2rem;line-height:1.2;margin:0 0 1em}"
         "dl{display:grid;grid-template-columns:max-content 1fr;gap:.25em 1em;margin:0 0 2em}"
         "dt{font-weight:700}dd{margin:0}"
         "@media (max-width:30em){dl{display:block}dd{margin:0 0 .5em}}"
         "@media print{body{font-size:12pt;max-width:none}}")


def document(title, paragraphs, values, language):
    """A standalone HTML document (services/templates/services/letters/decision.html): every
    value is escaped by the template; paragraphs keep their lines."""
    return render_to_string("services/letters/decision.html", {
        "language": language, "title": title, "values": values, "iso_date": values["_iso_date"],
        "labels": LABELS[language], "style": STYLE,
        "paragraphs": [p.strip().split("\n") for p in paragraphs]})


def issue_letter(case):
    """Make and store the decision letter of an approved or refused case, once.

    Returns the UploadedFile of the letter (the existing one if it was already issued), or
    None when the case has no decision a letter is made for, or was erased.
    """
    with transaction.atomic():
        case = (Case.objects.select_for_update(of=("self",))
                .select_related("service__page", "workflow_version").get(pk=case.pk))
        outcome = case.status
        if outcome not in OUTCOMES or case.erased_at is not None:
            return None
        name = storage_name(case, outcome)
        existing = UploadedFile.objects.filter(case=case, storage_name=name).first()
        if existing is not None:
            return existing
        _title, html = render_letter(case, outcome)
        data = html.encode("utf-8")
        storage = private_storage()
        if storage.exists(name):  # left by an attempt whose transaction did not commit
            storage.delete(name)
        saved = storage.save(name, ContentFile(data, name=name))
        if saved != name:
            storage.delete(saved)
            raise RuntimeError(f"decision letter stored as {saved!r}, not {name!r}")
        letter = UploadedFile.objects.create(
            case=case, field_name=FIELD_NAME, storage_name=name,
            original_name=f"{case.reference}-{outcome}.html", extension="html",
            content_type="text/html", size=len(data), sha256=hashlib.sha256(data).hexdigest())
        CaseEvent.objects.create(case=case, kind=CaseEvent.Kind.LETTER, actor_role="system",
                                 public=True,
                                 data={"file": str(letter.pk), "outcome": outcome,
                                       "language": letter_language(case)})
    return letter


#: A decision younger than this (by the case's last change) is left to its own
#: `services.issue_letter` task, which is queued on commit and retried for about half an hour
#: when the storage fails; the sweep would only wait on the same row lock.
SWEEP_GRACE = timedelta(minutes=10)
#: Letters issued per tenant and sweep run (every 10 minutes); the rest wait for the next one.
SWEEP_BATCH = 100


def missing_letters(now=None):
    """Approved or refused cases, not erased, unchanged for SWEEP_GRACE, that have no letter
    for their outcome (a QuerySet, oldest change first)."""
    now = now or timezone.now()
    name = Concat(Value("letters/"), Cast("pk", TextField()), Value("-"), "status",
                  Value(".html"), output_field=TextField())
    letter = UploadedFile.objects.filter(case=OuterRef("pk"),
                                         storage_name=OuterRef("letter_name"))
    return (Case.objects.filter(status__in=OUTCOMES, erased_at__isnull=True,
                                updated_at__lte=now - SWEEP_GRACE)
            .annotate(letter_name=name).filter(~Exists(letter))
            .order_by("updated_at", "pk"))


def issue_missing_letters(now=None, limit=SWEEP_BATCH):
    """Issue the letters of decided cases whose `services.issue_letter` task never ran (the
    broker was down at commit) or gave up. Each case in its own transaction under the case's
    row lock, so a letter being issued at the same moment is not made twice and a failure
    (e.g. the storage is down) leaves that case for the next run.

    Returns {"issued": n, "failed": n}."""
    ids = list(missing_letters(now).values_list("pk", flat=True)[:limit])
    issued = failed = 0
    for case in Case.objects.filter(pk__in=ids).only("pk"):
        try:
            letter = issue_letter(case)
        except Exception:  # logged; the next run tries this case again
            log.exception("Decision letter of case %s in %s could not be issued; the next "
                          "sweep tries again", case.pk, connection.schema_name)
            failed += 1
            continue
        if letter is not None:
            issued += 1
    if ids:
        log.warning("Issued %s missing decision letter(s) in %s (%s failed): their task was "
                    "not queued or gave up", issued, connection.schema_name, failed)
    return {"issued": issued, "failed": failed}
