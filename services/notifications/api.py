"""The public face of notifications: what other apps call.

    from services.notifications.api import notify

    with transaction.atomic():
        case = ...  # the caller's own writes
        notify("application_received", language="ru", email=..., phone=..., topic=case.ref,
               context={"reference": ..., "service": ..., "url": ..., "applicant_name": ...})

Messages are written in the caller's transaction and sent after it commits, once. Secrets in
a message (a tracking code) are masked in the stored copy once it is sent or has failed for
good (`redact_finished`); a message still waiting for a retry keeps them.
"""

import logging

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import get_public_schema_name

from tenants import tenant_cache

from . import placeholders
from .choices import Channel, MessageKind, Status, channels_for
from .defaults import DEFAULT_TEMPLATES
from .models import Message, NotificationTemplate
from .outbox import QUEUED_GRACE, enqueue_on_commit
from .recipients import normalise_recipient
from .redaction import REDACTED, SECRET_FINDERS, redact_finished

logger = logging.getLogger(__name__)
tenant_cache.watch(NotificationTemplate)

__all__ = ["REDACTED", "SECRET_FINDERS", "Channel", "Message", "MessageKind", "Status",
           "messages_for", "notify", "redact_finished", "render"]


def notify(key: str, *, language: str, context: dict[str, object], email: str | None = None,
           phone: str | None = None, topic: str = "") -> list[Message]:
    """Write one pending message per given channel (e-mail, SMS) and send them after commit.

    `key`: a MessageKind value. `language`: "ru" or "en" (a regional variant such as "en-gb"
    counts as its base language). `context`: a value for every placeholder the kind declares
    (placeholders.PLACEHOLDERS; `tenant_name` defaults to the current tenant's name); values
    are shown as text, None as empty. `topic`: what the messages are about, e.g. the case
    reference, to find them again with messages_for(); no other personal data. A message to
    staff (`staff_escalation`, e-mail only) is about no one case: its topic names the run.

    Raises ValidationError (keys "email"/"phone") for an invalid address, before anything is
    written, and ValueError for a programming error (unknown kind, language, placeholder
    values missing or not allowed, or a phone for an e-mail-only kind). Returns [] when
    neither e-mail nor phone is given.
    If the broker cannot be reached after commit, a warning is logged and the messages stay
    pending for the periodic `notifications.resend_pending`: nothing is lost.
    """
    tenant = _current_tenant()
    kind = _kind(key)
    language = _language(language)
    values = _values(kind, context, tenant)
    if phone and Channel.SMS not in channels_for(kind):
        raise ValueError(f"notify({kind.value!r}) is sent by e-mail only: pass no phone.")
    recipients = _recipients(email, phone)
    if not recipients:
        return []
    custom = _custom_templates(kind, [channel for channel, _recipient in recipients], language)
    messages = []
    for channel, recipient in recipients:
        subject, body = _render_with(custom.get(channel), kind, channel=channel,
                                     language=language, context=values)
        messages.append(Message(
            channel=channel, recipient=recipient, key=kind, language=language,
            subject=subject, body=body, topic=(topic or "")[:64],
            next_attempt_at=timezone.now() + QUEUED_GRACE,
        ))
    # No savepoint: one INSERT for every channel is all-or-nothing already, and the caller's
    # transaction (a submission's) needs none of its own around it.
    with transaction.atomic(savepoint=False):
        Message.objects.bulk_create(messages)
        # One task for the channels of this notice: one publish to the broker, not one each.
        enqueue_on_commit([message.pk for message in messages], tenant, together=True)
    return messages


def messages_for(topic: str):
    """Every message of the current tenant about `topic`, oldest first (a QuerySet)."""
    return Message.objects.for_topic(topic)


