"""Webhooks in the tenant's Wagtail admin (Settings → Webhooks), for administrators only:
subscriptions (add, change, rotate the secret, delete, re-enable) and each one's delivery log
with replay. Writes go through actions.py, which audits them. A page that shows a secret is
never cached and the secret is never put in a URL or the session."""

from django.core.paginator import Paginator
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from django.views.decorators.http import require_POST
from wagtail.admin import messages

from cms.viewsets import AdminSection

from . import actions, delivery
from .forms import SubscriptionForm
from .models import Delivery, Subscription

PER_PAGE = 50


def _superusers(user) -> bool:
    return bool(user.is_superuser)


#: Settings → Webhooks, for the tenant's administrators; its routes: wagtail_hooks.py.
section = AdminSection("webhooks", menu_label=_l("Webhooks"), icon="link",
                       add_to_settings_menu=True, menu_order=910, may_see=_superusers)


@section.guard
def index(request):
    subscriptions = Subscription.objects.select_related("client")
    return render(request, "webhooks/index.html", {"subscriptions": subscriptions})


@section.guard
def create(request):
    form = SubscriptionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        subscription = actions.create(form.save(commit=False))
        return _show_secret(request, subscription, subscription.secret, created=True)
    return render(request, "webhooks/form.html", {"form": form, "subscription": None})


@section.guard
def edit(request, pk):
    subscription = get_object_or_404(Subscription.objects.select_related("client"), pk=pk)
    form = SubscriptionForm(request.POST or None, instance=subscription)
    if request.method == "POST" and form.is_valid():
        actions.change(form.save(commit=False), form.changed_data)
        messages.success(request, _("The subscription is saved."))
        return HttpResponseRedirect(reverse("webhooks:index"))
    return render(request, "webhooks/form.html", {"form": form, "subscription": subscription})


@section.guard
@require_POST
def rotate(request, pk):
    subscription = get_object_or_404(Subscription.objects.select_related("client"), pk=pk)
    return _show_secret(request, subscription, actions.rotate_secret(subscription),
                        created=False)


def _show_secret(request, subscription, secret, *, created):
    response = render(request, "webhooks/secret.html", {
        "subscription": subscription, "secret": secret, "created": created})
    response["Cache-Control"] = "no-store"
    return response


@section.guard
def delete(request, pk):
    subscription = get_object_or_404(Subscription.objects.select_related("client"), pk=pk)
    if request.method == "POST":
        actions.delete(subscription)
        messages.success(request, _("The subscription and its delivery log are deleted."))
        return HttpResponseRedirect(reverse("webhooks:index"))
    return render(request, "webhooks/delete.html", {"subscription": subscription})


@section.guard
def deliveries(request, pk):
    subscription = get_object_or_404(Subscription.objects.select_related("client"), pk=pk)
    paginator = Paginator(subscription.deliveries.order_by("-created_at", "-pk"), PER_PAGE)
    page = paginator.get_page(request.GET.get("p"))
    return render(request, "webhooks/deliveries.html", {
        "subscription": subscription, "page": page, "schedule": delivery.RETRY_SCHEDULE,
        "attempts": delivery.ATTEMPTS, "disable_after": delivery.DISABLE_AFTER})


@section.guard
@require_POST
def replay(request, pk, delivery_pk):
    row = get_object_or_404(Delivery.objects.select_related("subscription__client"),
                            pk=delivery_pk, subscription_id=pk)
    if not row.subscription.is_active:
        messages.error(request, _("Re-enable the subscription before replaying its "
                                  "deliveries."))
    else:
        actions.replay(row)
        messages.success(request, _("The delivery is being sent again with the same "
                                    "Webhook-Id."))
    return HttpResponseRedirect(reverse("webhooks:deliveries", args=[pk]))


@section.guard
@require_POST
def enable(request, pk):
    subscription = get_object_or_404(Subscription.objects.select_related("client"), pk=pk)
    actions.enable(subscription)
    messages.success(request, _("The subscription is enabled again."))
    return HttpResponseRedirect(reverse("webhooks:deliveries", args=[pk]))
