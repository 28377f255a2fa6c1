"""Template filters of the operator console: `{% load console %}`."""

from typing import Any

from django import template

from tenants import access

register = template.Library()


@register.filter
def is_national_operator(user: Any) -> bool:
    """`{% if user|is_national_operator %}`: pages and links only operators have."""
    return access.is_operator(user)
