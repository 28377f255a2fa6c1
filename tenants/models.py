"""Tenants live in the public (shared) schema; each one owns a PostgreSQL schema."""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from django_tenants.models import DomainMixin, TenantMixin


class TenantQuerySet(models.QuerySet["Tenant"]):
    def active(self) -> "TenantQuerySet":
        return self.filter(status=Tenant.Status.ACTIVE)

    def launched(self) -> "TenantQuerySet":
        """Every tenant that owns a schema (the national operator's public row excluded)."""
        return self.exclude(kind=Tenant.Kind.NATIONAL)

    def matching(self, text: str) -> "TenantQuerySet":
        """Tenants whose slug, schema name, name or one of whose domains contains `text`, in
        any case: PostgreSQL's upper() folds Cyrillic under the database's UTF-8 locale, and
        Django escapes `%` and `_`. A NUL (which no stored text holds) matches nothing."""
        if "\x00" in text:
            return self.none()
        domains = Domain.objects.filter(tenant=models.OuterRef("pk"), domain__icontains=text)
        return self.filter(models.Q(slug__icontains=text) | models.Q(schema_name__icontains=text)
                           | models.Q(name__icontains=text) | models.Exists(domains))


class ReleaseChannel(models.TextChoices):
    """Which ring of a rollout a tenant is in, and which feature flag defaults it gets."""

    CANARY = "canary", _("Canary")
    STABLE = "stable", _("Stable")


