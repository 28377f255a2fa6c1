"""Citizen-facing pages: apply (form -> check your answers -> confirmation), track, pay.

Every page here is `Cache-Control: no-store` and carries no personal data in its URL: the
draft and the case being tracked are remembered in the (tenant-scoped) session.
"""

import logging
import uuid
from datetime import timedelta
from functools import wraps

from django import forms
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from infra.clientip import client_address
from infra.s3 import S3Error
from tenants import limits

from ..cases import engine
from ..cases.models import Case, CaseEvent, CaseNote, Channel
from ..forms import published
from ..forms import spec as formspec
from ..forms.models import OnlineService
from ..forms.spec import answer_rows
from ..workflows import spec as workflowspec
from . import payments, submission, tracking
from .models import ApplicationDraft, Payment

DRAFTS = "dgbox_drafts"
DONE = "dgbox_done"
TRACK_REF = "dgbox_track_reference"
TRACK_CASE = "dgbox_track_case"
TRACK_MINUTES = 30
#: Seconds to wait before trying again, when the file storage did not take an upload.
UPLOAD_RETRY_AFTER = 60
UPLOAD_UNAVAILABLE = _("We could not store this file just now, so it was not saved. Your "
                       "other answers are kept: choose the file again and continue. If it "
                       "still does not work, try again in a few minutes.")

log = logging.getLogger(__name__)


def _remember(request, key, service, value):
    store = dict(request.session.get(key) or {})
    store[str(service.pk)] = value
    request.session[key] = store


def _recalled(request, key, service):
    """What the session remembers for `service` (keyed by the service, not its address,
    which changes when the page is renamed)."""
    return (request.session.get(key) or {}).get(str(service.pk))


def with_service(view):
    """Hands `view` the published service at /apply/<slug>/, the slug its page has now. A
    slug the page had before (renamed since) is redirected to the same step at the current
    address, method and body kept (307), so old links and applications under way survive a
    rename; a move in the page tree does not change the address at all.

    Every step counts against the tenant's own apply limit (DGBOX_TENANT_APPLY_RATES, by its
    kind): a tenant whose forms are flooded answers 429 before touching the database, and
    the other tenants' forms are unaffected (tenants/limits.py; fails open without Redis)."""

    @wraps(view)
    def wrapper(request, slug):
        counted = limits.tenant_hit("apply")
        if counted is not None and counted.exceeded:
            return limits.too_many(request, _("This site is receiving more applications "
                                              "than it can take right now."),
                                   counted.retry_after)
        language = get_language()
        service = published.service_at(slug, language)
        if service is not None:
            return view(request, service)
        renamed = OnlineService.objects.formerly_at(slug, language)
        if renamed is None:
            raise Http404("No online service at this address.")
        response = HttpResponseRedirect(reverse(request.resolver_match.view_name,
                                                kwargs={"slug": renamed.slug}))
        response.status_code = 307
        return response

    return wrapper


def _can_assist(request):
    user = request.user
    return user.is_authenticated and user.has_perm("services.apply_on_behalf")


class ChannelForm(forms.Form):
    channel = forms.ChoiceField(choices=Channel.choices, initial=Channel.OFFICE,
                                label=_("How the application reached us"),
                                widget=forms.RadioSelect)


def _draft_for(request, service):
    token = _recalled(request, DRAFTS, service)
    if not token:
        return None
    return ApplicationDraft.objects.filter(pk=token, service=service, case__isnull=True).first()


def _initial(draft):
    if draft is None:
        return {}
    return {name: value for name, value in draft.answers.items()
            if not isinstance(value, dict) or "file" not in value}


def _too_large(request, version):
    limit = submission.upload_limit(version)
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0) > limit
    except ValueError:
        return True


@never_cache
@require_http_methods(["GET", "POST"])
@with_service
def apply(request, service):
    if not service.accepting:
        return render(request, "services/closed.html", {"service": service}, status=503)
    version = submission.current_form_version(service)
    draft = _draft_for(request, service)
    if draft is not None and draft.form_version_id != version.id:
        draft = None  # the form changed since: start on the new version (answers kept below)
    kept_files = {name: value for name, value in (draft.answers if draft else {}).items()
                  if isinstance(value, dict) and "file" in value}
    assisted = _can_assist(request)
    channel_form = None
    if request.method == "POST":
        if _too_large(request, version):
            return render(request, "services/too_large.html", {"service": service}, status=413)
        form = formspec.ApplicationForm(version.spec, request.POST, request.FILES,
                                        kept_files=kept_files)
        channel_form = ChannelForm(request.POST, prefix="assist") if assisted else None
        if form.is_valid() and (channel_form is None or channel_form.is_valid()):
            channel = channel_form.cleaned_data["channel"] if channel_form else Channel.ONLINE
            try:
                draft = submission.save_draft(
                    service, version, form.cleaned_data, draft=draft, channel=channel,
                    entered_by=request.user if assisted else None, language=get_language())
            except S3Error:
                # Nothing of this try was saved (save_draft is one transaction); a draft
                # saved before keeps its answers and files. The form comes back filled in.
                _upload_failed(request, form, request.FILES)
                status = 503
            else:
                _remember(request, DRAFTS, service, str(draft.token))
                return HttpResponseRedirect(reverse("services:check",
                                                    kwargs={"slug": service.slug}))
        else:
            status = 400
    else:
        form = formspec.ApplicationForm(version.spec, initial=_initial(draft),
                                        kept_files=kept_files)
        channel_form = ChannelForm(prefix="assist") if assisted else None
        status = 200
    response = render(request, "services/apply.html", {
        "service": service, "form": form, "channel_form": channel_form,
        "questions": form.questions(), "errors": form.error_list(channel_form),
    }, status=status)
    if status == 503:
        response["Retry-After"] = str(UPLOAD_RETRY_AFTER)
    return response


