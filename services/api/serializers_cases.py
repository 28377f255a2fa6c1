"""What case work over /api/v1/cases reads from a caller and what it answers (services/api/
cases.py): the list's filters, a transition, a note; a case in the list, a case in full.

Input serializers only check shape (lengths, dates, no NUL characters: PostgreSQL cannot store
one and REST framework's CharField refuses them); the engine decides what may be done.
"""

import datetime

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ..cases.models import Channel
from ..workflows import spec as workflowspec

#: Longest note or transition field: the staff screen's limit (services/cases/inbox.py).
TEXT_MAX = 4000
PAGE_DEFAULT = 50
PAGE_MAX = 100


def encodable(value):
    """Refuse text PostgreSQL cannot store: a lone surrogate (JSON allows "\\ud800")."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise serializers.ValidationError(_("The text has characters that are not valid "
                                            "Unicode.")) from exc
    return value


def shown(value):
    """A value the caller sent, safe to repeat in an error message."""
    return str(value).encode("utf-8", "backslashreplace").decode()[:60]


class Text(serializers.CharField):
    """Text a caller writes (a state, a note, a step's field): REST framework's CharField, which
    refuses NUL, and text PostgreSQL cannot store (`encodable`), checked first."""

    def __init__(self, **kwargs):
        super().__init__(validators=[encodable, *kwargs.pop("validators", ())], **kwargs)


def workflow_code(**kwargs):
    """A workflow code (a state's or a step's), as workflows name them."""
    return serializers.RegexField(workflowspec.CODE_RE, max_length=40, **kwargs)


def optional_text(max_length, **kwargs):
    """A filter that may be absent or empty."""
    return serializers.CharField(required=False, allow_blank=True, max_length=max_length,
                                 **kwargs)


class CommaList(serializers.ListField):
    """A list given as `a,b` or as the parameter repeated (`?status=a&status=b`)."""

    def get_value(self, dictionary):
        if self.field_name not in dictionary:
            return serializers.empty
        raw = dictionary.getlist(self.field_name) if hasattr(dictionary, "getlist") \
            else [dictionary[self.field_name]]
        return [part.strip() for item in raw for part in str(item).split(",") if part.strip()]


@extend_schema_field(OpenApiTypes.STR)
class Moment(serializers.Field):
    """A date (`2026-12-04`: that day's start, or with `end=True` its end, in the tenant's
    time zone) or an ISO 8601 date and time (`2026-12-04T10:00:00+03:00`; without an offset
    the tenant's time zone)."""

    default_error_messages = {
        "invalid": _("Give a date (2026-12-04) or a date and time (2026-12-04T10:00:00+03:00)."),
    }

    def __init__(self, *, end=False, **kwargs):
        self.end = end
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        text = str(data).strip()
        if not text:
            return None
        if len(text) > 40 or not text.isascii():
            self.fail("invalid")
        try:
            if len(text) == 10:
                day = datetime.date.fromisoformat(text)
                moment = datetime.datetime.combine(day, datetime.time.max if self.end
                                                   else datetime.time.min)
            else:
                moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            self.fail("invalid")
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment)
        return moment

    def to_representation(self, value):
        return value.isoformat()


class CaseFilters(serializers.Serializer):
    """The list's query parameters. Each narrows what the staff inbox would show the service
    account; none widens it."""

    status = CommaList(child=workflow_code(), required=False, max_length=20,
                       help_text=_("State codes, comma-separated (e.g. received,in_review)."))
    service = optional_text(255, help_text=_("The online service's page slug."))
    group = optional_text(80, help_text=_("The staff group a case is routed to (empty: not "
                                          "routed)."))
    assignee = optional_text(20, help_text=_("me, none, or a staff member's id."))
    sla = serializers.ChoiceField(required=False, allow_blank=True, choices=["overdue", "nearing"],
                                  help_text=_("Deadline state: overdue or nearing."))
    channel = serializers.ChoiceField(required=False, allow_blank=True, choices=Channel.choices)
    closed = serializers.ChoiceField(
        required=False, allow_blank=True, choices=["open", "closed", "all"], default="open",
        help_text=_("open (as the inbox opens), closed, or all."))
    submitted_since = Moment(required=False)
    submitted_until = Moment(required=False, end=True)
    updated_since = Moment(required=False)
    reference = optional_text(32, help_text=_("A full reference, or a part of one."))
    cursor = optional_text(400)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=PAGE_MAX,
                                     default=PAGE_DEFAULT)

    def validate_assignee(self, value):
        if value in ("", "me", "none") or (value.isascii() and value.isdigit()
                                        and len(value) < 19):
            return value
        raise serializers.ValidationError(_("Give me, none, or a staff member's id."))


