"""API clients' keys (services/api/): shown once, stored hashed, bound to their tenant.

- A key works only on its own tenant's host: the same key on another tenant is a 401.
- A revoked key, an expired key and a key of a deactivated client are 401s.
- A malformed or unknown key is a 401 with problem JSON, never an anonymous call.
- Only a digest of the secret is stored.
"""

import datetime

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from services.api import keys
from services.api.models import ApiClient, ApiKey
from services.api.scopes import Scope

from .factories import NORTH, SOUTH

WHOAMI = "/api/v1/whoami"


@pytest.fixture
def north_key(tenant_a):
    with tenant_context(tenant_a):
        client = ApiClient.objects.create(name="Почта России", scopes=[Scope.READ_CATALOGUE])
        key, plaintext = client.issue_key()
    connection.set_schema_to_public()
    return client, key, plaintext


def call(host, key=None, header=None):
    extra = {"HTTP_AUTHORIZATION": header if header is not None else f"Bearer {key}"} \
        if (key or header is not None) else {}
    return Client(**host).get(WHOAMI, **extra)


def test_a_key_names_its_client_and_scopes(north_key):
    _, _, plaintext = north_key
    response = call(NORTH, plaintext)
    assert response.status_code == 200
    assert response.json() == {"client": "Почта России", "scopes": ["catalogue:read"]}
    assert call(NORTH).json() == {"client": None, "scopes": []}


def test_only_a_digest_is_stored(north_key, tenant_a):
    _, key, plaintext = north_key
    # The key's own parser: the secret itself may contain "_" (token_urlsafe), and the tail
    # after its last one, a few characters, could turn up in the row by chance.
    secret = keys.split(plaintext)[1]
    assert len(secret) > 20
    with tenant_context(tenant_a):
        row = ApiKey.objects.values().get(pk=key.pk)
    assert secret not in str(row) and plaintext not in str(row)
    assert len(row["digest"]) == 64


def test_a_key_of_one_tenant_is_refused_on_another(north_key):
    _, _, plaintext = north_key
    response = call(SOUTH, plaintext)
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["status"] == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("change", ["revoked", "expired", "inactive"])
def test_revoked_expired_and_deactivated_keys_are_refused(north_key, tenant_a, change):
    client, key, plaintext = north_key
    assert call(NORTH, plaintext).status_code == 200
    past = timezone.now() - datetime.timedelta(seconds=1)
    with tenant_context(tenant_a):
        if change == "revoked":
            ApiKey.objects.filter(pk=key.pk).update(revoked_at=past)
        elif change == "expired":
            ApiKey.objects.filter(pk=key.pk).update(expires_at=past)
        else:
            ApiClient.objects.filter(pk=client.pk).update(is_active=False)
    connection.set_schema_to_public()
    assert call(NORTH, plaintext).status_code == 401


@pytest.mark.parametrize("header", [
    "Bearer", "Bearer a b", "Bearer dgbox_", "Bearer dgbox_0123456789ab_wrong",
    "Bearer ключ", "Bearer dgbox_\x00\x00_x", "Bearer " + "x" * 5000,
])
def test_malformed_or_unknown_keys_are_401_problems(north_key, header):
    response = call(NORTH, header=header)
    assert response.status_code == 401, header
    assert response.json()["title"]


def test_a_wrong_secret_with_a_real_prefix_is_refused(north_key):
    _, key, plaintext = north_key
    forged = plaintext[:-4] + ("AAAA" if not plaintext.endswith("AAAA") else "BBBB")
    assert call(NORTH, forged).status_code == 401
