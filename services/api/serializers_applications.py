"""Applications over the API: the JSON answers turned into what the web form receives, the
fingerprint of a request for idempotency, and a case as an API client reads it.

The answers are validated by the web form's own code (services/forms/spec.py ApplicationForm):
this module only reshapes JSON into the form's input (`form_data`), refusing what has no
place in it (a question the form does not have, a list where one value goes) with a message
per question, in the request's language.
"""

import hashlib
import json

from django.http import QueryDict
from django.utils.translation import gettext as _
from rest_framework import serializers

from services.applications import tracking
from services.applications.models import Payment
from services.applications.payments import provider
from services.forms.spec import ADDRESS_PARTS, CONTACT_NAMES

#: Keys of an address answer, in the order of the form's four inputs.
ADDRESS_KEYS = [key for key, _label in ADDRESS_PARTS]


class BodyError(Exception):
    """The request body cannot be read as an application (not per question)."""


def answers_from(data, files) -> dict:
    """The `answers` object of a JSON body, or of the `answers` part of a multipart one."""
    if files is not None:  # multipart: the answers are a JSON text in the part "answers"
        raw = data.get("answers")
        if raw is None:
            raise BodyError(_("Send the answers as JSON in the part named “answers”."))
        try:
            answers = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            raise BodyError(_("The part “answers” is not valid JSON.")) from exc
    else:
        if not isinstance(data, dict) or set(data) - {"answers"}:
            raise BodyError(_("Send a JSON object with one member, “answers”."))
        answers = data.get("answers")
    if not isinstance(answers, dict):
        raise BodyError(_("“answers” must be a JSON object: question name -> answer."))
    try:
        json.dumps(answers, ensure_ascii=False).encode()
    except (UnicodeEncodeError, RecursionError) as exc:
        # A lone surrogate ("\ud800") is valid JSON but not text PostgreSQL can store.
        raise BodyError(_("The answers contain characters that are not valid text.")) from exc
    return answers


