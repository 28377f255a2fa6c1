"""Tenants live in the public (shared) schema; each one owns a PostgreSQL schema."""

from django.conf import settings
from django.db import models
from django_tenants.models import DomainMixin, TenantMixin


class TenantQuerySet(models.QuerySet):
    def active(self):
        return self.filter(status=Tenant.Status.ACTIVE)

    def launched(self):
        """Every tenant that owns a schema (the national operator's public row excluded)."""
        return self.exclude(kind=Tenant.Kind.NATIONAL)


class Tenant(TenantMixin):
    """A region or a municipality running its own site and services on the shared platform.

    The national operator is the one tenant of kind `national`; it owns the public schema
    (national portal, registers, the tenant list itself). A municipality belongs to a region.
    """

    class Kind(models.TextChoices):
        NATIONAL = "national", "National operator"
        REGION = "region", "Region"
        MUNICIPALITY = "municipality", "Municipality"

    class Status(models.TextChoices):
        PROVISIONING = "provisioning", "Provisioning"
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"
        ARCHIVED = "archived", "Archived"

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=63, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PROVISIONING, db_index=True
    )
    default_language = models.CharField(
        max_length=8, choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE
    )
    time_zone = models.CharField(max_length=64, default=settings.TIME_ZONE)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Schemas are created by tenants.provisioning (from the template, in one transaction)
    # and dropped only by the lifecycle service, never as a side effect of save()/delete().
    auto_create_schema = False
    auto_drop_schema = False

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(kind="municipality") | models.Q(parent__isnull=False),
                name="municipality_has_parent",
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.slug})"

    @property
    def is_serving(self):
        return self.status == self.Status.ACTIVE

    @property
    def primary_domain(self):
        domain = self.get_primary_domain()
        return domain.domain if domain else None


class Domain(DomainMixin):
    """A host name that serves one tenant (`<slug>.<base domain>` by default)."""

    class Meta:
        ordering = ["domain"]

    def __str__(self):
        return self.domain


class TemplateSnapshot(models.Model):
    """SQL that recreates the template schema (tables, indexes, reference rows) under a new name.

    One per migration state (fingerprint of the tenant apps' migrations); see tenants/template.py.
    """

    fingerprint = models.CharField(max_length=64, unique=True)
    sql = models.TextField()
    statements = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"template snapshot {self.fingerprint}"


class SpareSchema(models.Model):
    """A schema already built from the template snapshot, waiting to become a tenant's.

    Launching renames one (`ALTER SCHEMA ... RENAME`, a catalog update) inside the launch
    transaction; if the launch fails the rename and the claim roll back with it.
    """

    schema_name = models.CharField(max_length=63, unique=True)
    fingerprint = models.CharField(max_length=64, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.schema_name


# --- National registers: reference data every tenant reads and none can edit -------------------


class RegisterEntry(models.Model):
    """Common shape of register entries: a stable code tenants refer to, names in both
    languages."""

    code = models.SlugField(max_length=64, unique=True)
    name_ru = models.CharField(max_length=200)
    name_en = models.CharField(max_length=200)
    sort_order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        abstract = True
        ordering = ["sort_order", "code"]

    def __str__(self):
        return self.name_ru

    def name(self, language: str) -> str:
        return self.name_en if language == "en" else self.name_ru


class LifeEvent(RegisterEntry):
    """A life event or business situation ("having a baby", "starting a business") that groups
    services across agencies, the way people think of them."""

    class Audience(models.TextChoices):
        CITIZEN = "citizen", "Citizens"
        BUSINESS = "business", "Businesses"

    audience = models.CharField(max_length=16, choices=Audience.choices,
                                default=Audience.CITIZEN)

    class Meta(RegisterEntry.Meta):
        pass


class ServiceCategory(RegisterEntry):
    """The national service classification (e.g. "social support", "construction")."""

    class Meta(RegisterEntry.Meta):
        verbose_name_plural = "service categories"


class Territory(RegisterEntry):
    """The territory hierarchy: regions and the municipalities within them, whether or not they
    have launched a site yet (code: the national territory code)."""

    class Kind(models.TextChoices):
        REGION = "region", "Region"
        MUNICIPALITY = "municipality", "Municipality"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="children")

    class Meta(RegisterEntry.Meta):
        verbose_name_plural = "territories"
