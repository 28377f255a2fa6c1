"""Cursor pagination (REST framework's): a client follows `next` until it is null; a page
never repeats or skips an item when pages are published meanwhile, and every page costs the
same whatever its depth (no OFFSET)."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.pagination import CursorPagination


class PublicCursor(CursorPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100
    ordering = "id"
    page_size_query_description = _("Items per page, 1 to 100 (20 without it).")
    cursor_query_description = _("The position to continue from: take it from the `next` or "
                                 "`previous` link as given.")

    def decode_cursor(self, request):
        """REST framework's decoding, with a position that does not fit the ordering field
        refused as a 400 (it would reach the database as a wrong-typed value: a 500)."""
        try:
            cursor = super().decode_cursor(request)
        except exceptions.NotFound:
            cursor = None
            valid = False
        else:
            valid = cursor is None or cursor.position is None or self._fits(cursor.position)
        if not valid:
            raise exceptions.ValidationError({self.cursor_query_param: [_(
                "The cursor is not valid: use the next or previous link as given.")]})
        return cursor

    def _fits(self, position):
        field = self._queryset_model._meta.get_field(self.ordering[0].lstrip("-"))
        if "\x00" in position or len(position) > 64:
            return False
        try:
            field.get_prep_value(field.to_python(position))
        except (DjangoValidationError, ValueError, TypeError, OverflowError):
            return False
        return True

    def paginate_queryset(self, queryset, request, view=None):
        self._queryset_model = queryset.model
        return super().paginate_queryset(queryset, request, view)

    def get_paginated_response_schema(self, schema):
        link = {"type": ["string", "null"], "format": "uri"}
        return {"type": "object", "required": ["next", "previous", "results"],
                "properties": {
                    "next": {**link, "example": "https://ryabinovka.example/api/v1/services"
                                                "?cursor=cD0xMjM%3D"},
                    "previous": {**link, "example": None},
                    "results": schema}}
