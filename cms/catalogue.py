"""What cms tells the national catalogue (tenants/catalogue/): a service page's entry, pushed
after the transaction that published, unpublished, moved, renamed, restricted or deleted it
commits, and the source `dgbox catalogue rebuild` reads a tenant's schema through.

An entry is made only for a live, public service page (no view restriction on it or an
ancestor); anything else withdraws the page's entry. "Available online" means people can
apply online now: the page's published online form is open for applications, or it links to
another website that handles the service.
"""

import logging

from django.db import connection, transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils.html import strip_tags
from django_tenants.utils import get_public_schema_name, tenant_context
from wagtail.models import Page, PageViewRestriction
from wagtail.signals import page_published, page_slug_changed, page_unpublished, post_page_move

from tenants import catalogue, registers
from tenants.addresses import site_url

from .forms import ONLINE_FORM
from .models import ServicePage

log = logging.getLogger(__name__)


def entry_for(page: ServicePage, domain: str | None) -> catalogue.Entry | None:
    """The page's catalogue entry, or None if the catalogue must not list it."""
    if not page.live or page.get_view_restrictions().exists():
        return None
    parts = page.get_url_parts()
    if parts is None or domain is None:  # not under the tenant's site: no address to link to
        return None
    online_form = getattr(page, ONLINE_FORM).filter(accepting=True).exists()
    events = list(page.life_events or [])
    categories = [page.category] if page.category else []
    words = [strip_tags(page.who_can_apply or ""), page.cost_details or ""]
    words += [str(block.value.get("name", "")) for block in page.documents]
    for language in ("ru", "en"):
        words += registers.names("life_events", events, language)
        words += registers.names("categories", categories, language)
    return catalogue.Entry(
        page_id=page.pk, language=page.locale.language_code, title=page.title,
        url=site_url(domain) + parts[2],
        updated_at=page.last_published_at or page.first_published_at,
        summary=page.summary or "", keywords=" ".join(w for w in words if w),
        life_events=events, categories=categories, online=online_form or bool(page.apply_url))


def _domain() -> str | None:
    tenant = connection.tenant
    return tenant.primary_domain if hasattr(tenant, "primary_domain") else None


def refresh(page_ids: list[int]) -> None:
    """Push the current state of these pages of the current tenant to the catalogue."""
    tenant = connection.tenant
    if getattr(tenant, "schema_name", get_public_schema_name()) == get_public_schema_name() \
            or not getattr(tenant, "pk", None):
        return  # the template schema and spares have no tenant row: nothing to list

    def push() -> None:
        with tenant_context(tenant):
            domain = _domain()
            pages = {p.pk: p for p in ServicePage.objects.filter(pk__in=page_ids)
                     .select_related("locale")}
            for page_id in page_ids:
                page = pages.get(page_id)
                entry = entry_for(page, domain) if page is not None else None
                if entry is None:
                    catalogue.withdraw_entry(tenant, page_id)
                else:
                    catalogue.publish_entry(tenant, entry)

    transaction.on_commit(push)


def _service_pages_under(page: Page) -> list[int]:
    return list(ServicePage.objects.descendant_of(page, inclusive=True)
                .values_list("pk", flat=True))


def collect() -> list[catalogue.Entry]:
    """Every entry of the current tenant's schema (`dgbox catalogue rebuild`)."""
    domain = _domain()
    entries = []
    for page in ServicePage.objects.live().select_related("locale"):
        entry = entry_for(page, domain)
        if entry is not None:
            entries.append(entry)
    return entries


catalogue.register_source(collect)


@receiver(page_published)
def _published(sender, instance, **kwargs):
    if isinstance(instance.specific_deferred, ServicePage) or isinstance(instance, ServicePage):
        refresh([instance.pk])


@receiver(page_unpublished)
def _unpublished(sender, instance, **kwargs):
    refresh(_service_pages_under(instance))


@receiver(post_delete, sender=ServicePage)
def _deleted(sender, instance, **kwargs):
    refresh([instance.pk])


@receiver(post_page_move)
def _moved(sender, instance, **kwargs):
    refresh(_service_pages_under(instance))


@receiver(page_slug_changed)
def _renamed(sender, instance, **kwargs):
    refresh(_service_pages_under(instance))


@receiver(post_save, sender=PageViewRestriction)
@receiver(post_delete, sender=PageViewRestriction)
def _restricted(sender, instance, **kwargs):
    page = Page.objects.filter(pk=instance.page_id).first()
    if page is not None:
        refresh(_service_pages_under(page))
