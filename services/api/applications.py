"""Applications over the API: submit to an online service, read back what this client
submitted.

POST /api/v1/services/<slug>/applications (scope applications:submit) takes the answers as
JSON, or as multipart/form-data with the answers in a part "answers" and each file in a part
named after its question: one request, one transaction, one case. The answers go through the
web form's own validation (services/forms/spec.py ApplicationForm), then `save_draft` and
`submit_application` (services/applications/submission.py) as the check-your-answers page
does: the same reference, workflow start, automatic rules, fee, receipt after commit, and
uploads sniffed and limited the same way and stored in the tenant's private S3 prefix. The
case's channel is "online" (rules reading the channel treat it as the web form's); that it
came through the API, and from which client, is its ApiSubmission row.

Idempotency: the Idempotency-Key header is required. The first request that makes a case
records (client, key, fingerprint of the request) in the same transaction; a retry with the
same key and the same request answers 200 with that case; the same key with another request
is a 409. Two requests racing with one key are serialised by a transaction-scoped advisory
lock on (tenant, client, key), and the unique constraint on (client, key) stands behind it:
one case, whatever the timing. A request refused (400, 413, 503) records nothing, so it may
be corrected and sent again with the same key.
"""

import hashlib
import hmac
import logging
import re

from django.core.exceptions import SuspiciousOperation
from django.db import IntegrityError, connection, transaction
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, parsers, serializers
from rest_framework.generics import ListAPIView
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from infra.s3 import S3Error
from services.applications import submission
from services.applications.tracking import normalise_reference
from services.cases.models import Channel
from services.forms.models import OnlineService
from services.forms.spec import ApplicationForm
from tenants import limits

from . import problems
from . import serializers_applications as shapes
from .auth import client_of
from .base import ScopedV1
from .models import ApiSubmission
from .scopes import Scope

log = logging.getLogger(__name__)

IDEMPOTENCY_HEADER = "Idempotency-Key"
#: 1 to 200 printable ASCII characters (a UUID is a good key).
IDEMPOTENCY_KEY_RE = re.compile(r"[\x20-\x7e]{1,200}")
#: Seconds to wait before sending again when the file storage did not take the uploads.
STORAGE_RETRY_AFTER = 60
NO_STORE = "no-store"


def request_language(request):
    """The language of the answer and of the case: the request's Accept-Language when it
    names one the platform speaks, else the tenant's default (set by cms/middleware.py)."""
    if request.META.get("HTTP_ACCEPT_LANGUAGE"):
        return translation.get_language_from_request(request)
    return translation.get_language()


class InRequestLanguage:
    """Mix into an API view (first): everything it says, errors included, in
    `request_language`, and Content-Language says which."""

    def dispatch(self, request, *args, **kwargs):
        language = request_language(request)
        with translation.override(language):
            response = super().dispatch(request, *args, **kwargs)
        response["Content-Language"] = language
        patch_vary_headers(response, ("Accept-Language", "Authorization"))
        return response


