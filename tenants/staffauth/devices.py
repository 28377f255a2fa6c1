"""Authenticator apps (TOTP) and recovery codes, through django-otp.

A member of staff enrols one authenticator app at a time: `pending_device` keeps an
unconfirmed device (its secret shown as a QR code) until `confirm` accepts a code from the
app. Confirming gives ten recovery codes (django-otp's static tokens): each works once, in
place of a code from the app. django-otp throttles wrong codes per device (each failure
doubles the wait). Devices live in the request's schema, like the user.

Other code learns of changes through `two_factor_enrolled` and `two_factor_removed`
(kwargs: user, device), sent after the change is saved; the audit trail listens to them.
"""

from __future__ import annotations

import re
from base64 import b32encode
from typing import Any

import django.dispatch
import django_otp
import segno
from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

RECOVERY_CODES = 10

two_factor_enrolled = django.dispatch.Signal()  # kwargs: user, device
two_factor_removed = django.dispatch.Signal()  # kwargs: user, device


def authenticators(user: Any) -> list[TOTPDevice]:
    """The user's confirmed authenticator apps."""
    return list(TOTPDevice.objects.devices_for_user(user, confirmed=True).order_by("pk"))


def has_second_factor(user: Any) -> bool:
    return bool(user.is_authenticated) and TOTPDevice.objects.devices_for_user(
        user, confirmed=True).exists()


def recovery_codes_left(user: Any) -> int:
    return int(StaticToken.objects.filter(device__user=user, device__confirmed=True).count())


def pending_device(user: Any) -> TOTPDevice:
    """The unconfirmed device whose secret the enrolment page shows (made on first visit)."""
    device = TOTPDevice.objects.devices_for_user(user, confirmed=False).order_by("-pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=_("Authenticator app"),
                                           confirmed=False)
    return device


def qr_svg(device: TOTPDevice) -> str:
    """The device's otpauth:// address as an inline SVG QR code (no script, no image URL)."""
    svg: str = segno.make(device.config_url, error="m").svg_inline(
        scale=5, border=4, dark="#000", light="#fff", omitsize=True)  # sized by CSS
    return svg


def secret_text(device: TOTPDevice) -> str:
    """The secret for typing into an app, in groups of four characters."""
    key = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(key[i:i + 4] for i in range(0, len(key), 4))


def _clean(code: str) -> str:
    return re.sub(r"[\s-]", "", code or "").lower()


def confirm(request: HttpRequest, device: TOTPDevice, code: str) -> list[str] | None:
    """Confirm `device` if `code` is its current code: the request's session counts as
    verified and the new recovery codes are returned. None if the code is wrong."""
    user = request.user
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().get(pk=device.pk, user=user)
        if not device.verify_token(_clean(code)):
            return None
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        TOTPDevice.objects.devices_for_user(user, confirmed=False).delete()
        codes = new_recovery_codes(user)
    django_otp.login(request, device)
    two_factor_enrolled.send(sender=TOTPDevice, user=user, device=device)
    return codes


def new_recovery_codes(user: Any) -> list[str]:
    """Replace the user's recovery codes with ten new ones (the old ones stop working)."""
    with transaction.atomic():
        StaticDevice.objects.filter(user=user).delete()
        device = StaticDevice.objects.create(user=user, name=_("Recovery codes"),
                                             confirmed=True)
        codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
        StaticToken.objects.bulk_create(StaticToken(device=device, token=c) for c in codes)
    return codes


def verify(request: HttpRequest, code: str) -> bool:
    """Check `code` from the user's authenticator app, or one of their recovery codes (spent
    on use); on success the session counts as verified."""
    user = request.user
    code = _clean(code)
    if not code:
        return False
    # Six digits: the app's code; anything else: a recovery code.
    kinds: tuple[type[TOTPDevice] | type[StaticDevice], ...] = (
        (TOTPDevice,) if code.isdigit() and len(code) == 6 else (StaticDevice,))
    for model in kinds:
        for device in model.objects.devices_for_user(user, confirmed=True):
            verified = django_otp.verify_token(user, device.persistent_id, code)
            if verified is not None:
                django_otp.login(request, verified)
                return True
    return False


def remove(user: Any, device_id: int) -> bool:
    """Remove one of the user's authenticator apps; with the last one go the recovery
    codes. False if it is not theirs."""
    device = TOTPDevice.objects.devices_for_user(user, confirmed=True).filter(
        pk=device_id).first()
    if device is None:
        return False
    with transaction.atomic():
        device.delete()
        if not TOTPDevice.objects.devices_for_user(user, confirmed=True).exists():
            StaticDevice.objects.filter(user=user).delete()
    device.pk = device_id  # receivers (the audit trail) see which device it was
    two_factor_removed.send(sender=TOTPDevice, user=user, device=device)
    return True
