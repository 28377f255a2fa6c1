"""Launching a tenant: one service function for the CLI, the operator console and the API.

`launch_tenant()` validates everything first, then creates the tenant row, its domain, its
schema (replayed from the template snapshot), its site and first administrator in a single
database transaction. PostgreSQL DDL is transactional, so a failure at any step leaves no
schema, no row and no domain behind.
"""

import logging
import time
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django_tenants.utils import schema_context

from tenants import references
from tenants.addresses import default_domain, site_port, site_url
from tenants.audit.models import Kind
from tenants.audit.service import record
from tenants.db import connection
from tenants.models import Domain, Tenant
from tenants.signals import tenant_launched

from . import spares, template
from .validation import check_domain, check_slug, slug_to_schema, suggest_slug

log = logging.getLogger(__name__)


class LaunchError(ValidationError):
    """The launch was refused; `messages` says why, one actionable line each. Raised by
    `validate_launch()` with the problems by field (`error_dict`)."""


@dataclass
class LaunchResult:
    tenant: Tenant
    domain: str
    admin_email: str
    set_password_url: str
    method: str  # "spare schema" (renamed) or "template" (snapshot replayed)
    template_refreshed: bool  # the template was stale and got migrated first
    seconds: float
    steps: dict[str, float] = field(default_factory=dict)


@dataclass
class LaunchRequest:
    name: str
    kind: str
    admin_email: str
    parent: str | None = None
    slug: str | None = None
    domain: str | None = None
    language: str | None = None
    time_zone: str | None = None
    reference_prefix: str | None = None  # of case references; default: from the slug


@dataclass
class ValidLaunchRequest:
    """A LaunchRequest as `validate_launch()` returns it: normalised, every field checked."""

    name: str
    kind: str
    admin_email: str
    parent: str | None
    slug: str
    domain: str
    language: str
    time_zone: str
    reference_prefix: str = ""


@lru_cache(maxsize=1)
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())  # walks the tz database: once


def _problem(message: str, code: str, **params: object) -> ValidationError:
    """One problem, in English for the terminal; `code` and `launch_params` let a form say it
    in the reader's language (tenants/console/forms.py)."""
    error = ValidationError(message, code=code)
    error.launch_params = params  # type: ignore[attr-defined]
    return error


def validate_launch(req: LaunchRequest) -> tuple[ValidLaunchRequest, Tenant | None]:
    """Check a launch request; return it normalised with the parent tenant, or raise LaunchError
    listing every problem found, by field ("name", "kind", "parent", "slug", "domain",
    "admin_email", "language", "time_zone", "reference_prefix"), each with a code."""
    errors: dict[str, list[ValidationError]] = {}

    def add(field_name: str, message: str, code: str, **params: object) -> None:
        errors.setdefault(field_name, []).append(_problem(message, code, **params))

    name = (req.name or "").strip()
    if not name:
        add("name", "Name is required.", "name_required")
    elif len(name) > 200:
        add("name", "Name is too long (200 characters at most).", "name_too_long")

    kinds = (Tenant.Kind.REGION, Tenant.Kind.MUNICIPALITY)
    if req.kind not in kinds:
        add("kind", f"Kind '{req.kind}' is unknown: use 'region' or 'municipality'.",
            "kind_unknown", kind=req.kind)

    parent = None
    if req.parent:
        parent = Tenant.objects.filter(slug=req.parent).first()
        if parent is None:
            add("parent", f"Parent '{req.parent}' does not exist (see `dgbox tenant list`).",
                "parent_unknown", parent=req.parent)
        elif parent.kind != Tenant.Kind.REGION:
            add("parent", f"Parent '{req.parent}' is a {parent.kind}: a municipality "
                "must belong to a region.", "parent_not_region", parent=req.parent)
        elif parent.status == Tenant.Status.ARCHIVED:
            add("parent", f"Parent '{req.parent}' is archived.", "parent_archived",
                parent=req.parent)
    if req.kind == Tenant.Kind.MUNICIPALITY and not req.parent:
        add("parent", "A municipality needs --parent: the slug of its region.",
            "parent_required")
    if req.kind == Tenant.Kind.REGION and req.parent:
        add("parent", "A region has no parent region; leave --parent out.", "parent_of_region")

    slug = (req.slug or suggest_slug(name)).strip().lower()
    try:
        check_slug(slug)
    except ValidationError as exc:
        for error in exc.error_list:
            add("slug", str(error.message), f"slug_{error.code}", slug=slug)
    else:
        if Tenant.objects.filter(slug=slug).exists() or Tenant.objects.filter(
            schema_name__iexact=slug_to_schema(slug)
        ).exists():
            add("slug", f"Slug '{slug}' is already taken by another tenant; choose another.",
                "slug_taken", slug=slug)

    domain = (req.domain or (default_domain(slug) if slug else "")).strip().lower()
    if domain:
        try:
            check_domain(domain)
        except ValidationError as exc:
            for error in exc.error_list:
                add("domain", str(error.message), "domain_invalid", domain=domain)
        else:
            if Domain.objects.filter(domain=domain).exists():
                add("domain", f"Domain '{domain}' already serves another tenant.",
                    "domain_taken", domain=domain)

    email = (req.admin_email or "").strip()
    try:
        validate_email(email)
    except ValidationError:
        add("admin_email", f"Administrator e-mail '{email}' is not a valid address.",
            "email_invalid", email=email)

    language = req.language or settings.LANGUAGE_CODE
    if language not in dict(settings.LANGUAGES):
        choices = ", ".join(dict(settings.LANGUAGES))
        add("language", f"Language '{language}' is not offered; choose one of: {choices}.",
            "language_unknown", language=language, choices=choices)
    time_zone = req.time_zone or settings.TIME_ZONE
    if time_zone not in _time_zones():
        add("time_zone",
            f"Time zone '{time_zone}' is unknown (use an IANA name, e.g. Europe/Moscow).",
            "time_zone_unknown", time_zone=time_zone)

    prefix = references.normalise(req.reference_prefix or "")
    if prefix:
        try:
            references.check_prefix(prefix)
        except ValidationError as exc:
            for error in exc.error_list:  # already in the reader's language
                add("reference_prefix", str(error.message), f"prefix_{error.code}")

    if errors:
        raise LaunchError(errors)  # a dict of lists: ValidationError's documented form
    normalised = ValidLaunchRequest(
        name=name, kind=req.kind, admin_email=email.lower(), parent=req.parent, slug=slug,
        domain=domain, language=language, time_zone=time_zone, reference_prefix=prefix,
    )
    return normalised, parent


