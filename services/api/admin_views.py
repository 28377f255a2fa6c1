"""Settings → API clients in the tenant's Wagtail admin: register, edit and deactivate clients,
issue, rotate and revoke their keys, read their calls per day. Tenant administrators only
(superusers: a service account can be put in case-work groups, which only someone who may
give any role should do). Each change goes through services/api/clients.py, which audits it.

A key's plaintext is shown once, in the answer to the POST that issued it (never stored, not
even in the session; `Cache-Control: no-store`). Destructive actions (rotate, revoke,
deactivate) ask for confirmation on a page of their own, so everything works without
JavaScript.
"""

from django.db.models import Count, Q
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from django.views.decorators.http import require_http_methods, require_POST
from wagtail.admin import messages

from cms.viewsets import AdminSection
from tenants import staff

from . import clients, usage
from .forms import ApiClientForm, RotateForm
from .models import ApiClient, ApiKey
from .scopes import Scope

#: Settings → API clients, for the tenant's administrators; its routes: wagtail_hooks.py.
section = AdminSection("api_clients", url_prefix="api-clients", menu_label=_l("API clients"),
                       icon="key", add_to_settings_menu=True,
                       # After "Sign-in lockouts" (602), before the audit log (900).
                       menu_order=610)


def _errors(form):
    return [(form[name].auto_id if name in form.fields else "", message)
            for name, messages_ in form.errors.items() for message in messages_]


def _scope_labels(client):
    labels = dict(Scope.choices)
    return [labels.get(code, code) for code in sorted(client.scopes)]


@section.guard
def index(request):
    now = timezone.now()
    rows = list(ApiClient.objects.annotate(usable_keys=Count(
        "keys", filter=Q(keys__revoked_at__isnull=True)
        & (Q(keys__expires_at__isnull=True) | Q(keys__expires_at__gt=now)))))
    today = usage.calls_today(rows)
    return section.page(request, "api/admin/index.html", _("API clients"), {
        "clients": [{"client": client, "scopes": _scope_labels(client),
                     "calls_today": today.get(client.pk)} for client in rows]})


def _form_context(form):
    return {"form": form, "errors": _errors(form)}


@section.guard
@require_http_methods(["GET", "POST"])
def add(request):
    form = ApiClientForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        client = clients.create_client(**form.cleaned_data, created_by=request.user)
        messages.success(request, _("API client “%(name)s” registered. Issue its first key "
                                    "below.") % {"name": client.name})
        return HttpResponseRedirect(reverse("api_clients:edit", args=[client.pk]))
    return section.page(request, "api/admin/add.html", _("Add API client"), _form_context(form),
                 crumbs=[("", _("Add API client"))], status=400 if form.errors else 200)


@section.guard
@require_http_methods(["GET", "POST"])
def edit(request, pk):
    client = get_object_or_404(ApiClient.objects.select_related("service_user"), pk=pk)
    form = ApiClientForm(request.POST or None, instance=client)
    if request.method == "POST" and form.is_valid():
        clients.update_client(client, **form.cleaned_data)
        messages.success(request, _("API client “%(name)s” saved.") % {"name": client.name})
        return HttpResponseRedirect(reverse("api_clients:edit", args=[client.pk]))
    now = timezone.now()
    keys = []
    for key in client.keys.all():
        live = key.revoked_at is None and (key.expires_at is None or key.expires_at > now)
        keys.append({"key": key, "live": live, "usable": live and client.is_active})
    groups = ([staff.group_label(group.name) for group in client.service_user.groups.all()]
              if client.service_user_id else [])
    return section.page(request, "api/admin/edit.html", client.name, {
        **_form_context(form), "client": client, "keys": keys, "groups": groups,
        "usage": usage.daily(client)}, crumbs=[("", client.name)],
        status=400 if form.errors else 200)