class Tenant(TenantMixin):
    """A region or a municipality running its own site and services on the shared platform.

    The national operator is the one tenant of kind `national`; it owns the public schema
    (national portal, registers, the tenant list itself). A municipality belongs to a region.
    """

    class Kind(models.TextChoices):
        NATIONAL = "national", _("National operator")
        REGION = "region", _("Region")
        MUNICIPALITY = "municipality", _("Municipality")

    class Status(models.TextChoices):
        PROVISIONING = "provisioning", pgettext_lazy("tenant status", "Provisioning")
        ACTIVE = "active", pgettext_lazy("tenant status", "Active")
        SUSPENDED = "suspended", pgettext_lazy("tenant status", "Suspended")
        ARCHIVED = "archived", pgettext_lazy("tenant status", "Archived")

    name = models.CharField(max_length=200, verbose_name=_("name"))
    slug = models.SlugField(max_length=63, unique=True,
                            verbose_name=pgettext_lazy("tenant", "slug"))
    kind = models.CharField(max_length=16, choices=Kind.choices,
                            verbose_name=pgettext_lazy("tenant", "kind"))
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children",
        verbose_name=_("region it belongs to"),
    )
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PROVISIONING, db_index=True,
        verbose_name=_("status"),
    )
    default_language = models.CharField(
        max_length=8, choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE,
        verbose_name=_("default language"),
    )
    time_zone = models.CharField(max_length=64, default=settings.TIME_ZONE,
                                 verbose_name=_("time zone"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated"))
    # Release management (tenants/rollout, tenants/flags.py).
    release_channel = models.CharField(
        max_length=16, choices=ReleaseChannel.choices, default=ReleaseChannel.STABLE,
        verbose_name=_("release channel"),
        help_text=_("Canary tenants are upgraded first in every rollout and see canary flags."),
    )
    maintenance = models.BooleanField(
        default=False, verbose_name=_("in maintenance"),
        help_text=_("Set by a rollout only while this tenant's schema migrates: the site "
                    "answers with the maintenance page (503). Independent of `status`."),
    )
    release = models.CharField(
        max_length=80, blank=True, verbose_name=_("release"),
        help_text=_("Release the last rollout brought this tenant's schema to (blank: "
                    "launched at a release, never rolled out since)."),
    )
    flags = models.JSONField(
        default=dict, blank=True, verbose_name=_("feature flags"),
        help_text=_("Feature flags switched on or off for this tenant only, {name: bool}; "
                    "flags not listed follow their default for the release channel."),
    )
    # Case references (tenants/references.py): unique across the platform, so that a
    # reference names one case anywhere.
    reference_prefix = models.CharField(
        max_length=5, blank=True, verbose_name=_("reference prefix"),
        help_text=_("Starts every case reference of this tenant (MSK in MSK-2026-000123); "
                    "unique across the platform. Chosen at launch; its administrator may "
                    "change it until the first case. Blank only for the national operator."),
    )
    # KPIs (tenants/kpis/): per-capita figures compare tenants of different sizes.
    population = models.PositiveIntegerField(
        null=True, blank=True, verbose_name=_("population"),
        help_text=_("Residents, for per-capita indicators (blank: not compared per capita)."),
    )

    # Schemas are created by tenants.launch (from the template, in one transaction)
    # and dropped only by the lifecycle service, never as a side effect of save()/delete().
    auto_create_schema = False
    auto_drop_schema = False

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("tenant")
        verbose_name_plural = _("tenants")
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(kind="municipality") | models.Q(parent__isnull=False),
                name="municipality_has_parent",
            ),
            models.UniqueConstraint(
                fields=["reference_prefix"], condition=~models.Q(reference_prefix=""),
                name="tenant_reference_prefix_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"

    @property
    def is_serving(self) -> bool:
        return self.status == self.Status.ACTIVE and not self.maintenance

    @property
    def primary_domain(self) -> str | None:
        domain = self.get_primary_domain()
        return domain.domain if domain else None


class Domain(DomainMixin):
    """A host name that serves one tenant (`<slug>.<base domain>` by default)."""

    class Meta:
        ordering = ["domain"]
        verbose_name = _("domain")
        verbose_name_plural = _("domains")

    def __str__(self) -> str:
        return str(self.domain)


class TemplateSnapshot(models.Model):
    """SQL that recreates the template schema (tables, indexes, reference rows) under a new name.

    One per migration state (fingerprint of the tenant apps' migrations); see
    tenants/launch/template.py.
    """

    fingerprint = models.CharField(max_length=64, unique=True,
                                   verbose_name=_("migrations fingerprint"))
    sql = models.TextField(verbose_name="SQL")
    statements = models.PositiveIntegerField(default=0, verbose_name=_("statements"))
    created_at = models.DateTimeField(auto_now=True, verbose_name=_("created"))

    class Meta:
        verbose_name = _("template snapshot")
        verbose_name_plural = _("template snapshots")

    def __str__(self) -> str:
        return f"template snapshot {self.fingerprint}"


class SpareSchema(models.Model):
    """A schema already built from the template snapshot, waiting to become a tenant's.

    Launching renames one (`ALTER SCHEMA ... RENAME`, a catalog update) inside the launch
    transaction; if the launch fails the rename and the claim roll back with it.
    """

    schema_name = models.CharField(max_length=63, unique=True, verbose_name=_("schema"))
    fingerprint = models.CharField(max_length=64, db_index=True,
                                   verbose_name=_("migrations fingerprint"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))

    class Meta:
        verbose_name = _("spare schema")
        verbose_name_plural = _("spare schemas")

    def __str__(self) -> str:
        return self.schema_name


# --- National registers: reference data every tenant reads and none can edit -------------------


class RegisterEntry(models.Model):
    """Common shape of register entries: a stable code tenants refer to, names in both
    languages."""

    code = models.SlugField(max_length=64, unique=True, verbose_name=_("code"))
    name_ru = models.CharField(max_length=200, verbose_name=_("name in Russian"))
    name_en = models.CharField(max_length=200, verbose_name=_("name in English"))
    sort_order = models.PositiveSmallIntegerField(default=0, verbose_name=_("position"))

    class Meta:
        abstract = True
        ordering = ["sort_order", "code"]

    def __str__(self) -> str:
        return self.name_ru

    def name(self, language: str) -> str:
        return self.name_en if language == "en" else self.name_ru


class LifeEvent(RegisterEntry):
    """A life event or business situation ("having a baby", "starting a business") that groups
    services across agencies, the way people think of them."""

    class Audience(models.TextChoices):
        CITIZEN = "citizen", _("Citizens")
        BUSINESS = "business", _("Businesses")

    audience = models.CharField(max_length=16, choices=Audience.choices,
                                default=Audience.CITIZEN, verbose_name=_("for"))

    class Meta(RegisterEntry.Meta):
        verbose_name = _("life event")
        verbose_name_plural = _("life events")


class ServiceCategory(RegisterEntry):
    """The national service classification (e.g. "social support", "construction")."""

    class Meta(RegisterEntry.Meta):
        verbose_name = _("service category")
        verbose_name_plural = _("service categories")


class Territory(RegisterEntry):
    """The territory hierarchy: regions and the municipalities within them, whether or not they
    have launched a site yet (code: the national territory code)."""

    class Kind(models.TextChoices):
        REGION = "region", _("Region")
        MUNICIPALITY = "municipality", _("Municipality")

    kind = models.CharField(max_length=16, choices=Kind.choices,
                            verbose_name=pgettext_lazy("tenant", "kind"))
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="children", verbose_name=_("region it belongs to"))

    class Meta(RegisterEntry.Meta):
        verbose_name = _("territory")
        verbose_name_plural = _("territories")


# --- Console roles (tenants/access.py) -----------------------------------------------------------


class RegionalAdministrator(models.Model):
    """A user of the public schema who administers one region and its municipalities in the
    operator console, and nothing else (national operators hold `tenants.view_tenant` and see
    every tenant). Added with `dgbox operator add EMAIL --region SLUG`."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="regional_administrator",
                                verbose_name=_("user"))
    region = models.ForeignKey(Tenant, on_delete=models.PROTECT,
                               related_name="regional_administrators",
                               limit_choices_to={"kind": "region"}, verbose_name=_("region"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))

    class Meta:
        verbose_name = _("regional administrator")
        verbose_name_plural = _("regional administrators")

    def __str__(self) -> str:
        return f"{self.user} ({self.region.slug})"


# --- Releases: rollouts and feature flags (tenants/rollout, tenants/flags.py) --------------------


class Rollout(models.Model):
    """One upgrade of the fleet to the migrations of the running code (`dgbox rollout run`).

    A rollout that halted (a ring over its failure threshold) or was killed is resumed by the
    next `dgbox rollout run` of the same code: tenants already upgraded are skipped.
    """

    class Status(models.TextChoices):
        RUNNING = "running", pgettext_lazy("rollout", "Running")
        COMPLETED = "completed", pgettext_lazy("rollout", "Completed")
        PARTIAL = "partial", pgettext_lazy("rollout", "Completed with failures")
        HALTED = "halted", pgettext_lazy("rollout", "Halted")
        SUPERSEDED = "superseded", pgettext_lazy("rollout", "Superseded by a newer release")

    release = models.CharField(max_length=80, verbose_name=_("release"))
    fingerprint = models.CharField(max_length=64, db_index=True,
                                   verbose_name=_("migrations fingerprint"),
                                   help_text=_("Of every migration the code ships."))
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING,
                              db_index=True, verbose_name=_("status"))
    options = models.JSONField(default=dict, blank=True, verbose_name=_("options"))
    summary = models.JSONField(default=dict, blank=True, verbose_name=_("results"))
    halt_reason = models.TextField(blank=True, verbose_name=_("why it halted"))
    started_by = models.CharField(max_length=200, blank=True, verbose_name=_("started by"),
                                  help_text=_("user@host (pid)"))
    runs = models.PositiveIntegerField(default=1, verbose_name=_("runs"),
                                       help_text=_("Times it was started or resumed."))
    started_at = models.DateTimeField(auto_now_add=True, verbose_name=_("started"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished"))
    seconds = models.FloatField(null=True, blank=True, verbose_name=_("seconds"),
                                help_text=_("Wall time of all runs together."))
    # Halting a running rollout from the console or `dgbox rollout halt` (tenants/rollout/
    # control.py): the runner starts no new tenant while these are set, and carries on when
    # they are cleared (`resume`).
    halt_requested_at = models.DateTimeField(null=True, blank=True,
                                             verbose_name=_("halt requested"))
    halt_requested_by = models.CharField(max_length=200, blank=True,
                                         verbose_name=_("halt requested by"))

    class Meta:
        ordering = ["-started_at", "-pk"]
        verbose_name = _("rollout")
        verbose_name_plural = _("rollouts")

    def __str__(self) -> str:
        return f"rollout {self.pk} to {self.release} ({self.status})"


class RolloutStep(models.Model):
    """One schema's part in a rollout: the public schema, the template, or a tenant."""

    class Kind(models.TextChoices):
        PUBLIC = "public", pgettext_lazy("rollout", "Public schema")
        TEMPLATE = "template", pgettext_lazy("rollout", "Template schema")
        TENANT = "tenant", pgettext_lazy("rollout", "Tenant")

    class Status(models.TextChoices):
        PENDING = "pending", pgettext_lazy("rollout", "Pending")
        RUNNING = "running", pgettext_lazy("rollout", "Running")
        DONE = "done", pgettext_lazy("rollout", "Done")
        FAILED = "failed", pgettext_lazy("rollout", "Failed")

    rollout = models.ForeignKey(Rollout, on_delete=models.CASCADE, related_name="steps",
                                verbose_name=_("rollout"))
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.TENANT,
                            verbose_name=_("schema kind"))
    tenant = models.ForeignKey(Tenant, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="rollout_steps", verbose_name=_("tenant"))
    schema_name = models.CharField(max_length=63, verbose_name=_("schema"))
    slug = models.CharField(max_length=63, blank=True,
                            verbose_name=pgettext_lazy("tenant", "slug"))
    ring = models.PositiveIntegerField(verbose_name=_("ring"),
                                       help_text=_("0: public and template, 1: canary, 2+: "
                                                   "waves"))
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING,
                              db_index=True, verbose_name=_("status"))
    pending = models.JSONField(default=list, blank=True, verbose_name=_("pending migrations"),
                               help_text=_("Migrations pending when the rollout was planned."))
    applied = models.JSONField(default=list, blank=True, verbose_name=_("applied migrations"))
    error = models.TextField(blank=True, verbose_name=_("error"))
    health = models.JSONField(default=dict, blank=True, verbose_name=_("health checks"))
    attempts = models.PositiveIntegerField(default=0, verbose_name=_("attempts"))
    started_at = models.DateTimeField(null=True, blank=True, verbose_name=_("started"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished"))
    seconds = models.FloatField(null=True, blank=True, verbose_name=_("seconds"))

    class Meta:
        ordering = ["ring", "pk"]
        verbose_name = _("rollout step")
        verbose_name_plural = _("rollout steps")
        constraints = [
            models.UniqueConstraint(fields=["rollout", "schema_name"],
                                    name="rollout_step_one_per_schema"),
        ]

    def __str__(self) -> str:
        return f"{self.schema_name} in rollout {self.rollout_id}: {self.status}"


class FeatureFlag(models.Model):
    """A switch the code checks with `tenants.flags.is_enabled(name)`: on or off by default per
    release channel, and overridable per tenant (`Tenant.flags`)."""

    name = models.SlugField(max_length=64, unique=True, verbose_name=_("name"))
    description = models.CharField(max_length=300, blank=True, verbose_name=_("description"))
    canary = models.BooleanField(default=False, verbose_name=_("on for canary tenants"),
                                 help_text=_("Default for canary tenants."))
    stable = models.BooleanField(default=False, verbose_name=_("on for stable tenants"),
                                 help_text=_("Default for stable tenants."))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated"))

    class Meta:
        ordering = ["name"]
        verbose_name = _("feature flag")
        verbose_name_plural = _("feature flags")

    def __str__(self) -> str:
        return self.name

    def default_for(self, channel: str) -> bool:
        return self.canary if channel == ReleaseChannel.CANARY else self.stable


# --- Usage metering (tenants/metering/) -----------------------------------------------------------


class UsageRecord(models.Model):
    """What one tenant used on one day (platform time zone): counters for that day and, for
    the latest day, gauges of its size. Empty (null) means "not measured", never zero.

    Rows outlive their tenant (`tenant` is cleared on delete; `schema_name` stays) so usage
    can still be accounted for after a tenant is gone.
    """

    tenant = models.ForeignKey(Tenant, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="usage", verbose_name=_("tenant"))
    schema_name = models.CharField(max_length=63, verbose_name=_("schema"))
    day = models.DateField(verbose_name=_("day"))
    cases_new = models.PositiveIntegerField(null=True, verbose_name=_("new cases"),
                                            help_text=_("Cases submitted that day."))
    cases_total = models.PositiveIntegerField(null=True, verbose_name=_("cases held"),
                                              help_text=_("Cases held, open or closed."))
    cases_open = models.PositiveIntegerField(null=True, verbose_name=_("open cases"),
                                             help_text=_("Cases not yet decided."))
    notifications_sent = models.PositiveIntegerField(
        null=True, verbose_name=_("messages sent"),
        help_text=_("E-mails and SMS sent that day."))
    sms_sent = models.PositiveIntegerField(null=True, verbose_name=_("SMS sent"),
                                           help_text=_("Of which SMS."))
    api_calls = models.PositiveIntegerField(null=True, verbose_name=_("API calls"),
                                            help_text=_("Requests to /api/ that day."))
    storage_objects = models.PositiveBigIntegerField(
        null=True, verbose_name=_("private files"),
        help_text=_("Private files in S3 (uploads, letters)."))
    storage_bytes = models.PositiveBigIntegerField(null=True,
                                                   verbose_name=_("private files (bytes)"))
    media_bytes = models.PositiveBigIntegerField(
        null=True, verbose_name=_("public media (bytes)"),
        help_text=_("Public media on disk (page images, documents)."))
    collected_at = models.DateTimeField(verbose_name=_("collected"))

    class Meta:
        ordering = ["-day", "schema_name"]
        verbose_name = _("usage record")
        verbose_name_plural = _("usage records")
        constraints = [models.UniqueConstraint(fields=["schema_name", "day"],
                                               name="usage_one_row_per_tenant_day")]
        indexes = [models.Index(fields=["day"], name="usage_day")]

    def __str__(self) -> str:
        return f"usage of {self.schema_name} on {self.day}"


class UsageSummary(models.Model):
    """One tenant's usage over one of the console's periods (the last `days` days): counters
    summed, gauges as of its latest measurement. Computed ahead of operators, with the fleet's
    `FleetUsage`, by the beat job `tenants.summarise_usage` (tenants/metering/summary.py), so
    that the console's home page sorts and pages tenants in SQL and reads only the figures of
    the page it shows, whatever the size of the fleet. Derived data: rebuilt on every run."""

    days = models.PositiveSmallIntegerField(verbose_name=_("days"))
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE,
                               related_name="usage_summaries", verbose_name=_("tenant"))
    schema_name = models.CharField(max_length=63, verbose_name=_("schema"))
    cases_new = models.PositiveBigIntegerField(default=0, verbose_name=_("new cases"))
    notifications_sent = models.PositiveBigIntegerField(default=0,
                                                        verbose_name=_("messages sent"))
    sms_sent = models.PositiveBigIntegerField(default=0, verbose_name=_("SMS sent"))
    api_calls = models.PositiveBigIntegerField(default=0, verbose_name=_("API calls"))
    cases_total = models.PositiveIntegerField(null=True, verbose_name=_("cases held"))
    cases_open = models.PositiveIntegerField(null=True, verbose_name=_("open cases"))
    storage_objects = models.PositiveBigIntegerField(null=True,
                                                     verbose_name=_("private files"))
    storage_bytes = models.PositiveBigIntegerField(null=True,
                                                   verbose_name=_("private files (bytes)"))
    media_bytes = models.PositiveBigIntegerField(null=True,
                                                 verbose_name=_("public media (bytes)"))
    day = models.DateField(null=True, verbose_name=_("day"))  # of the latest gauges
    collected_at = models.DateTimeField(null=True, verbose_name=_("collected"))
    computed_at = models.DateTimeField(verbose_name=_("computed"))

    class Meta:
        verbose_name = _("usage over a period")
        verbose_name_plural = _("usage over a period")
        constraints = [models.UniqueConstraint(fields=["days", "tenant"],
                                               name="usage_summary_one_per_tenant_period")]

    def __str__(self) -> str:
        return f"usage of {self.schema_name} over {self.days} days"


class FleetUsage(models.Model):
    """The whole fleet's usage over one of the console's periods: its counters per day (the
    charts) and their totals, and when they were computed (the page says how old they are).
    Written with the tenants' `UsageSummary` rows by `tenants.summarise_usage`."""

    days = models.PositiveSmallIntegerField(unique=True, verbose_name=_("days"))
    series = models.JSONField(encoder=DjangoJSONEncoder, verbose_name=_("counters per day"))
    totals = models.JSONField(verbose_name=_("totals"))
    computed_at = models.DateTimeField(verbose_name=_("computed"))

    class Meta:
        verbose_name = _("fleet usage over a period")
        verbose_name_plural = _("fleet usage over a period")

    def __str__(self) -> str:
        return f"fleet usage over {self.days} days"


# --- National catalogue (tenants/catalogue/) ------------------------------------------------------


class CatalogueEntry(models.Model):
    """One published service page of one tenant, in one language, as the national portal lists
    it: copied here by cms when the page is published (tenants/catalogue/index.py), removed when
    it is unpublished or deleted, hidden while its tenant is not active. Rebuilt from the
    tenants' schemas with `dgbox catalogue rebuild`.

    The search vector is a generated column (PostgreSQL computes it on every write): the title
    weighs most (A), then the summary (B), then the rest (C: documents, who can apply, life
    events and categories by name), each in Russian and English stemming.
    """

    # No index of their own: the unique constraint and `catalogue_region` start with them.
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="catalogue",
                               db_index=False, verbose_name=_("tenant"))
    #: The tenant's region (itself for a region), for "a region with its municipalities".
    region = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+",
                               db_index=False, verbose_name=_("region"))
    page_id = models.PositiveIntegerField(verbose_name=_("page id"))
    language = models.CharField(max_length=8, verbose_name=_("language"))
    title = models.CharField(max_length=255, verbose_name=_("title"))
    summary = models.TextField(blank=True, verbose_name=_("summary"))
    keywords = models.TextField(blank=True, verbose_name=_("other searchable text"))
    url = models.URLField(max_length=500, verbose_name=_("address"))
    life_events = ArrayField(models.CharField(max_length=64), default=list, blank=True,
                             verbose_name=_("life events"))
    categories = ArrayField(models.CharField(max_length=64), default=list, blank=True,
                            verbose_name=_("categories"))
    online = models.BooleanField(default=False, verbose_name=_("available online"))
    #: False while the tenant is suspended or archived (tenants/lifecycle).
    visible = models.BooleanField(default=True, verbose_name=_("listed"))
    #: When the page was last published (unknown for pages never published through Wagtail).
    updated_at = models.DateTimeField(null=True, blank=True, verbose_name=_("updated"))
    search = models.GeneratedField(
        expression=(
            SearchVector("title", config="russian", weight="A")
            + SearchVector("title", config="english", weight="A")
            + SearchVector("summary", config="russian", weight="B")
            + SearchVector("summary", config="english", weight="B")
            + SearchVector("keywords", config="russian", weight="C")
            + SearchVector("keywords", config="english", weight="C")
        ),
        output_field=SearchVectorField(), db_persist=True, verbose_name=_("search vector"))
    #: The title and summary alone, searched first so that a broad word ranks only the entries
    #: it is in the title or summary of (tenants/catalogue/query.py `rows_and_total`).
    head_search = models.GeneratedField(
        expression=(
            SearchVector("title", config="russian", weight="A")
            + SearchVector("title", config="english", weight="A")
            + SearchVector("summary", config="russian", weight="B")
            + SearchVector("summary", config="english", weight="B")
        ),
        output_field=SearchVectorField(), db_persist=True,
        verbose_name=_("title and summary search vector"))

    class Meta:
        ordering = ["title", "pk"]
        verbose_name = _("catalogue entry")
        verbose_name_plural = _("catalogue entries")
        constraints = [models.UniqueConstraint(fields=["tenant", "page_id"],
                                               name="catalogue_one_row_per_page")]
        indexes = [
            GinIndex(fields=["search"], name="catalogue_search"),
            GinIndex(fields=["head_search"], name="catalogue_head_search"),
            GinIndex(fields=["life_events"], name="catalogue_life_events"),
            models.Index(fields=["region", "visible"], name="catalogue_region"),
            models.Index(fields=["visible", "title"], name="catalogue_title"),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.tenant_id}/{self.page_id})"


