"""What a tenant offers online: a service page made available with an editor-built form."""

import re

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models, transaction
from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel
from wagtail.contrib.settings.models import BaseGenericSetting, register_setting
from wagtail.fields import StreamField

from .. import formspec
from ..blocks import form_blocks, spec_from_stream


class OnlineService(models.Model):
    """A service page that takes applications online, with the form editors built for it.

    Every change to the form makes a new FormVersion; a submission records the version it
    answered, so changing a form never changes what an earlier applicant was asked.
    """

    page = models.OneToOneField("cms.ServicePage", on_delete=models.PROTECT,
                                related_name="online_service", verbose_name=_("service page"))
    slug = models.SlugField(max_length=80, unique=True, editable=False)
    accepting = models.BooleanField(default=True, verbose_name=_("open for applications"),
                                    help_text=_("Untick to stop new applications for a while."))
    form = StreamField(form_blocks(), verbose_name=_("application form"),
                       help_text=_("Name, email and phone are always asked first."))
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    panels = [FieldPanel("page"), FieldPanel("accepting"), FieldPanel("form")]

    class Meta:
        verbose_name = _("online service")
        verbose_name_plural = _("online services")
        ordering = ["slug"]
        permissions = [("apply_on_behalf", "Can enter an application on behalf of a citizen")]

    def __str__(self):
        return self.page.title if self.page_id else self.slug

    def save(self, *args, **kwargs):
        if self.page_id:
            self.slug = self.page.slug
        with transaction.atomic():
            super().save(*args, **kwargs)
            self.current_version()

    @property
    def spec(self):
        return spec_from_stream(self.form)

    def clean(self):
        super().clean()
        try:
            formspec.validate_spec(self.spec)
        except ValidationError as exc:
            raise ValidationError({"form": exc.messages}) from exc

    def current_version(self):
        """The latest form version, made now if the form changed since the last one."""
        spec = self.spec
        latest = self.versions.order_by("-number").first()
        if latest is None or latest.spec != spec:
            latest = FormVersion.objects.create(
                service=self, number=(latest.number + 1) if latest else 1, spec=spec)
        return latest

    @property
    def fee(self):
        page = self.page
        return page.cost_amount if page.cost_kind == page.Cost.FIXED else None


class FormVersion(models.Model):
    """One frozen version of a service's form; never edited once made."""

    service = models.ForeignKey(OnlineService, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    spec = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["service", "number"],
                                               name="form_version_unique")]
        ordering = ["service", "number"]

    def __str__(self):
        return f"{self.service} v{self.number}"


def default_prefix(slug):
    from anyascii import anyascii

    letters = re.sub(r"[^A-Z]", "", anyascii(slug).upper())
    return (letters[:3] or "APP").ljust(2, "X")


@register_setting(icon="tag")
class ServicesSettings(BaseGenericSetting):
    """Tenant-wide settings of online services."""

    reference_prefix = models.CharField(
        max_length=5, blank=True, verbose_name=_("reference prefix"),
        validators=[RegexValidator(r"^[A-Z]{2,5}$", _("Use 2 to 5 capital latin letters."))],
        help_text=_("Starts every case reference, e.g. MSK in MSK-2026-000123. Empty: made "
                    "from the site's address."))

    class Meta:
        verbose_name = _("online services")
