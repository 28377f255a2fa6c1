"""Registering API clients and managing their keys: the one way in for every change, each
recorded in the audit trail as the administrator's action (tenants/audit/service.py).

- A client's **service account** (for the `cases:work` scope) is a user of this tenant made
  for the client alone: not a superuser, no e-mail address, an unusable password (nobody can
  sign in with it or have a reset link sent), in the case-work groups the administrator
  picks. Its groups decide which transitions the client may take, exactly as for a person
  (services/cases/engine.py). Without `cases:work` the account is kept but emptied of groups.
- **Rotation** issues a new key and lets the old one work for the overlap the administrator
  chose (it gets an `expires_at`); **revocation** stops a key at once.
- **Deactivating** a client stops all its keys at once (ApiKeyQuerySet.usable) and keeps
  everything for the record; reactivating makes its unexpired, unrevoked keys work again.
"""

import datetime
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from services.workflows.models import Workflow
from services.workflows.spec import STAFF_GROUP, SUPERVISOR_GROUP
from tenants.audit.models import Kind
from tenants.audit.service import record

from .models import ApiClient, ApiKey
from .scopes import Scope

#: The overlap a rotated key keeps working, unless the administrator chooses another.
DEFAULT_OVERLAP = datetime.timedelta(hours=24)
#: The longest overlap offered: a leaked key should not outlive its rotation by much.
MAX_OVERLAP = datetime.timedelta(days=30)
SERVICE_ACCOUNT_DOMAIN = "api-client.invalid"  # RFC 2606: never a real mailbox


@dataclass(frozen=True)
class IssuedKey:
    """A key just issued: `plaintext` is shown to the administrator once, never stored."""

    key: ApiKey
    plaintext: str


def case_work_groups() -> list[Group]:
    """The groups a service account may be put in: the case-work groups of the default
    workflow and every group a transition of this tenant's workflows names."""
    names = {STAFF_GROUP, SUPERVISOR_GROUP}
    for definition in Workflow.objects.values_list("definition", flat=True):
        for transition in (definition or {}).get("transitions", []):
            group = transition.get("group")
            if isinstance(group, str) and group != "applicant":
                names.add(group)
    return list(Group.objects.filter(name__in=names).order_by("name"))


def _snapshot(client: ApiClient) -> dict[str, Any]:
    groups = (sorted(client.service_user.groups.values_list("name", flat=True))
              if client.service_user_id else [])
    return {"name": client.name, "description": client.description,
            "contact_email": client.contact_email, "scopes": sorted(client.scopes),
            "rate_per_minute": client.rate_per_minute, "is_active": client.is_active,
            "groups": groups}


def _audit(client: ApiClient, summary: str, **details: Any) -> None:
    record(Kind.API_CLIENT_CHANGED, summary, obj=client,
           details={"client": client.name, **details})


def _sync_service_account(client: ApiClient, groups: list[Group]) -> None:
    """Give the client a service account in `groups` when it has `cases:work`, else empty the
    account's groups (it keeps its id: cases it worked on still name it)."""
    user = client.service_user
    if not client.has_scope(Scope.CASE_WORK):
        if user is not None:
            user.groups.clear()
        return
    if user is None:
        User = get_user_model()
        username = f"api-client-{client.pk}@{SERVICE_ACCOUNT_DOMAIN}"
        user = User.objects.create_user(username=username, email="", password=None,
                                         first_name=client.name[:150],
                                         last_name="(API)", is_staff=False,
                                         is_superuser=False)
        client.service_user = user
        client.save(update_fields=["service_user"])
    else:
        user.first_name = client.name[:150]
        user.save(update_fields=["first_name"])
    user.groups.set(groups)


@transaction.atomic
def create_client(*, name: str, description: str = "", contact_email: str = "",
                  scopes: list[str], rate_per_minute: int, groups: list[Group] = (),
                  created_by: Any = None) -> ApiClient:
    client = ApiClient.objects.create(
        name=name, description=description, contact_email=contact_email,
        scopes=sorted(set(scopes)), rate_per_minute=rate_per_minute, created_by=created_by)
    _sync_service_account(client, list(groups))
    _audit(client, f"API client created: {client.name}", after=_snapshot(client))
    return client


@transaction.atomic
def update_client(client: ApiClient, *, name: str, description: str, contact_email: str,
                  scopes: list[str], rate_per_minute: int, groups: list[Group] = ()) -> None:
    before = _snapshot(client)
    client.name, client.description, client.contact_email = name, description, contact_email
    client.scopes, client.rate_per_minute = sorted(set(scopes)), rate_per_minute
    client.save()
    _sync_service_account(client, list(groups))
    after = _snapshot(client)
    changed = {field: {"before": before[field], "after": after[field]}
               for field in after if before[field] != after[field]}
    if changed:
        _audit(client, f"API client changed: {client.name}", changed=changed)


@transaction.atomic
def set_active(client: ApiClient, active: bool) -> None:
    """Deactivate (every key stops at once) or reactivate a client."""
    if client.is_active == active:
        return
    client.is_active = active
    client.save(update_fields=["is_active"])
    _audit(client, f"API client {'reactivated' if active else 'deactivated'}: {client.name}",
           is_active=active)


@transaction.atomic
def issue_key(client: ApiClient, *, created_by: Any = None) -> IssuedKey:
    key, plaintext = client.issue_key(created_by=created_by)
    _audit(client, f"API key issued for {client.name}: {key.prefix}", key=key.prefix)
    return IssuedKey(key, plaintext)


@transaction.atomic
def rotate_key(key: ApiKey, *, overlap: datetime.timedelta = DEFAULT_OVERLAP,
               created_by: Any = None, now: datetime.datetime | None = None) -> IssuedKey:
    """A new key for the key's client; the old one works for `overlap` more, then expires
    (never later than it would have anyway)."""
    if overlap < datetime.timedelta(0) or overlap > MAX_OVERLAP:
        raise ValueError(f"overlap must be between 0 and {MAX_OVERLAP}")
    now = now or timezone.now()
    old = ApiKey.objects.select_for_update().get(pk=key.pk)
    ends = now + overlap
    if old.expires_at is None or old.expires_at > ends:
        old.expires_at = ends
        old.save(update_fields=["expires_at"])
    new, plaintext = old.client.issue_key(created_by=created_by)
    _audit(old.client, f"API key rotated for {old.client.name}: {old.prefix} -> {new.prefix}",
           key=old.prefix, new_key=new.prefix, old_expires_at=old.expires_at,
           overlap_seconds=int(overlap.total_seconds()))
    key.expires_at = old.expires_at
    return IssuedKey(new, plaintext)


@transaction.atomic
def revoke_key(key: ApiKey, *, now: datetime.datetime | None = None) -> None:
    """Stop `key` at once (already revoked: nothing changes)."""
    updated = ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(
        revoked_at=now or timezone.now())
    if updated:
        key.refresh_from_db(fields=["revoked_at"])
        _audit(key.client, f"API key revoked for {key.client.name}: {key.prefix}",
               key=key.prefix)
