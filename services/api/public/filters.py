"""The query parameters of the public lists, checked by serializers: a wrong value is a 400
problem naming the parameter (never ignored, never a 500), and the OpenAPI document lists
them from the same classes."""

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from tenants import registers


class CommonFilters(serializers.Serializer):
    q = serializers.CharField(
        required=False, max_length=200, allow_blank=True,
        help_text=_("Words to look for in the title and summary (Russian and English word forms "
                    "match: «паспорта» finds «паспорт»)."))
    locale = serializers.ChoiceField(
        choices=settings.LANGUAGES, required=False,
        help_text=_("Only pages in this language; both languages without it."))
    updated_since = serializers.DateTimeField(
        required=False,
        help_text=_("Only pages published at or after this time (ISO 8601, e.g. "
                    "2026-12-01T00:00:00+03:00): fetch what changed since the last sync."))


def _register_code(register, value):
    if value and value not in dict(registers.choices(register)):
        raise serializers.ValidationError(
            _("Unknown code “%(code)s”: use a code of the national register (see the service "
              "list's life_events and category values).") % {"code": value[:64]})
    return value


class ServiceFilters(CommonFilters):
    life_event = serializers.CharField(
        required=False, max_length=64, allow_blank=True,
        help_text=_("Only services for this life event (a code of the national register of "
                    "life events, e.g. birth)."))
    category = serializers.CharField(
        required=False, max_length=64, allow_blank=True,
        help_text=_("Only services in this category (a code of the national register of "
                    "service categories, e.g. education)."))
    online = serializers.BooleanField(
        required=False, allow_null=True, default=None,
        help_text=_("true: only services one can apply for online (the site's own form or "
                    "another website); false: only the others."))

    def validate_life_event(self, value):
        return _register_code("life_events", value)

    def validate_category(self, value):
        return _register_code("categories", value)


def read(filters_class, request):
    """The request's checked filters (a dict), or a 400 problem."""
    filters = filters_class(data=request.query_params.dict())
    filters.is_valid(raise_exception=True)
    return filters.validated_data