# --- KPIs (tenants/kpis/, services/kpis/) ------------------------------------------------------


class KpiFigures(models.Model):
    """What one day of one tenant (or one service of it) adds to its KPIs: counts that add up
    over days, services, tenants and levels, and a histogram of decision times that merges
    exactly (tenants/kpis/figures.py reads them). Shared by the tenant's own snapshots
    (services/kpis, its schema) and their public copies (`TenantKpi`, for roll-ups)."""

    day = models.DateField(verbose_name=_("day"))
    #: Cases received that day, by channel (services.cases.models.Channel).
    cases_online = models.PositiveIntegerField(default=0, verbose_name=_("cases online"))
    cases_office = models.PositiveIntegerField(default=0, verbose_name=_("cases at an office"))
    cases_phone = models.PositiveIntegerField(default=0, verbose_name=_("cases by phone"))
    cases_post = models.PositiveIntegerField(default=0, verbose_name=_("cases by post"))
    #: Cases decided that day (approved or refused; withdrawals are not decisions).
    decided = models.PositiveIntegerField(default=0, verbose_name=_("decided"))
    #: Of them, with a decision deadline, and decided on or before it.
    decided_with_deadline = models.PositiveIntegerField(
        default=0, verbose_name=_("decided with a deadline"))
    decided_on_time = models.PositiveIntegerField(default=0, verbose_name=_("decided on time"))
    #: Of them, decided by a rule without a person (services.cases.models.AutomatedDecision).
    decided_automatically = models.PositiveIntegerField(
        default=0, verbose_name=_("decided automatically"))
    #: {"calendar days from submission to decision": cases} for the cases decided that day.
    decision_days = models.JSONField(default=dict, blank=True,
                                     verbose_name=_("days to decision"))
    #: The funnel: service page views (no cookies, no personal data), forms started.
    page_views = models.PositiveIntegerField(default=0, verbose_name=_("page views"))
    forms_started = models.PositiveIntegerField(default=0, verbose_name=_("forms started"))
    #: "Was this page useful?" answers given that day.
    feedback_useful = models.PositiveIntegerField(default=0, verbose_name=_("useful"))
    feedback_not_useful = models.PositiveIntegerField(default=0,
                                                      verbose_name=_("not useful"))
    #: Estimated cost of that day's cases under the channel cost model in force, and the
    #: saving against handling them all at an office (tenants/kpis/figures.py).
    cost = models.DecimalField(max_digits=14, decimal_places=2, default=0,
                               verbose_name=_("estimated cost"))
    savings = models.DecimalField(max_digits=14, decimal_places=2, default=0,
                                  verbose_name=_("estimated saving"))
    cost_model_version = models.PositiveIntegerField(null=True, blank=True,
                                                     verbose_name=_("cost model version"))
    #: Gauges of the catalogue on that day (only on a tenant's overall row; 0 on services).
    services_published = models.PositiveIntegerField(default=0,
                                                     verbose_name=_("services published"))
    services_online = models.PositiveIntegerField(
        default=0, verbose_name=_("services online end to end"))
    services_api = models.PositiveIntegerField(default=0,
                                               verbose_name=_("services with an open API"))
    computed_at = models.DateTimeField(verbose_name=_("computed"))

    class Meta:
        abstract = True


