"""Formatting of KPI figures in the dashboard: a share as a whole percentage, a missing figure
(nothing to divide) as a dash that screen readers read as "no data"."""

from decimal import Decimal

from django import template
from django.utils.formats import number_format
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

register = template.Library()


def _missing() -> SafeString:
    return format_html('<span aria-hidden="true">—</span><span class="w-sr-only">{}</span>',
                       _("no data"))


@register.filter
def share(value: float | None) -> SafeString | str:
    """0.834 -> "83%"; None -> a dash read as "no data"."""
    if value is None:
        return _missing()
    percent = round(value * 100, 1)
    places = 0 if percent == int(percent) else 1
    return f"{number_format(percent, decimal_pos=places, use_l10n=True)}%"


@register.filter
def figure(value: int | float | Decimal | None) -> SafeString | str:
    """A count or an amount with the language's separators; None -> "no data"."""
    if value is None:
        return _missing()
    if isinstance(value, Decimal):
        return number_format(value, decimal_pos=0, use_l10n=True, force_grouping=True)
    return number_format(value, use_l10n=True, force_grouping=True)