def _upload_failed(request, form, files):
    """The file storage did not take the uploads: say so on each file field that had one."""
    log.warning("Upload on %s not stored: file storage unavailable", request.path,
                exc_info=True)
    names = [name for name in form.fields if form.add_prefix(name) in files]
    for name in names or [None]:
        form.add_error(name, UPLOAD_UNAVAILABLE)


@never_cache
@require_http_methods(["GET", "POST"])
@with_service
def check_answers(request, service):
    slug = service.slug
    if request.method == "POST":
        try:
            case, _created = submission.submit_application(
                uuid.UUID(request.POST.get("draft", "")), service=service)
        except (ValueError, ApplicationDraft.DoesNotExist):
            return render(request, "services/expired.html", {"service": service}, status=400)
        _remember(request, DONE, service, case.reference)
        return HttpResponseRedirect(reverse("services:done", kwargs={"slug": slug}))
    token = _recalled(request, DRAFTS, service)
    draft = ApplicationDraft.objects.filter(pk=token, service=service).first() if token else None
    if draft is None:
        return HttpResponseRedirect(reverse("services:apply", kwargs={"slug": slug}))
    if draft.case_id:
        return HttpResponseRedirect(reverse("services:done", kwargs={"slug": slug}))
    return render(request, "services/check.html", {
        "service": service, "draft": draft,
        "rows": answer_rows(draft.form_version.spec, draft.answers, with_contact=True),
        "assisted": draft.entered_by_id is not None, "fee": service.fee,
    })


@never_cache
@with_service
def confirmation(request, service):
    slug = service.slug
    reference = _recalled(request, DONE, service)
    case = Case.objects.filter(reference=reference, service=service).first() if reference else None
    if case is None:
        return HttpResponseRedirect(reverse("services:apply", kwargs={"slug": slug}))
    payment = case.payments.filter(status=Payment.Status.PENDING).first()
    pay_url = payments.provider().start(payment, request) if payment else None
    return render(request, "services/done.html", {
        "service": service, "case": case, "payment": payment,
        "pay_url": pay_url, "processing_days": service.page.processing_days,
    })


@never_cache
@require_http_methods(["GET", "POST"])
def pay(request, token):
    """The local test provider's page: pay or decline, then back to the confirmation."""
    payment = get_object_or_404(Payment.objects.select_related("case__service__page"),
                                pk=token)
    if request.method == "POST" and payment.status == Payment.Status.PENDING:
        payment, _changed = payments.complete(token, paid=request.POST.get("outcome") == "pay",
                                              provider_reference="local-test")
    return render(request, "services/pay.html", {"payment": payment,
                                                 "service": payment.case.service})


def _errors(form):
    return [(form[name].auto_id, message) for name, messages in form.errors.items()
            for message in messages]


class ReferenceForm(forms.Form):
    reference = forms.CharField(label=_("Application reference"), max_length=32,
                                help_text=_("For example, ABC-2026-000123. It is in your "
                                            "receipt."),
                                error_messages={"required": _("Enter your application "
                                                              "reference.")})

    def clean_reference(self):
        problem = tracking.reference_problem(self.cleaned_data["reference"])
        if problem:
            raise forms.ValidationError(problem)
        return tracking.normalise_reference(self.cleaned_data["reference"])


class CodeForm(forms.Form):
    code = forms.CharField(label=_("Code"), max_length=12,
                           help_text=_("The 6-digit code we sent you."),
                           widget=forms.TextInput(attrs={"inputmode": "numeric",
                                                         "autocomplete": "one-time-code"}))


