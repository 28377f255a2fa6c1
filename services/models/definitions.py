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
from .registers import RegisterLookupBlock


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
    workflow = models.ForeignKey("services.Workflow", null=True, blank=True,
                                 on_delete=models.PROTECT, verbose_name=_("workflow"),
                                 help_text=_("Empty: the standard workflow."))
    sla_days = models.PositiveSmallIntegerField(
        null=True, blank=True, verbose_name=_("deadline in working days"),
        help_text=_("Empty: the working days given on the service page."))
    retention_days = models.PositiveIntegerField(
        default=365 * 3, verbose_name=_("keep personal data for (days after closing)"))
    register_lookups = StreamField(
        [("lookup", RegisterLookupBlock())], blank=True, default=list,
        verbose_name=_("register lookups"),
        help_text=_("Registers the rules check the applicant against: rules then read "
                    "registers.<code>.found and registers.<code>.<field>. See docs/cases.md."))
    rules = models.JSONField(
        default=list, blank=True, verbose_name=_("automatic decision rules"),
        help_text=_('A list of {"name", "when" (JSON Logic over the answers and the '
                    'registers looked up), "then": "approve" | "refuse" | "route", "group"}. '
                    'See docs/cases.md.'))
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    panels = [FieldPanel("page"), FieldPanel("accepting"), FieldPanel("form"),
              FieldPanel("workflow"), FieldPanel("sla_days"), FieldPanel("retention_days"),
              FieldPanel("register_lookups"), FieldPanel("rules")]

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

    @property
    def lookups(self):
        """[{"register": code, "question": field name}] (services/registers.py)."""
        return [{"register": child.value.get("register") or "",
                 "question": child.value.get("question") or ""}
                for child in self.register_lookups]

    def clean(self):
        super().clean()
        errors = {}
        try:
            formspec.validate_spec(self.spec)
        except ValidationError as exc:
            errors["form"] = exc.messages
        from .. import registers, rules

        looked_up, problems = registers.check_lookups(self.lookups, self.spec)
        if problems:
            errors["register_lookups"] = [str(p) for p in problems]
        try:
            rules.validate(self.rules, self.spec, self.workflow_definition(),
                           registers=looked_up)
        except ValidationError as exc:
            errors["rules"] = exc.messages
        if errors:
            raise ValidationError(errors)

    def workflow_definition(self):
        from .workflows import Workflow

        workflow = self.workflow if self.workflow_id else Workflow.default()
        return workflow.definition

    @property
    def deadline_days(self):
        if self.sla_days is not None:
            return self.sla_days
        return self.page.processing_days if self.page_id else None

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
