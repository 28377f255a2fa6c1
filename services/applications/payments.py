"""Fees: a payment provider interface and the local test provider.

A provider sends the applicant somewhere to pay and tells us the outcome. Real acquirers (a
national payment gateway, a bank) are further `PaymentProvider` classes named in
DGBOX_PAYMENT_PROVIDER; the local one shows a page with "Pay" and "Decline" buttons so the
whole journey can be run and tested here without a third party.
"""

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils.module_loading import import_string

from ..cases.messages import notification_context
from ..cases.models import CaseEvent
from ..notifications.api import notify
from .models import Payment


class PaymentProvider:
    name = "base"

    def start(self, payment, request):
        """Where to send the applicant to pay (a URL)."""
        raise NotImplementedError


class LocalTestProvider(PaymentProvider):
    """Pays or declines on the applicant's click, on our own page. For development, tests
    and demos only; production settings must name a real provider."""

    name = "local-test"

    def start(self, payment, request):
        return reverse("services:pay", kwargs={"token": payment.token})


def provider():
    return import_string(settings.DGBOX_PAYMENT_PROVIDER)()


def complete(token, *, paid, provider_reference=""):
    """Record a provider's outcome once; a repeated callback changes nothing."""
    with transaction.atomic():
        payment = (Payment.objects.select_for_update(of=("self",)).select_related("case")
                   .get(pk=token))
        if payment.status != Payment.Status.PENDING:
            return payment, False
        payment.status = Payment.Status.PAID if paid else Payment.Status.DECLINED
        payment.provider_reference = provider_reference
        payment.save(update_fields=["status", "provider_reference", "updated_at"])
        case = payment.case
        CaseEvent.objects.create(case=case, kind=CaseEvent.Kind.PAYMENT, public=True,
                                 actor_role="applicant",
                                 data={"status": payment.status, "amount": str(payment.amount)})
        if paid:
            notify("payment_received", language=case.language, topic=case.reference,
                   email=case.applicant_email or None, phone=case.applicant_phone or None,
                   context=notification_context("payment_received", case,
                                                amount=f"{payment.amount} ₽"))
    return payment, True
