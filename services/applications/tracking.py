"""Following an application: reference + one-time code sent to the applicant's email or phone.

The answer to "send me a code" is the same whether the reference exists or not (no probing for
references). Codes are 6 digits, stored hashed, valid 15 minutes, 5 tries each; requests are
rate limited per client address and per case through the tenant-aware "counters" cache. When
that cache (Redis) cannot be reached the limits cannot be counted, so asking for and checking
codes is refused with "try again later" (`TrackingUnavailable`) rather than allowing unlimited
guesses; everything else keeps working (docs/operations.md). The code reaches
the applicant in a `tracking_code` message; once that is sent, the stored copy shows "••••••"
instead (`codes_in_message` finds it for services.notifications.api.redact_finished).
"""

import hashlib
import hmac
import logging
import re
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.cache import caches
from django.db import transaction
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from ..cases.messages import notification_context
from ..cases.models import Case, CaseEvent, status_label
from ..notifications.api import notify
from .models import TrackingCode

log = logging.getLogger(__name__)
CODE_MINUTES = 15
TRIES_PER_CODE = 5
CODES_PER_CASE = 3  # per CODE_MINUTES
REQUESTS_PER_CLIENT = 10  # per hour, codes asked and codes tried together
_SIX_DIGITS = re.compile(r"(?<!\d)\d{6}(?!\d)")
#: What submission.next_reference() makes: the tenant's prefix (2 to 5 latin capitals), the
#: year and a number of at least 6 digits, e.g. ABC-2026-000123.
REFERENCE_RE = re.compile(r"^[A-Z]{2,5}-[0-9]{4}-[0-9]{6,}$")
REFERENCE_EXAMPLE = "ABC-2026-000123"
# Cyrillic capitals that look like latin ones, typed by someone on a Russian keyboard layout.
_LOOKALIKES = str.maketrans("АВСЕНКМОРТХУ", "ABCEHKMOPTXY")
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212_./]+")


class TrackingError(Exception):
    """Something the applicant can act on (wrong code, too many tries)."""


class TrackingUnavailable(TrackingError):
    """The attempt limits cannot be counted (the cache is down): try again later."""

    retry_after = 60


def _hash(code):
    return hmac.new(settings.SECRET_KEY.encode(), code.encode(), hashlib.sha256).hexdigest()


def _hit(key, limit, seconds):
    """Count one attempt; True if the limit is exceeded. Fails closed: an attempt that cannot
    be counted is refused (TrackingUnavailable), never let through uncounted."""
    counters = caches["counters"]
    try:
        added = counters.add(key, 1, seconds)
        count = 1 if added else counters.incr(key)
    except Exception as exc:  # whatever the cache raises, nothing was counted
        log.warning("Tracking codes refused: attempt limit %s cannot be counted (%s: %s)",
                    key.split(":")[1], type(exc).__name__, exc)
        raise TrackingUnavailable(_("We cannot send or check codes right now. Please try "
                                    "again in a few minutes.")) from exc
    return count > limit


def _client_limited(client):
    if _hit(f"track:client:{client}", REQUESTS_PER_CLIENT, 3600):
        raise TrackingError(_("Too many attempts from this device. Try again in an hour."))


def normalise_reference(text):
    """A reference as typed ("abc 2026 000123", "АВС–2026–000123") in its stored form."""
    text = _SEPARATORS.sub("-", (text or "").strip().upper()).strip("-")
    return text.translate(_LOOKALIKES)


def reference_problem(text):
    """Why `text` cannot be a reference, in words the applicant can act on; None if it can."""
    if REFERENCE_RE.match(normalise_reference(text)):
        return None
    return _("A reference looks like %(example)s: 2 to 5 latin letters, the year and 6 "
             "digits, separated by hyphens. You find it in your receipt and in the e-mail or "
             "SMS we sent when you applied.") % {"example": REFERENCE_EXAMPLE}


def mask_email(email):
    user, _at, domain = email.partition("@")
    return f"{user[:1]}***@{domain}"


