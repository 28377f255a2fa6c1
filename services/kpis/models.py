"""KPI snapshots and the funnel's daily counters, in the tenant's schema."""

from django.db import models
from django.db.models.signals import pre_delete
from django.dispatch import receiver
from django.utils.translation import gettext_lazy as _
from wagtail.models import Page

from tenants.models import KpiFigures


class KpiSnapshot(KpiFigures):
    """What one day added to the tenant's KPIs, for one service page or (page empty) for the
    tenant as a whole. Recomputed for any past day from what the schema keeps (cases, their
    events, feedback, `FunnelCount`); computing a day again replaces its rows."""

    page = models.ForeignKey("wagtailcore.Page", null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="+",
                             verbose_name=_("service page"),
                             help_text=_("Blank: the whole tenant."))
    #: The service's register category on that day (blank on the overall row).
    category = models.CharField(max_length=64, blank=True, default="",
                                verbose_name=_("category"))

    class Meta:
        ordering = ["-day", "page_id"]
        verbose_name = _("KPI snapshot")
        verbose_name_plural = _("KPI snapshots")
        constraints = [models.UniqueConstraint(fields=["day", "page"], nulls_distinct=False,
                                               name="kpi_snapshot_one_row_per_day")]

    def __str__(self) -> str:
        return f"KPIs of {self.page_id or 'the tenant'} on {self.day}"


class FunnelCount(models.Model):
    """Views of a service page and online forms started on it, on one day (tenant's time
    zone). Counted without cookies or personal data: in Redis on the request path, copied here
    by the collection job, so that a day's funnel can be recomputed later."""

    day = models.DateField(verbose_name=_("day"))
    page = models.ForeignKey("wagtailcore.Page", on_delete=models.CASCADE, related_name="+",
                             verbose_name=_("service page"))
    views = models.PositiveIntegerField(default=0, verbose_name=_("page views"))
    forms_started = models.PositiveIntegerField(default=0, verbose_name=_("forms started"))

    class Meta:
        ordering = ["-day", "page_id"]
        verbose_name = _("funnel count")
        verbose_name_plural = _("funnel counts")
        constraints = [models.UniqueConstraint(fields=["day", "page"],
                                               name="funnel_one_row_per_page_day")]

    def __str__(self) -> str:
        return f"funnel of {self.page_id} on {self.day}"


@receiver(pre_delete, sender=Page, dispatch_uid="kpis-forget-deleted-page")
def forget_snapshots_of_a_deleted_page(sender, instance, **kwargs):
    """A deleted page's own snapshot rows go with it: left with an empty page (SET_NULL) they
    would be a second "whole tenant" row of their day, which the one-row-per-day constraint
    refuses, and the page could not be deleted. Its figures stay in the tenant's row."""
    KpiSnapshot.objects.filter(page_id=instance.pk).delete()
