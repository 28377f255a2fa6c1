"""Frozen, numbered versions of a JSON definition: what a form asked, how a workflow ran.

A form (services/forms) and a workflow (services/workflows) are edited freely, but every case
keeps the version it started with, so editing never changes what an earlier applicant was
asked or how their case is handled. Both version models are this one abstract model with a
different owner and content field.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class FrozenVersion(models.Model):
    """One frozen version of an owner's JSON content, numbered 1, 2, ... per owner and never
    edited once made. Subclasses add the owner's foreign key and the content's JSON field and
    name them in `owner_field` and `content_field`."""

    owner_field = ""
    content_field = ""

    number = models.PositiveIntegerField(verbose_name=_("version"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))

    class Meta:
        abstract = True

    def __str__(self):
        return f"{getattr(self, self.owner_field)} v{self.number}"

    @classmethod
    def current(cls, owner, content):
        """The owner's latest version, made now (numbered one past the last) if `content`
        differs from it."""
        latest = (cls.objects.filter(**{cls.owner_field: owner}).order_by("-number")
                  .first())
        if latest is None or getattr(latest, cls.content_field) != content:
            latest = cls.objects.create(**{cls.owner_field: owner,
                                           "number": (latest.number + 1) if latest else 1,
                                           cls.content_field: content})
        return latest