def launch_tenant(req: LaunchRequest, *, progress: Callable[[str], None] | None = None,
                  admin_password: str | None = None) -> LaunchResult:
    """Launch a tenant in one step that either fully succeeds or leaves nothing behind."""
    started = time.perf_counter()
    steps: dict[str, float] = {}
    report = progress or (lambda _step: None)

    def mark(step: str, since: float) -> float:
        now = time.perf_counter()
        steps[step] = now - since
        report(step)
        return now

    valid, parent = validate_launch(req)
    t = mark("validated", started)
    snapshot_sql = template.current_snapshot_sql()
    method, template_refreshed = "template", False
    if snapshot_sql is None:
        # Stale template (code with new migrations): migrate the template, not the tenant, so
        # the launch itself stays one transaction. Slow once, fast again afterwards.
        log.warning("Template schema is stale; migrating it before launching %s.", valid.slug)
        template.refresh_template()
        snapshot_sql = template.current_snapshot_sql()
        if snapshot_sql is None:  # refresh_template() has just stored it
            raise template.TemplateError("The template snapshot vanished while launching.")
        template_refreshed = True
        t = mark("template", t)

    connection.set_schema_to_public()
    try:
        with transaction.atomic():
            tenant = Tenant(
                schema_name=slug_to_schema(valid.slug), slug=valid.slug, name=valid.name,
                kind=valid.kind, parent=parent, status=Tenant.Status.PROVISIONING,
                default_language=valid.language, time_zone=valid.time_zone,
            )
            # With a reference prefix no other tenant has (a launch racing for the same one
            # makes it take the next free one).
            references.save_with_prefix(tenant, valid.reference_prefix)
            Domain.objects.create(domain=valid.domain, tenant=tenant, is_primary=True)
            t = mark("registered", t)
            if spares.claim_spare(tenant.schema_name):
                method = "spare schema"
            else:
                _create_schema(tenant, snapshot_sql)
            t = mark("schema", t)
            with schema_context(tenant.schema_name):
                tenant_launched.send(sender=Tenant, tenant=tenant,
                                     options={"domain": valid.domain, "port": site_port()})
                t = mark("site", t)
                admin = _create_first_admin(valid.admin_email, admin_password)
                token = default_token_generator.make_token(admin)
                uid = urlsafe_base64_encode(force_bytes(admin.pk))
                t = mark("administrator", t)
            tenant.status = Tenant.Status.ACTIVE
            tenant.save(update_fields=["status", "updated_at"])
            record(Kind.TENANT_LAUNCHED, tenant.slug, obj=tenant, in_public=True,
                   details={"domain": valid.domain, "kind": valid.kind, "method": method,
                            "parent": parent.slug if parent else None})
            committed: list[float] = []
            transaction.on_commit(lambda: committed.append(time.perf_counter()))
            transaction.on_commit(_replenish_spares)
    except references.PrefixError as exc:  # the prefix asked for was taken meanwhile
        raise LaunchError(exc.messages) from exc
    except IntegrityError as exc:
        # Lost a race with a concurrent launch of the same slug or domain.
        raise LaunchError(
            [f"Slug '{valid.slug}' or domain '{valid.domain}' was taken while launching; "
             f"nothing was created ({exc.__class__.__name__})."]
        ) from exc
    finally:
        connection.set_schema_to_public()

    path = reverse("wagtailadmin_password_reset_confirm", urlconf=settings.ROOT_URLCONF,
                   kwargs={"uidb64": uid, "token": token})
    return LaunchResult(
        tenant=tenant, domain=valid.domain, admin_email=valid.admin_email,
        set_password_url=site_url(valid.domain) + path, method=method,
        template_refreshed=template_refreshed,
        seconds=(committed[0] if committed else time.perf_counter()) - started, steps=steps,
    )


def _replenish_spares() -> None:
    # Imported when a launch sends it: task modules import Celery, which commands that never
    # launch (`dgbox tenant list`) need not load at start-up (dgbox/__init__.py).
    from .tasks import replenish_spares  # noqa: PLC0415

    replenish_spares.delay()


def _create_schema(tenant: Tenant, snapshot_sql: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(template.render_for_schema(snapshot_sql, tenant.schema_name))


def _create_first_admin(email: str, password: str | None) -> User:
    user = get_user_model().objects.create_user(
        username=email, email=email, password=password, is_staff=True, is_superuser=True
    )
    return user