class ChannelCostModel(models.Model):
    """Relative cost of one transaction by channel. Versioned: a change is a new version, and
    every KPI snapshot keeps the version it was computed with, so old figures keep their model.
    The defaults are the source document's (World Bank, "Digital Government 2020"): digital 1,
    telephone 20, post 30, face to face 50."""

    version = models.PositiveIntegerField(unique=True, verbose_name=_("version"))
    online = models.DecimalField(max_digits=10, decimal_places=2, default=1,
                                 verbose_name=_("online"))
    phone = models.DecimalField(max_digits=10, decimal_places=2, default=20,
                                verbose_name=_("by phone"))
    post = models.DecimalField(max_digits=10, decimal_places=2, default=30,
                               verbose_name=_("by post"))
    office = models.DecimalField(max_digits=10, decimal_places=2, default=50,
                                 verbose_name=_("at an office"))
    unit = models.CharField(max_length=16, default="", blank=True, verbose_name=_("unit"),
                            help_text=_("Blank: relative units; else a currency, e.g. RUB."))
    valid_from = models.DateField(verbose_name=_("in force from"))
    note = models.CharField(max_length=255, blank=True, verbose_name=_("note"))
    created_by = models.CharField(max_length=254, blank=True, verbose_name=_("created by"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))

    class Meta:
        ordering = ["-version"]
        verbose_name = _("channel cost model")
        verbose_name_plural = _("channel cost models")

    def __str__(self) -> str:
        return f"cost model v{self.version}"


