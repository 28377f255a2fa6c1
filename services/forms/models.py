"""What a tenant offers online: a service page made available with an editor-built form.

An online service is edited on its service page, in the page's "Online application" tab
(a modelcluster child of cms.ServicePage): it is drafted, previewed, moderated, scheduled,
published and reverted with the page, and the row here is always the *published* form. Its
citizen-facing address follows the page's slug (services/applications/views.py).

An online service sits above the definitions it uses (its workflow, the registers it looks
up): it registers checks with them (`services_broken_by_*` below) so that changing a
workflow or a register that would break a service is refused, without those lower layers
importing this one.
"""

import logging

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models.signals import pre_save
from django.dispatch import receiver
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from modelcluster.fields import ParentalKey
from wagtail.admin.panels import FieldPanel, MultiFieldPanel
from wagtail.contrib.settings.models import BaseGenericSetting, register_setting
from wagtail.fields import StreamField
from wagtail.models import Revision

from ..registers import models as register_models
from ..registers import service as registers
from ..registers.models import RegisterLookupBlock
from ..rules import logic as rules
from ..versioning import FrozenVersion
from ..workflows import models as workflow_models
from ..workflows import spec as workflowspec
from ..workflows.models import Workflow
from . import spec as formspec
from .blocks import FormBuilderBlock, spec_from_stream
from .editor import OnlineServiceForm, RulesJsonPanel
from .reference_prefix import ReferencePrefixForm

log = logging.getLogger(__name__)


class OnlineServiceQuerySet(models.QuerySet):
    def published(self):
        """Services citizens may reach: their page is live."""
        return self.filter(page__live=True)

    def _preferring(self, language):
        # Wagtail keeps a slug unique among a page's siblings only: the same slug may exist
        # in another language's catalogue, so the language of the address decides first.
        first = models.Case(models.When(page__locale__language_code=language, then=0),
                            default=1, output_field=models.IntegerField())
        return self.select_related("page").order_by(first, "-accepting", "page_id")

    def at_slug(self, slug, language=None):
        """The published service whose page has `slug` now (any slug Wagtail makes,
        Cyrillic included), in `language`'s catalogue first; None if there is none."""
        return self.published().filter(page__slug=slug)._preferring(language).first()

    def formerly_at(self, slug, language=None):
        """The published service whose page had `slug` in an earlier revision (renamed
        since), so that an old link still reaches it; None if there is none."""
        pages = (Revision.page_revisions.filter(content__slug=slug)
                 .values_list("object_id", flat=True).distinct())
        ids = [int(pk) for pk in pages if str(pk).isdigit()]
        return (self.published().filter(page_id__in=ids).exclude(page__slug=slug)
                ._preferring(language).first())