def _issued(request, client, issued, *, rotated=None):
    return section.page(request, "api/admin/key_issued.html", _("New API key"), {
        "client": client, "issued": issued, "rotated": rotated},
        crumbs=[(reverse("api_clients:edit", args=[client.pk]), client.name),
                ("", _("New API key"))])


@section.guard
@require_POST
def issue(request, pk):
    client = get_object_or_404(ApiClient, pk=pk)
    if not client.is_active:
        messages.error(request, _("Reactivate the client before issuing a key."))
        return HttpResponseRedirect(reverse("api_clients:edit", args=[client.pk]))
    return _issued(request, client, clients.issue_key(client, created_by=request.user))


def _usable_key(pk, key_pk):
    return get_object_or_404(ApiKey.objects.usable().select_related("client"), pk=key_pk,
                             client_id=pk)


def _revocable_key(pk, key_pk):
    """A key not yet revoked nor expired, its client active or not (a leaked key of a
    deactivated client is revoked before the client is reactivated)."""
    return get_object_or_404(
        ApiKey.objects.filter(revoked_at__isnull=True).filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))
        .select_related("client"), pk=key_pk, client_id=pk)


@section.guard
@require_http_methods(["GET", "POST"])
def rotate(request, pk, key_pk):
    key = _usable_key(pk, key_pk)
    form = RotateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        issued = clients.rotate_key(key, overlap=form.overlap_delta, created_by=request.user)
        return _issued(request, key.client, issued, rotated=key)
    return section.page(request, "api/admin/rotate.html", _("Rotate key %(prefix)s") % {
        "prefix": key.prefix}, {"key": key, "client": key.client, **_form_context(form)},
        crumbs=[(reverse("api_clients:edit", args=[pk]), key.client.name),
                ("", _("Rotate key"))], status=400 if form.errors else 200)


@section.guard
@require_http_methods(["GET", "POST"])
def revoke(request, pk, key_pk):
    key = _revocable_key(pk, key_pk)
    if request.method == "POST":
        clients.revoke_key(key)
        messages.success(request, _("Key %(prefix)s is revoked: calls with it are refused "
                                    "from now on.") % {"prefix": key.prefix})
        return HttpResponseRedirect(reverse("api_clients:edit", args=[pk]))
    return section.page(request, "api/admin/confirm.html", _("Revoke key %(prefix)s") % {
        "prefix": key.prefix}, {
        "client": key.client,
        "question": _("Revoke key %(prefix)s of “%(name)s”?") % {
            "prefix": key.prefix, "name": key.client.name},
        "consequence": _("Every call with this key is refused from now on. This cannot be "
                         "undone: the client needs a new key."),
        "button": _("Yes, revoke the key")},
        crumbs=[(reverse("api_clients:edit", args=[pk]), key.client.name),
                ("", _("Revoke key"))])


@section.guard
@require_http_methods(["GET", "POST"])
def deactivate(request, pk):
    client = get_object_or_404(ApiClient, pk=pk)
    if request.method == "POST":
        clients.set_active(client, False)
        messages.success(request, _("API client “%(name)s” is deactivated: all its keys are "
                                    "refused.") % {"name": client.name})
        return HttpResponseRedirect(reverse("api_clients:edit", args=[pk]))
    return section.page(request, "api/admin/confirm.html", _("Deactivate %(name)s") % {
        "name": client.name}, {
        "client": client,
        "question": _("Deactivate the API client “%(name)s”?") % {"name": client.name},
        "consequence": _("Every call with any of its keys is refused until you reactivate "
                         "it. Its keys, usage and history are kept."),
        "button": _("Yes, deactivate the client")},
        crumbs=[(reverse("api_clients:edit", args=[pk]), client.name),
                ("", _("Deactivate"))])


@section.guard
@require_POST
def reactivate(request, pk):
    client = get_object_or_404(ApiClient, pk=pk)
    clients.set_active(client, True)
    messages.success(request, _("API client “%(name)s” is active again.") % {
        "name": client.name})
    return HttpResponseRedirect(reverse("api_clients:edit", args=[pk]))