def fingerprint(service_pk, answers, files) -> str:
    """SHA-256 of what a request asks for: the service, the answers (whatever the order of
    their keys or the JSON's spacing) and each file's name and bytes. A retry of the same
    application has the same fingerprint even when its multipart boundary differs."""
    described = {}
    for name in sorted(files or {}):
        uploads = files.getlist(name)
        described[name] = [[upload.name, _sha256(upload)] for upload in uploads]
    canonical = json.dumps({"service": service_pk, "answers": answers, "files": described},
                           sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _sha256(upload):
    digest = hashlib.sha256()
    upload.seek(0)
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return digest.hexdigest()


def _text(value):
    """A scalar answer as the form's text input would carry it, or None if it is not one."""
    if isinstance(value, bool) or isinstance(value, (dict, list)):
        return None
    if isinstance(value, (int, float)):
        return str(value)
    return value if isinstance(value, str) else None


def form_data(spec, answers, files):
    """(data, files, errors): the answers as the web form's POST data and files, and what
    cannot be put there, by question name."""
    by_name = {field["name"]: field for field in spec}
    data = QueryDict(mutable=True)
    errors = {}
    for name, value in answers.items():
        kind = "text" if name in CONTACT_NAMES else by_name.get(name, {}).get("type")
        if kind is None:
            errors[name] = [_("This form has no question “%(name)s”.") % {"name": name}]
            continue
        if value is None:
            continue  # not answered
        if kind == "file":
            errors[name] = [_("Send the file as a multipart/form-data part named "
                              "“%(name)s”.") % {"name": name}]
        elif kind == "multi_choice":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                errors[name] = [_("Send a list of the chosen answers (text).")]
            else:
                data.setlist(name, value)
        elif kind == "address":
            if not isinstance(value, dict) or set(value) - set(ADDRESS_KEYS) or \
                    not all(isinstance(v, str) for v in value.values()):
                errors[name] = [_("Send an address as an object with “line1”, “line2”, "
                                  "“town” and “postcode” (text).")]
            else:
                for index, key in enumerate(ADDRESS_KEYS):
                    data[f"{name}_{index}"] = value.get(key, "")
        elif kind == "yes_no" and isinstance(value, bool):
            data[name] = "yes" if value else "no"
        else:
            text = _text(value)
            if text is None:
                errors[name] = [_("Send this answer as text.")]
            else:
                data[name] = text
    uploads = {}
    for name in (files or {}):
        if by_name.get(name, {}).get("type") != "file":
            errors[name] = [_("This form has no file question “%(name)s”.") % {"name": name}]
        elif len(files.getlist(name)) > 1:
            errors[name] = [_("Send one file for this question.")]
        elif name in answers and answers[name] is not None:
            errors[name] = [_("Send the file as a part only, not in the answers too.")]
        else:
            uploads[name] = files[name]
    return data, uploads, errors


def form_errors(form):
    """The web form's errors as {question name: [messages]}, in the active language."""
    return {("non_field_errors" if name == "__all__" else name): [str(m) for m in messages]
            for name, messages in form.errors.items()}


# --- A case as an API client reads it -----------------------------------------------------

class HistoryItemSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    kind = serializers.CharField(help_text="submitted, status, payment, letter or "
                                           "info_provided")
    text = serializers.CharField(help_text="What happened, in the request's language.")


class PaymentSerializer(serializers.Serializer):
    amount = serializers.DecimalField(max_digits=10, decimal_places=2)
    currency = serializers.CharField()
    status = serializers.CharField(help_text="pending, paid or declined")
    pay_url = serializers.CharField(allow_null=True,
                                    help_text="Where the applicant pays, while the payment "
                                              "is pending.")


class ApplicationSummarySerializer(serializers.Serializer):
    reference = serializers.CharField(help_text="The case's reference, e.g. NOR-2026-000123.")
    service = serializers.CharField(help_text="The online service's slug.")
    status = serializers.CharField(help_text="The workflow state's code.")
    status_label = serializers.CharField(help_text="The state as the applicant reads it.")
    submitted_at = serializers.DateTimeField()
    decision_due = serializers.DateField(allow_null=True)
    closed_at = serializers.DateTimeField(allow_null=True)

    def to_representation(self, instance):
        return super().to_representation(summary_of(instance))


def summary_of(case):
    return {"reference": case.reference, "service": case.service.slug, "status": case.status,
            "status_label": str(case.status_label), "submitted_at": case.submitted_at,
            "decision_due": case.due_date, "closed_at": case.closed_at}


class ApplicationSerializer(ApplicationSummarySerializer):
    history = HistoryItemSerializer(many=True)
    payment = PaymentSerializer(allow_null=True)

    def to_representation(self, instance):
        case = instance
        return serializers.Serializer.to_representation(self, {
            **summary_of(case), "history": tracking.public_history(case),
            "payment": self._payment(case)})

    def _payment(self, case):
        payment = case.payments.order_by("-created_at").first()
        if payment is None:
            return None
        pay_url = None
        request = self.context.get("request")
        if payment.status == Payment.Status.PENDING and request is not None:
            pay_url = request.build_absolute_uri(provider().start(payment, request))
        return {"amount": payment.amount, "currency": payment.currency,
                "status": payment.status, "pay_url": pay_url}


class ApplicationRequestSerializer(serializers.Serializer):
    """What POST .../applications takes as JSON (documentation; validation is the form's)."""

    answers = serializers.DictField(
        help_text="Question name -> answer: the form's own names, with applicant_name, "
                  "applicant_email and applicant_phone. Text, numbers and dates (YYYY-MM-DD) "
                  "as strings or numbers; several choices as a list; an address as an object "
                  "(line1, line2, town, postcode); yes/no as \"yes\"/\"no\" or true/false. "
                  "Files: send multipart/form-data with these answers as JSON in the part "
                  "\"answers\" and each file in a part named after its question.")
