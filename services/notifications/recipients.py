"""Recipient addresses: e-mail addresses and phone numbers in international format."""

import re

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext_lazy as _

from .choices import Channel

_PHONE_SEPARATORS = re.compile(r"[\s().-]")
_E164 = re.compile(r"^\+[1-9]\d{7,14}$")


def normalise_phone(value: str) -> str:
    """Return the phone number as +<digits> (E.164); raise ValidationError if it is not one.

    Spaces, dashes, dots and brackets are dropped ("+7 (912) 345-67-89" -> "+79123456789").
    The country code is required: a leading 8 or a local number is ambiguous.
    """
    phone = _PHONE_SEPARATORS.sub("", value or "")
    if phone.startswith("00"):
        phone = "+" + phone[2:]
    if not _E164.match(phone):
        raise ValidationError(
            _("Enter the phone number in international format with the country code, "
              "for example +7 912 345-67-89."),
            code="invalid_phone",
        )
    return phone


def normalise_email(value: str) -> str:
    email = (value or "").strip()
    validate_email_address(email)
    return email


def validate_email_address(value: str) -> None:
    try:
        validate_email(value)
    except ValidationError:
        raise ValidationError(
            _("Enter a valid e-mail address, for example name@example.com."),
            code="invalid_email",
        ) from None


def normalise_recipient(channel: str, value: str) -> str:
    """The recipient of a `channel` message in its stored form; ValidationError if invalid."""
    if channel == Channel.EMAIL:
        return normalise_email(value)
    if channel == Channel.SMS:
        return normalise_phone(value)
    raise ValueError(f"unknown channel {channel!r}")