class TenantKpi(KpiFigures):
    """The public copy of one tenant's overall KPI snapshot for one day (or, with a category,
    of its services in that register category): what roll-ups by level, rankings and the
    console read without visiting tenant schemas. Written by the daily KPI job only."""

    tenant = models.ForeignKey(Tenant, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="kpis", verbose_name=_("tenant"))
    schema_name = models.CharField(max_length=63, verbose_name=_("schema"))
    #: Register code of a service category; blank: all of the tenant's services.
    category = models.CharField(max_length=64, blank=True, default="",
                                verbose_name=_("category"))

    class Meta:
        ordering = ["-day", "schema_name"]
        verbose_name = _("tenant KPI day")
        verbose_name_plural = _("tenant KPI days")
        constraints = [models.UniqueConstraint(fields=["schema_name", "category", "day"],
                                               name="tenant_kpi_one_row_per_day")]
        indexes = [models.Index(fields=["day", "category"], name="tenant_kpi_day"),
                   # A region's roll-up reads its tenants' rows only (tenants/kpis/rollup.py).
                   models.Index(fields=["tenant", "category", "day"],
                                name="tenant_kpi_tenant_day")]

    def __str__(self) -> str:
        return f"KPIs of {self.schema_name} on {self.day}"


# --- Maturity assessment (services/assessment/) ------------------------------------------------