class JsonBody(parsers.JSONParser):
    """REST framework's JSON parser, with JSON nested past Python's recursion limit a 400
    like any other unreadable JSON (not a 500)."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise exceptions.ParseError(_("The JSON is nested too deeply.")) from exc


def _advisory_lock(client_pk, key):
    """Wait for any other transaction holding (this tenant, client, key), and hold it until
    this one ends. The lock space is the database's, so the tenant's schema is part of it."""
    material = f"{connection.schema_name}\x00{client_pk}\x00{key}".encode()
    number = int.from_bytes(hashlib.sha256(material).digest()[:8], "big", signed=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [number])


def _earlier(client, key):
    return (ApiSubmission.objects.filter(client=client, idempotency_key=key)
            .select_related("case__service__page", "case__workflow_version").first())


def _problems(**described):
    """OpenAPI responses {(status, application/problem+json): ...} from s400="..." etc."""
    return {(int(code[1:]), problems.PROBLEM): OpenApiResponse(response=ProblemSerializer,
                                                                description=text)
            for code, text in described.items()}


class ProblemSerializer(serializers.Serializer):
    """application/problem+json (RFC 9457), as services/api/problems.py writes it."""

    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()),
                                   required=False)


MULTIPART_SCHEMA = {
    "type": "object",
    "properties": {"answers": {"type": "string", "description": "The answers as JSON text."}},
    "required": ["answers"],
    "additionalProperties": {"type": "string", "format": "binary"},
}


class SubmitApplication(InRequestLanguage, ScopedV1, APIView):
    """Submit an application to an online service of this tenant."""

    required_scope = Scope.SUBMIT_APPLICATIONS
    parser_classes = [JsonBody, parsers.MultiPartParser]

    @extend_schema(
        operation_id="submit_application", tags=["applications"],
        summary="Submit an application",
        parameters=[OpenApiParameter(IDEMPOTENCY_HEADER, str, OpenApiParameter.HEADER,
                                     required=True,
                                     description="1 to 200 printable ASCII characters, new "
                                                 "for each application (a UUID).")],
        request={"application/json": shapes.ApplicationRequestSerializer,
                 "multipart/form-data": MULTIPART_SCHEMA},
        responses={
            201: shapes.ApplicationSerializer,
            200: OpenApiResponse(shapes.ApplicationSerializer,
                                 description="A retry: the case the first request made."),
            **_problems(
                s400="Invalid answers (`errors` per question), a missing or malformed "
                     "Idempotency-Key, or an unreadable body.",
                s401="No key, or a key this tenant does not know.",
                s403="The key lacks the scope applications:submit.",
                s404="No published online service at this slug.",
                s409="The Idempotency-Key was used for another request.",
                s413="The body is larger than the form accepts.",
                s415="Neither JSON nor multipart/form-data.",
                s429="Too many applications to this tenant right now.",
                s503="The service is closed, or the file storage is unavailable "
                     "(Retry-After)."),
        },
    )
    def post(self, request, slug):
        client = client_of(request)
        key = request.META.get("HTTP_IDEMPOTENCY_KEY")
        if not key or not IDEMPOTENCY_KEY_RE.fullmatch(key) or not key.strip():
            return problems.problem(400, _(
                "Send an Idempotency-Key header of 1 to 200 printable ASCII characters, new "
                "for each application (a UUID will do). A retry of the same application uses "
                "the same key."))
        counted = limits.tenant_hit("apply")
        if counted is not None and counted.exceeded:
            return problems.problem(429, _(
                "This site is receiving more applications than it can take right now. Try "
                "again in %(seconds)s s.") % {"seconds": counted.retry_after},
                headers={"Retry-After": str(counted.retry_after)})
        service = self._service(slug)
        version = submission.current_form_version(service)
        limit = submission.upload_limit(version)
        try:
            too_large = int(request.META.get("CONTENT_LENGTH") or 0) > limit
        except ValueError:
            too_large = True
        if too_large:
            return problems.problem(413, _(
                "The request is larger than this form accepts (%(mb)s MB with its files).")
                % {"mb": limit // (1024 * 1024)})
        try:
            files = request.FILES if request.content_type.startswith("multipart/") else None
            answers = shapes.answers_from(request.data, files)
        except SuspiciousOperation as exc:  # too many parts, a part too large
            raise exceptions.ParseError(_("The multipart body has too many or too large "
                                          "parts.")) from exc
        except shapes.BodyError as exc:
            return problems.problem(400, str(exc))
        digest = shapes.fingerprint(service.pk, answers, files)
        earlier = _earlier(client, key)
        if earlier is not None:
            return self._answer(request, earlier, digest)
        if not service.accepting:
            return problems.problem(503, _("“%(service)s” is not taking applications at the "
                                           "moment.") % {"service": service})
        data, uploads, errors = shapes.form_data(version.spec, answers, files)
        form = ApplicationForm(version.spec, data, uploads)
        form.is_valid()
        errors = {**shapes.form_errors(form), **errors}
        if errors:
            return problems.problem(400, _("Some answers are missing or not right: see "
                                           "“errors”, by question."), errors=errors)
        try:
            made = self._submit(client, key, digest, service, version, form.cleaned_data)
        except S3Error:
            log.warning("API submission to %s not stored: file storage unavailable",
                        service.pk, exc_info=True)
            return problems.problem(503, _(
                "We could not store the files just now, so nothing was saved. Send the same "
                "request again, with the same Idempotency-Key, in a minute."),
                headers={"Retry-After": str(STORAGE_RETRY_AFTER)})
        if made is None:  # another request with this key won the race
            return self._answer(request, _earlier(client, key), digest)
        return self._case_response(request, made, 201)

    def _service(self, slug):
        language = translation.get_language()
        service = (OnlineService.objects.at_slug(slug, language)
                   or OnlineService.objects.formerly_at(slug, language))
        if service is None:
            raise exceptions.NotFound(_("There is no online service at this address."))
        return service

    def _submit(self, client, key, digest, service, version, cleaned):
        """The case, made once for (client, key); None if another request made it first."""

        def record(case):
            ApiSubmission.objects.create(client=client, case=case, idempotency_key=key,
                                         body_sha256=digest)

        try:
            with transaction.atomic():
                _advisory_lock(client.pk, key)
                if ApiSubmission.objects.filter(client=client, idempotency_key=key).exists():
                    return None
                draft = submission.save_draft(service, version, cleaned,
                                              channel=Channel.ONLINE,
                                              language=translation.get_language())
                case, _created = submission.submit_application(draft.token, service=service,
                                                               on_created=record)
                return case
        except IntegrityError:
            # The unique constraint behind the lock: (client, key) was taken after all.
            if ApiSubmission.objects.filter(client=client, idempotency_key=key).exists():
                return None
            raise

    def _answer(self, request, earlier, digest):
        """A retry: the same request gets its case again; another request is refused."""
        if not hmac.compare_digest(earlier.body_sha256, digest):
            return problems.problem(409, _(
                "This Idempotency-Key was already used for a different request, which made "
                "the application %(reference)s. Use a new key for a new application.")
                % {"reference": earlier.case.reference})
        response = self._case_response(request, earlier.case, 200)
        response["Idempotent-Replayed"] = "true"
        return response

    def _case_response(self, request, case, status):
        body = shapes.ApplicationSerializer(case, context={"request": request}).data
        response = Response(body, status=status)
        response["Location"] = request.build_absolute_uri(
            f"/api/v1/applications/{case.reference}")
        response["Cache-Control"] = NO_STORE
        return response


class ApplicationPages(CursorPagination):
    """Newest first; `cursor` from `next`/`previous`, `limit` up to 100."""

    ordering = "-id"
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 100


class ListApplications(InRequestLanguage, ScopedV1, ListAPIView):
    """The applications this client submitted, newest first (cursor pagination)."""

    required_scope = Scope.READ_OWN_SUBMISSIONS
    serializer_class = shapes.ApplicationSummarySerializer
    pagination_class = ApplicationPages

    def get_queryset(self):
        return (ApiSubmission.objects.filter(client=client_of(self.request))
                .select_related("case__service__page", "case__workflow_version"))

    @extend_schema(operation_id="list_own_applications", summary="List own applications",
                   responses={200: shapes.ApplicationSummarySerializer(many=True),
                              **_problems(s401="No valid key.",
                                          s403="The key lacks applications:read.",
                                          s404="An invalid cursor.")})
    def get(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        body = self.get_serializer([row.case for row in page], many=True).data
        response = self.get_paginated_response(body)
        response["Cache-Control"] = NO_STORE
        return response


class ReadApplication(InRequestLanguage, ScopedV1, APIView):
    """One application this client submitted: its status and public history."""

    required_scope = Scope.READ_OWN_SUBMISSIONS

    @extend_schema(operation_id="read_own_application", summary="Read an own application",
                   responses={200: shapes.ApplicationSerializer,
                              **_problems(s401="No valid key.",
                                          s403="The key lacks applications:read.",
                                          s404="No application with this reference "
                                               "submitted by this client.")})
    def get(self, request, reference):
        own = (ApiSubmission.objects.filter(client=client_of(request),
                                            case__reference=normalise_reference(reference)[:32])
               .select_related("case__service__page", "case__workflow_version").first())
        if own is None:
            raise exceptions.NotFound(_("This client submitted no application with this "
                                        "reference."))
        response = Response(shapes.ApplicationSerializer(own.case,
                                                         context={"request": request}).data)
        response["Cache-Control"] = NO_STORE
        return response