@never_cache
@require_http_methods(["GET", "POST"])
def track_start(request):
    form = ReferenceForm(request.POST or None)
    error = None
    if request.method == "POST" and form.is_valid():
        try:
            tracking.request_code(form.cleaned_data["reference"], client_address(request))
        except tracking.TrackingError as exc:
            form.add_error("reference", str(exc))
            error = exc
        else:
            request.session[TRACK_REF] = form.cleaned_data["reference"]
            return HttpResponseRedirect(reverse("services:track-code"))
    return _tracking_page(request, "services/track_start.html", form, error)


@never_cache
@require_http_methods(["GET", "POST"])
def track_code(request):
    reference = request.session.get(TRACK_REF)
    if not reference:
        return HttpResponseRedirect(reverse("services:track"))
    form = CodeForm(request.POST or None)
    error = None
    if request.method == "POST" and form.is_valid():
        try:
            case = tracking.verify_code(reference, form.cleaned_data["code"],
                                        client_address(request))
        except tracking.TrackingError as exc:
            form.add_error("code", str(exc))
            error = exc
        else:
            request.session.cycle_key()
            request.session[TRACK_CASE] = {"id": case.pk,
                                           "until": (timezone.now() + timedelta(
                                               minutes=TRACK_MINUTES)).timestamp()}
            return HttpResponseRedirect(reverse("services:track-status"))
    return _tracking_page(request, "services/track_code.html", form, error)


def _tracking_page(request, template, form, error=None):
    """400 for the applicant's mistakes; 503 with Retry-After when the attempt limits could
    not be counted (tracking.TrackingUnavailable)."""
    status = 400 if form.errors else 200
    retry_after = getattr(error, "retry_after", None)
    response = render(request, template, {"form": form, "errors": _errors(form)},
                      status=503 if retry_after else status)
    if retry_after:
        response["Retry-After"] = str(retry_after)
    return response


class InformationForm(forms.Form):
    message = forms.CharField(label=_("Your answer"), max_length=4000,
                              widget=forms.Textarea(attrs={"rows": 5}))
    document = formspec.UploadField(kinds=formspec.DEFAULT_FILE_KINDS, max_size_mb=10,
                                    required=False, label=_("A document (optional)"),
                                    help_text=_("PDF, JPEG or PNG, up to 10 MB."))


@never_cache
@require_http_methods(["GET", "POST"])
def track_status(request):
    opened = request.session.get(TRACK_CASE) or {}
    if not opened or opened.get("until", 0) < timezone.now().timestamp():
        return HttpResponseRedirect(reverse("services:track"))
    case = get_object_or_404(Case.objects.select_related("service__page", "workflow_version"),
                             pk=opened["id"])
    asked = any(t["group"] == engine.APPLICANT for t in
                workflowspec.transitions_from(engine.definition(case), case.status))
    info_form = None
    storage_failed = False
    if asked:
        info_form = InformationForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and info_form.is_valid():
            try:
                submission.provide_information(case, info_form.cleaned_data["message"],
                                                 info_form.cleaned_data.get("document"))
            except engine.TransitionError as exc:
                info_form.add_error(None, str(exc))
            except S3Error:  # nothing was saved: the answer stays in the form
                _upload_failed(request, info_form, request.FILES)
                storage_failed = True
            else:
                return HttpResponseRedirect(reverse("services:track-status"))
    status = 400 if info_form is not None and info_form.errors else 200
    letter = case.files.filter(field_name="decision_letter").order_by("-uploaded_at").first()
    response = render(request, "services/track_status.html", {
        "letter": letter,
        "case": case, "history": tracking.public_history(case), "info_form": info_form,
        "errors": _errors(info_form) if info_form is not None else [],
        "request_message": _latest_request(case) if asked else "",
        "payment": case.payments.filter(status=Payment.Status.PENDING).first(),
    }, status=503 if storage_failed else status)
    if storage_failed:
        response["Retry-After"] = str(UPLOAD_RETRY_AFTER)
    return response


@never_cache
def track_letter(request):
    """The applicant downloads their decision letter (same session as the status page)."""


    opened = request.session.get(TRACK_CASE) or {}
    if not opened or opened.get("until", 0) < timezone.now().timestamp():
        return HttpResponseRedirect(reverse("services:track"))
    case = get_object_or_404(Case, pk=opened["id"])
    letter = case.files.filter(field_name="decision_letter").order_by("-uploaded_at").first()
    if letter is None:
        raise Http404("No decision letter yet.")
    CaseEvent.objects.create(case=case, kind=CaseEvent.Kind.FILE_VIEWED, actor_role="applicant",
                             data={"file": str(letter.pk), "field": letter.field_name})
    response = FileResponse(letter.open(), as_attachment=True, filename=letter.download_name,
                            content_type=letter.content_type)
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _latest_request(case):
    """What staff asked the applicant (the message given with the request)."""

    note = CaseNote.objects.filter(case=case, kind=CaseNote.Kind.REQUEST).order_by(
        "-created_at").first()
    return note.text if note else ""