class AssessmentResult(models.Model):
    """The public copy of one tenant's approved maturity assessment round: what the operator
    console compares across tenants without visiting their schemas. Written when a round is
    approved, never changed after. Self-describing: each dimension carries its code, titles
    and score, so results of different model versions can be read side by side."""

    tenant = models.ForeignKey(Tenant, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="assessment_results", verbose_name=_("tenant"))
    schema_name = models.CharField(max_length=63, verbose_name=_("schema"))
    round_number = models.PositiveIntegerField(verbose_name=_("round"))
    model_version = models.PositiveIntegerField(verbose_name=_("model version"))
    approved_at = models.DateTimeField(verbose_name=_("approved"))
    #: [{"code": str, "title": {"en": str, "ru": str}, "score": float | None}], model order.
    dimensions = models.JSONField(default=list, verbose_name=_("dimension scores"))
    overall = models.FloatField(null=True, blank=True, verbose_name=_("overall score"))
    indicators_assessed = models.PositiveIntegerField(default=0,
                                                      verbose_name=_("indicators assessed"))
    indicators_total = models.PositiveIntegerField(default=0, verbose_name=_("indicators"))

    class Meta:
        ordering = ["schema_name", "-round_number"]
        verbose_name = _("assessment result")
        verbose_name_plural = _("assessment results")
        constraints = [models.UniqueConstraint(fields=["schema_name", "round_number"],
                                               name="assessment_result_one_per_round")]

    def __str__(self) -> str:
        return f"assessment of {self.schema_name}, round {self.round_number}"

    def score_of(self, code: str) -> float | None:
        for dimension in self.dimensions:
            if dimension.get("code") == code:
                score = dimension.get("score")
                return float(score) if score is not None else None
        return None