class OnlineService(models.Model):
    """The online form of a service page: the questions, whether applications are open, the
    workflow and automatic rules. A child of the page (edited in its "Online application"
    tab, kept in its revisions); this row is what the published page says.

    Every published change to the form makes a new FormVersion; a submission records the
    version it answered, so changing a form never changes what an earlier applicant was asked.
    A form that cases were made with is never deleted (`removal_refused`).
    """

    page = ParentalKey("cms.ServicePage", on_delete=models.CASCADE,
                       related_name="online_services", verbose_name=_("service page"))
    accepting = models.BooleanField(default=True, verbose_name=_("open for applications"),
                                    help_text=_("Untick to stop new applications for a while."))
    form = StreamField(FormBuilderBlock(), verbose_name=_("application form"),
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
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated"))

    #: Shown in the service page's "Online application" tab (cms.ServicePage).
    panels = [FieldPanel("accepting"), FieldPanel("form"),
              MultiFieldPanel([FieldPanel("workflow"), FieldPanel("sla_days"),
                               FieldPanel("retention_days")], heading=_("Handling")),
              MultiFieldPanel([FieldPanel("register_lookups"), FieldPanel("rules"),
                               RulesJsonPanel(heading=_("Automatic rules as saved (JSON)"))],
                              heading=_("Automatic decisions"))]
    #: The rows' editor form: rules with the builder (cms.panels.InlinePanel uses it).
    base_form_class = OnlineServiceForm

    objects = OnlineServiceQuerySet.as_manager()

    class Meta:
        verbose_name = _("online service")
        verbose_name_plural = _("online services")
        ordering = ["-accepting", "pk"]
        permissions = [("apply_on_behalf", "Can enter an application on behalf of a citizen")]

    def __str__(self):
        return self.page.title if self.page_id else str(_("online service"))

    def save(self, *args, **kwargs):
        # Called when the page is published (modelcluster commits its children): a changed
        # form becomes a new version there, so each published revision has its version.
        if self.pk and self.created_at is None:  # took over the page's row (below)
            self.created_at = (type(self).objects.filter(pk=self.pk)
                               .values_list("created_at", flat=True).first() or timezone.now())
        with transaction.atomic():
            super().save(*args, **kwargs)
            self.current_version()

    def delete(self, *args, **kwargs):
        if self.pk and self.cases.exists():
            # Publishing a revision without this form (a moderator approving a draft, a
            # scheduled publish) after cases arrived: the editor's check (removal_refused)
            # ran before them. Cases need their form, so it is closed instead of deleted.
            log.warning("Online service %s has cases: closed instead of deleted.", self.pk)
            type(self).objects.filter(pk=self.pk).update(accepting=False)
            self.accepting = False
            return 0, {}
        return super().delete(*args, **kwargs)

    @property
    def slug(self):
        """The page's slug now: the service's address is /<lang>/apply/<slug>/."""
        return self.page.slug

    def removal_refused(self):
        """Why this form may not be removed from its page, or None. Asked by the service
        page's editor (cms/forms.py) before a save that would leave the page without it."""
        count = self.cases.count() if self.pk else 0
        if not count:
            return None
        return ngettext(
            "The online form of “%(service)s” has %(count)d application, which keeps the "
            "form it was made with, so the form cannot be removed. To stop new applications, "
            "untick “open for applications” instead.",
            "The online form of “%(service)s” has %(count)d applications, which keep the "
            "form they were made with, so the form cannot be removed. To stop new "
            "applications, untick “open for applications” instead.", count) % {
                "service": self, "count": count}

    @property
    def spec(self):
        return spec_from_stream(self.form)

    @property
    def lookups(self):
        """[{"register": code, "question": field name}] (services/registers/service.py)."""
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
        workflow = self.workflow if self.workflow_id else Workflow.default()
        return workflow.definition

    @property
    def deadline_days(self):
        if self.sla_days is not None:
            return self.sla_days
        return self.page.processing_days if self.page_id else None

    def current_version(self):
        """The latest form version, made now if the form changed since the last one."""
        return FormVersion.current(self, self.spec)

    @property
    def fee(self):
        page = self.page
        return page.cost_amount if page.cost_kind == page.Cost.FIXED else None


@receiver(pre_save, sender="cms.ServicePage")
def keep_the_page_row(sender, instance, update_fields=None, **kwargs):
    """A form added to a live page is kept in the draft revision without an id (Wagtail
    makes a live page's new children only when it publishes), and so is every later revision
    made from it: publishing one would delete the page's row, the one cases and drafts point
    to, and make another. A page has at most one online form, so the form being published
    takes over the row the page already has (modelcluster then updates it in place)."""
    if update_fields is not None or not instance.pk:
        return
    pending = getattr(instance, "_cluster_related_objects", {}).get("online_services")
    if not pending or len(pending) != 1 or pending[0].pk is not None:
        return
    row = OnlineService.objects.filter(page_id=instance.pk).values_list("pk", flat=True).first()
    if row is not None:
        pending[0].pk = row
        pending[0]._state.adding = False


class FormVersion(FrozenVersion):
    """One frozen version of a service's form; never edited once made."""

    owner_field, content_field = "service", "spec"

    service = models.ForeignKey(OnlineService, on_delete=models.CASCADE, related_name="versions",
                                verbose_name=_("online service"))
    spec = models.JSONField(verbose_name=_("questions"))

    class Meta:
        verbose_name = _("form version")
        verbose_name_plural = _("form versions")
        constraints = [models.UniqueConstraint(fields=["service", "number"],
                                               name="form_version_unique")]
        ordering = ["service", "number"]


@register_setting(icon="tag")
class ServicesSettings(BaseGenericSetting):
    """Tenant-wide settings of online services. The case reference prefix is edited here but
    kept on the tenant's row, unique across the platform (services/cases/references.py)."""

    base_form_class = ReferencePrefixForm
    panels = [FieldPanel("reference_prefix")]

    class Meta:
        verbose_name = _("online services")


def services_looking_up(code):
    """The online services that look up the register `code`."""
    return [s for s in OnlineService.objects.select_related("page")
            if any(lookup["register"] == code for lookup in s.lookups)]


def services_broken_by_register(register):
    """What saving `register` as it is now would break in the services that look it up: a
    key kind their question no longer fits, a field their rules read that is gone."""
    known = registers.known_registers()
    known[register.code] = (register.key_kind, [f["name"] for f in register.declared_fields])
    problems = []
    for service in services_looking_up(register.code):
        try:
            fields = registers.validate_lookups(service.lookups, service.spec, known)
            rules.validate(service.rules, service.spec, service.workflow_definition(),
                           registers=fields)
        except ValidationError as exc:
            problems += [_("The online service “%(service)s” looks this register up: "
                           "%(problem)s Change the service first.")
                         % {"service": service, "problem": message} for message in exc.messages]
    return problems


def services_broken_by_workflow(workflow, definition):
    """Automatic rules of the services on `workflow` that `definition` would break: a rule's
    step no longer allowed where new cases start would fail every submission."""
    on_this = models.Q(workflow=workflow) if workflow.pk else models.Q(pk__in=[])
    if workflow.name == workflow_models.DEFAULT_NAME:
        on_this |= models.Q(workflow__isnull=True)
    allowed = {t["code"] for t in workflowspec.transitions_from(
        definition, definition["initial"])}
    problems = []
    for service in OnlineService.objects.filter(on_this).exclude(rules=[]) \
            .select_related("page"):
        for rule in service.rules:
            step = rule.get("then") if isinstance(rule, dict) else None
            if step and step != "route" and step not in allowed:
                problems.append(_(
                    "The online service “%(service)s” has the automatic rule “%(rule)s”, "
                    "which takes the step “%(step)s”: keep that step possible from the "
                    "state new cases start in, or change the rule first.")
                    % {"service": service, "rule": rule.get("name"), "step": step})
    return problems


# Registers and workflows sit below online services: they ask these checks before a change is
# saved instead of importing this module.
register_models.change_checks.append(services_broken_by_register)
workflow_models.change_checks.append(services_broken_by_workflow)