def render(key: str, *, channel: str, language: str,
           context: dict[str, object]) -> tuple[str, str]:
    """(subject, body) of a message: the tenant's template, else the platform default.

    `context` must hold every placeholder the template uses. A tenant template that no longer
    renders (e.g. it uses a placeholder a newer release dropped) falls back to the default.
    """
    custom = (NotificationTemplate.objects.filter(key=key, channel=channel, language=language)
              .values_list("subject", "body").first())
    return _render_with(custom, key, channel=channel, language=language, context=context)


def _custom_templates(key: str, channels: list[str], language: str
                      ) -> dict[str, tuple[str, str]]:
    """{channel: (subject, body)} of the tenant's own templates for `key` in the channels a
    message goes to: one query for every channel (none when there is no channel)."""
    if not channels:
        return {}

    def read():
        rows = (NotificationTemplate.objects.filter(key=key, language=language)
                .order_by().values_list("channel", "subject", "body"))  # one per channel
        return {channel: (subject, body) for channel, subject, body in rows}

    # Every channel of the kind in one entry (whichever channels this message goes to), from
    # the tenant's cache until one of its templates is saved or deleted: every receipt asks,
    # the tenant's editors rarely change them.
    templates = tenant_cache.remember(f"templates:{key}:{language}", read)
    return {channel: templates[channel] for channel in channels if channel in templates}


def _render_with(custom: tuple[str, str] | None, key: str, *, channel: str, language: str,
                 context: dict[str, object]) -> tuple[str, str]:
    """(subject, body) from the tenant's template `custom` (None: the platform default)."""
    default = DEFAULT_TEMPLATES[(key, channel, language)]
    if custom is not None:
        try:
            return _render_pair(custom, context)
        except (placeholders.PlaceholderError, KeyError):
            logger.warning("Notification template %s/%s/%s of %s does not render; the default "
                           "text is used", key, channel, language, connection.schema_name)
    return _render_pair(default, context)


def _render_pair(template: tuple[str, str], context) -> tuple[str, str]:
    subject, body = template
    # A subject is one header line: values with line breaks must not split it.
    subject = " ".join(placeholders.render(subject, context).split())
    return subject[:255], placeholders.render(body, context)


def _current_tenant():
    if connection.schema_name in (None, get_public_schema_name()):
        raise RuntimeError("notify() must be called inside a tenant (messages live in the "
                           "tenant's schema): use tenant_context(tenant).")
    return connection.tenant


def _kind(key: str) -> MessageKind:
    try:
        return MessageKind(key)
    except ValueError:
        raise ValueError(f"Unknown notification kind {key!r}; known: "
                         f"{', '.join(MessageKind.values)}") from None


def _language(language: str) -> str:
    base = (language or "").lower().split("-")[0]
    codes = [code for code, _name in settings.LANGUAGES]
    if base not in codes:
        raise ValueError(f"Unsupported language {language!r}; use one of {', '.join(codes)}")
    return base


def _values(kind: MessageKind, context: dict[str, object], tenant) -> dict[str, object]:
    allowed = placeholders.PLACEHOLDERS[kind]
    values = dict(context)
    if "tenant_name" in allowed:
        values.setdefault("tenant_name", getattr(tenant, "name", ""))
    unknown = sorted(set(values) - set(allowed))
    missing = [name for name in allowed if name not in values]
    if unknown or missing:
        problems = []
        if missing:
            problems.append(f"missing {', '.join(missing)}")
        if unknown:
            problems.append(f"not allowed {', '.join(unknown)}")
        raise ValueError(f"notify({kind.value!r}) context: {'; '.join(problems)}. It takes "
                         f"exactly: {', '.join(allowed)} (use '' for an unknown value).")
    return values


def _recipients(email: str | None, phone: str | None) -> list[tuple[str, str]]:
    recipients, errors = [], {}
    for channel, field, value in ((Channel.EMAIL, "email", email), (Channel.SMS, "phone", phone)):
        if not value:
            continue
        try:
            recipients.append((channel, normalise_recipient(channel, value)))
        except ValidationError as exc:
            errors[field] = exc.messages
    if errors:
        raise ValidationError(errors)
    return recipients