class CaseTransitionRequest(serializers.Serializer):
    """POST /api/v1/cases/{reference}/transitions."""

    transition = workflow_code(help_text=_("The step's code (see `transitions`)."))
    expected_state = Text(max_length=40, help_text=_(
        "The state you saw: if the case has moved since, the step is refused with 409."))
    values = serializers.DictField(
        child=Text(allow_blank=True, max_length=TEXT_MAX, trim_whitespace=True),
        required=False, default=dict,
        help_text=_("The fields the step requires: reason, message, note."))

    def validate_values(self, value):
        unknown = sorted(set(value) - set(workflowspec.REQUIREMENTS))
        if unknown:
            raise serializers.ValidationError(
                _("Unknown fields: %(fields)s. A step may require: %(known)s.") % {
                    "fields": ", ".join(shown(k) for k in unknown),
                    "known": ", ".join(workflowspec.REQUIREMENTS)})
        return value


class CaseNoteRequest(serializers.Serializer):
    """POST /api/v1/cases/{reference}/notes."""

    text = Text(max_length=TEXT_MAX, help_text=_("Only staff see it."))


# --- What is answered -------------------------------------------------------------------------


class CasePerson(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class CaseService(serializers.Serializer):
    slug = serializers.CharField()
    title = serializers.CharField()


class CaseSummary(serializers.Serializer):
    """A case as the inbox lists it."""

    reference = serializers.CharField()
    url = serializers.CharField()
    service = CaseService()
    status = serializers.CharField()
    status_label = serializers.CharField()
    group = serializers.CharField()
    assignee = CasePerson(allow_null=True)
    channel = serializers.CharField()
    applicant_name = serializers.CharField()
    due_date = serializers.DateField(allow_null=True)
    sla = serializers.CharField(help_text=_("overdue, nearing, or empty when on time."))
    submitted_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    closed_at = serializers.DateTimeField(allow_null=True)


class CasePage(serializers.Serializer):
    results = CaseSummary(many=True)
    next = serializers.CharField(allow_null=True,
                                 help_text=_("The next page's address, null on the last."))


class CaseFileInfo(serializers.Serializer):
    id = serializers.UUIDField()
    field = serializers.CharField()
    name = serializers.CharField()
    content_type = serializers.CharField()
    size = serializers.IntegerField()
    sha256 = serializers.CharField()
    uploaded_at = serializers.DateTimeField()
    download = serializers.CharField(help_text=_("Download it with the same key (recorded)."))


class CaseAnswer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()
    value = serializers.CharField(help_text=_("As staff read it."))
    raw = serializers.JSONField(help_text=_("As stored."))
    file = CaseFileInfo(allow_null=True, required=False)


class CaseRequirement(serializers.Serializer):
    field = serializers.CharField()
    label = serializers.CharField()


class CaseTransitionOption(serializers.Serializer):
    code = serializers.CharField()
    label = serializers.CharField()
    to = serializers.CharField()
    to_label = serializers.CharField()
    ends_case = serializers.BooleanField()
    requires = CaseRequirement(many=True)


class CaseEventItem(serializers.Serializer):
    kind = serializers.CharField()
    text = serializers.CharField()
    at = serializers.DateTimeField()
    actor = serializers.CharField()
    actor_role = serializers.CharField()
    public = serializers.BooleanField()
    via_api_client = serializers.CharField(allow_null=True)


class CaseNoteItem(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    text = serializers.CharField()
    author = serializers.CharField()
    created_at = serializers.DateTimeField()


class CaseApplicant(serializers.Serializer):
    name = serializers.CharField()
    email = serializers.CharField()
    phone = serializers.CharField()


class CaseDetail(CaseSummary):
    """A case in full, as the staff case page shows it."""

    language = serializers.CharField()
    applicant = CaseApplicant()
    decision_reason = serializers.CharField()
    answers = CaseAnswer(many=True)
    files = CaseFileInfo(many=True)
    events = CaseEventItem(many=True)
    notes = CaseNoteItem(many=True)
    transitions = CaseTransitionOption(
        many=True, help_text=_("The steps this client's service account may take now."))
