"""National identifiers asked for on forms, checked by format and check digits.

SNILS (personal insurance account number, 11 digits, 2 check digits) and INN (taxpayer number:
12 digits for a person, 10 for an organisation), using the published check-digit rules. A
number that passes is returned in its canonical form (digits only).
"""

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

KINDS = {
    "snils": _("SNILS (personal insurance number)"),
    "inn_person": _("INN of a person (12 digits)"),
    "inn_company": _("INN of an organisation (10 digits)"),
}


def _digits(value, length, example):
    digits = re.sub(r"[\s-]", "", value or "")
    if not re.fullmatch(rf"[0-9]{{{length}}}", digits):
        raise ValidationError(_("Enter %(n)s digits, like %(example)s.")
                              % {"n": length, "example": example})
    return [int(d) for d in digits]


def snils_check(first_nine):
    total = sum(d * (9 - i) for i, d in enumerate(first_nine))
    if total > 101:
        total %= 101
    return 0 if total in (100, 101) else total


def _inn_digit(digits, weights):
    return sum(d * w for d, w in zip(digits, weights, strict=False)) % 11 % 10


def validate(kind, value):
    if kind == "snils":
        digits = _digits(value, 11, "123-456-789 64")
        if snils_check(digits[:9]) != digits[9] * 10 + digits[10]:
            raise ValidationError(_("This SNILS is not valid: check the digits."))
    elif kind == "inn_person":
        digits = _digits(value, 12, "500100732259")
        ok = (_inn_digit(digits, [7, 2, 4, 10, 3, 5, 9, 4, 6, 8]) == digits[10] and
              _inn_digit(digits, [3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8]) == digits[11])
        if not ok:
            raise ValidationError(_("This INN is not valid: check the digits."))
    elif kind == "inn_company":
        digits = _digits(value, 10, "7707083893")
        if _inn_digit(digits, [2, 4, 10, 3, 5, 9, 4, 6, 8]) != digits[9]:
            raise ValidationError(_("This INN is not valid: check the digits."))
    else:
        raise ValidationError(_("Unknown identifier type."))
    return "".join(str(d) for d in digits)