def mask_phone(phone):
    digits = "".join(ch for ch in phone if ch.isdigit())
    return f"*** {digits[-2:]}"


def request_code(reference, client):
    """Send a code for `reference` if it exists. Returns the case or None; callers show the
    same message either way."""
    _client_limited(client)
    case = Case.objects.by_reference(reference).select_related("service__page").first()
    if case is None or not (case.applicant_email or case.applicant_phone):
        return None
    if _hit(f"track:case:{case.pk}", CODES_PER_CASE, CODE_MINUTES * 60):
        raise TrackingError(_("We have already sent several codes. Use the latest one or try "
                              "again in %(minutes)s minutes.") % {"minutes": CODE_MINUTES})
    code = f"{secrets.randbelow(10 ** 6):06d}"
    with transaction.atomic():
        TrackingCode.objects.create(
            case=case, code_hash=_hash(code), sent_to="email" if case.applicant_email else "sms",
            expires_at=timezone.now() + timedelta(minutes=CODE_MINUTES))
        notify("tracking_code", language=case.language, topic=case.reference,
               email=case.applicant_email or None,
               phone=None if case.applicant_email else case.applicant_phone,
               context=notification_context("tracking_code", case, code=code))
    return case


def codes_in_message(message):
    """The tracking codes of the message's case (its topic is the reference) that appear in its
    subject, body or last error. Recognised by their hash, so that other six-digit numbers
    (the reference's own) are left as they are."""
    text = "\n".join((message.subject, message.body, message.last_error))
    candidates = set(_SIX_DIGITS.findall(text))
    if not candidates or not message.topic:
        return []
    hashes = set(TrackingCode.objects.filter(case__reference=message.topic)
                 .values_list("code_hash", flat=True))
    return sorted(code for code in candidates if _hash(code) in hashes)


def verify_code(reference, code, client):
    """The case if `code` is the live code for `reference`; TrackingError otherwise."""
    _client_limited(client)
    wrong = TrackingError(_("The code is not right or has expired. Check it, or ask for a new "
                            "one."))
    code = "".join(ch for ch in (code or "") if ch.isdigit())
    error = None
    with transaction.atomic():  # the failed try is counted and committed before we refuse
        case = Case.objects.by_reference(reference).first()
        live = None
        if case is not None and len(code) == 6:
            live = (TrackingCode.objects.select_for_update()
                    .filter(case=case, used_at__isnull=True, expires_at__gt=timezone.now())
                    .order_by("-created_at").first())
        if live is None:
            error = wrong
        elif live.attempts >= TRIES_PER_CODE:
            error = TrackingError(_("Too many wrong codes. Ask for a new code."))
        elif not hmac.compare_digest(live.code_hash, _hash(code)):
            live.attempts += 1
            live.save(update_fields=["attempts"])
            error = wrong
        else:
            live.used_at = timezone.now()
            live.save(update_fields=["used_at"])
            CaseEvent.objects.create(case=case, kind=CaseEvent.Kind.TRACKED,
                                     actor_role="applicant")
    if error is not None:
        raise error
    return case


def public_history(case):
    """What the applicant sees: submitted, status changes and payments, in plain words."""
    items = []
    for event in case.events.filter(public=True).order_by("at", "id"):
        if event.kind == CaseEvent.Kind.SUBMITTED:
            text = _("We received your application.")
        elif event.kind == CaseEvent.Kind.STATUS:
            text = _("Status: %(status)s.") % {"status": status_label(
                event.data.get("to"), case.workflow_version, get_language())}
        elif event.kind == CaseEvent.Kind.LETTER:
            text = _("Your decision letter is ready.")
        elif event.kind == CaseEvent.Kind.INFO_PROVIDED:
            text = _("You sent the information we asked for.")
        elif event.kind == CaseEvent.Kind.PAYMENT:
            text = (_("Payment received: %(amount)s ₽.") if event.data.get("status") == "paid"
                    else _("Payment was not made (%(amount)s ₽).")) % {
                        "amount": event.data.get("amount")}
        else:
            continue
        items.append({"at": event.at, "kind": event.kind, "text": text})
    return items
