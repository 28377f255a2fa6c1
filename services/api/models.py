"""API clients and their keys, in the tenant's schema: a key of one tenant is unknown to every
other tenant (it is looked up in the schema of the host called)."""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import keys
from .scopes import Scope


class ApiClient(models.Model):
    """Another system (an agency's back office, a mobile app, a portal) calling this tenant's
    API, registered by the tenant's administrator."""

    name = models.CharField(max_length=120, unique=True, verbose_name=_("name"))
    description = models.TextField(blank=True, max_length=2000, verbose_name=_("description"))
    contact_email = models.EmailField(blank=True, verbose_name=_("contact e-mail"))
    scopes = ArrayField(models.CharField(max_length=32, choices=Scope.choices), default=list,
                        blank=True, verbose_name=_("scopes"))
    # Calls per minute for this client (429 with Retry-After beyond it).
    rate_per_minute = models.PositiveIntegerField(default=600,
                                                  verbose_name=_("calls per minute"))
    # The staff account the client acts as for case work: its groups decide which transitions
    # the client may take, exactly as for a person (services/cases/engine.py).
    service_user = models.OneToOneField(settings.AUTH_USER_MODEL, null=True, blank=True,
                                        on_delete=models.SET_NULL, related_name="api_client",
                                        verbose_name=_("service account"))
    is_active = models.BooleanField(default=True, verbose_name=_("active"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+",
                                   verbose_name=_("created by"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))

    class Meta:
        verbose_name = _("API client")
        verbose_name_plural = _("API clients")
        ordering = ["name"]

    def __str__(self):
        return self.name

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

    def issue_key(self, *, created_by=None) -> tuple["ApiKey", str]:
        """A new key; its plaintext is returned once and never stored."""
        new = keys.make_key()
        key = ApiKey.objects.create(client=self, prefix=new.prefix, digest=new.digest,
                                    created_by=created_by)
        return key, new.plaintext


class ApiKeyQuerySet(models.QuerySet):
    def usable(self, now=None):
        now = now or timezone.now()
        return self.filter(revoked_at__isnull=True, client__is_active=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now))


class ApiKey(models.Model):
    client = models.ForeignKey(ApiClient, on_delete=models.CASCADE, related_name="keys",
                               verbose_name=_("client"))
    prefix = models.CharField(max_length=16, unique=True, verbose_name=_("prefix"))
    digest = models.CharField(max_length=64, verbose_name=_("SHA-256 of the secret"))
    # After a rotation the old key keeps working until expires_at (the overlap).
    expires_at = models.DateTimeField(null=True, blank=True, verbose_name=_("expires"))
    revoked_at = models.DateTimeField(null=True, blank=True, verbose_name=_("revoked"))
    last_used_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last used"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+",
                                   verbose_name=_("created by"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["-created_at"]

    def __str__(self):
        return f"{keys.KEY_START}{self.prefix}_…"


class ApiSubmission(models.Model):
    """A case an API client submitted (POST /api/v1/services/<slug>/applications): the client
    reads it back, receives its events by webhook, and a replay of the same Idempotency-Key
    finds it."""

    client = models.ForeignKey(ApiClient, on_delete=models.PROTECT, related_name="submissions",
                               verbose_name=_("client"))
    case = models.OneToOneField("services.Case", on_delete=models.CASCADE,
                                related_name="api_submission", verbose_name=_("case"))
    idempotency_key = models.CharField(max_length=200, verbose_name=_("idempotency key"))
    # SHA-256 of the request body as received: the same key with another body is refused.
    body_sha256 = models.CharField(max_length=64, verbose_name=_("SHA-256 of the request"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("submitted"))

    class Meta:
        verbose_name = _("application submitted over the API")
        verbose_name_plural = _("applications submitted over the API")
        constraints = [models.UniqueConstraint(fields=["client", "idempotency_key"],
                                               name="api_submission_one_case_per_key")]

    def __str__(self):
        return f"{self.client} {self.idempotency_key}"


class ApiClientUsage(models.Model):
    """Calls one API client made on one day (writes among them), copied hourly from the
    per-client counters of tenants/metering (one row per client and day, never one per call):
    what the administrator reads under Settings → API clients."""

    client = models.ForeignKey(ApiClient, on_delete=models.CASCADE, related_name="usage",
                               verbose_name=_("client"))
    day = models.DateField(verbose_name=_("day"))
    calls = models.PositiveBigIntegerField(default=0, verbose_name=_("calls"))
    writes = models.PositiveBigIntegerField(default=0, verbose_name=_("writes"))
    collected_at = models.DateTimeField(auto_now=True, verbose_name=_("collected"))

    class Meta:
        verbose_name = _("API client usage")
        verbose_name_plural = _("API client usage")
        ordering = ["-day"]
        constraints = [models.UniqueConstraint(fields=["client", "day"],
                                               name="api_client_usage_one_row_per_day")]

    def __str__(self):
        return f"{self.client} {self.day}: {self.calls}"
