"""infra/storage.py: the tenant-private S3 storage, with the session tenants and a real
SeaweedFS. One storage object serves every tenant, as in a web process."""

import hashlib
import time
import urllib.error
import urllib.request
import uuid

import pytest
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import connection
from django_tenants.utils import schema_context, tenant_context

from infra import s3
from infra.storage import NoTenantError, TenantPrivateS3Storage, private_storage


def _get(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as err:
        return err.code, err.read(), dict(err.headers)


@pytest.fixture
def storage(s3_bucket):
    return storages["private"]


@pytest.fixture
def folder():
    return f"tests/{uuid.uuid4().hex[:12]}"


def test_the_private_storage_is_this_class():
    assert isinstance(storages["private"], TenantPrivateS3Storage)
    assert private_storage() is storages["private"]


def test_keys_carry_the_tenant_prefix(storage, tenant_a, tenant_b, folder):
    with tenant_context(tenant_a):
        name = storage.save(f"{folder}/passport.pdf", ContentFile(b"%PDF-a", name="x.pdf"))
        assert name == f"{folder}/passport.pdf"
        key = storage.key_for(name)
        assert key == f"tenants/{tenant_a.schema_name}/{folder}/passport.pdf"
    head = s3.head(key)
    assert head["ContentType"] == "application/pdf"
    assert head["ServerSideEncryption"] == "AES256"
    assert head["Metadata"]["sha256"] == hashlib.sha256(b"%PDF-a").hexdigest()
    # The same storage object, now serving tenant B: the prefix follows the connection.
    with tenant_context(tenant_b):
        assert storage.key_for(name) == f"tenants/{tenant_b.schema_name}/{folder}/passport.pdf"
    with tenant_context(tenant_a):
        with storage.open(name) as handle:
            assert handle.read() == b"%PDF-a"
            assert handle.name == name
        assert storage.size(name) == 6
        storage.delete(name)
        assert not storage.exists(name)
        # Written as a stream (open for writing) goes to the same place, encrypted.
        with storage.open(f"{folder}/stream.bin", "wb") as handle:
            handle.write(b"streamed")
        assert handle.name == f"{folder}/stream.bin"
        stream_key = storage.key_for(f"{folder}/stream.bin")
    assert stream_key.startswith(f"tenants/{tenant_a.schema_name}/")
    assert s3.download(stream_key) == b"streamed"
    assert s3.head(stream_key)["ServerSideEncryption"] == "AES256"
    s3.delete_keys([stream_key])


def test_tenant_b_does_not_see_tenant_a_files(storage, tenant_a, tenant_b, folder):
    name = f"{folder}/decision.pdf"
    with tenant_context(tenant_a):
        storage.save(name, ContentFile(b"A's decision"))
        assert storage.exists(name)
        a_url = storage.url(name)
    with tenant_context(tenant_b):
        assert not storage.exists(name)
        with pytest.raises(FileNotFoundError):
            storage.open(name)
        assert storage.listdir(folder) == ([], [])
        assert _get(storage.url(name))[0] == 404  # B's link points into B's prefix
        # B saving the same name does not touch A's file.
        storage.save(name, ContentFile(b"B's own"))
        with storage.open(name) as handle:
            assert handle.read() == b"B's own"
    assert _get(a_url)[1] == b"A's decision"
    with tenant_context(tenant_a):
        assert storage.listdir(folder) == ([], ["decision.pdf"])
        storage.delete(name)
    with tenant_context(tenant_b):
        storage.delete(name)


def test_no_overwrite(storage, tenant_a, folder):
    with tenant_context(tenant_a):
        first = storage.save(f"{folder}/scan.png", ContentFile(b"one"))
        second = storage.save(f"{folder}/scan.png", ContentFile(b"two"))
        assert first != second and second.startswith(f"{folder}/scan_")
        with storage.open(first) as handle:
            assert handle.read() == b"one"
        for name in (first, second):
            storage.delete(name)


def test_url_is_signed_short_lived_and_private(storage, tenant_a, folder, settings):
    with tenant_context(tenant_a):
        name = storage.save(f"{folder}/letter.txt", ContentFile("Письмо"))
        url = storage.url(name)
        named = storage.url(name, filename="письмо.txt")
        key = storage.key_for(name)
        with storage.open(name) as handle:
            assert handle.read().decode() == "Письмо"
    assert f"X-Amz-Expires={settings.DGBOX_S3_SIGNED_URL_SECONDS}&" in url
    assert "X-Amz-Signature=" in url
    status, body, _ = _get(url)
    assert (status, body) == (200, "Письмо".encode())
    assert _get(named)[2]["Content-Disposition"].startswith("attachment; ")
    # Anonymous access to the same key, and a tampered link, are refused by the server.
    assert _get(f"{settings.DGBOX_S3_ENDPOINT_URL}/{settings.DGBOX_S3_BUCKET}/{key}")[0] == 403
    assert _get(url.replace("X-Amz-Signature=", "X-Amz-Signature=0"))[0] == 403
    with tenant_context(tenant_a):
        storage.delete(name)


def test_expiry_follows_the_setting(storage, tenant_a, folder, settings):
    settings.DGBOX_S3_SIGNED_URL_SECONDS = 1
    with tenant_context(tenant_a):
        name = storage.save(f"{folder}/short.txt", ContentFile(b"short"))
        url = storage.url(name)
        assert "X-Amz-Expires=1&" in url
        storage.delete(name)


@pytest.mark.parametrize("bad", ["../escape.txt", "a/../../escape.txt", "a/../b.txt",
                                 "/etc/passwd", "a\\b.txt", "..\\x.txt", "C:/x.txt", "a\x00b"])
def test_dangerous_names_are_refused(storage, tenant_a, bad):
    with tenant_context(tenant_a):
        for call in (lambda: storage.save(bad, ContentFile(b"x")), lambda: storage.open(bad),
                     lambda: storage.exists(bad), lambda: storage.url(bad),
                     lambda: storage.delete(bad), lambda: storage.key_for(bad),
                     lambda: storage.size(bad)):
            with pytest.raises(SuspiciousFileOperation):
                call()


def test_public_schema_is_refused(storage, public_schema, db):
    connection.set_schema_to_public()
    for call in (lambda: storage.save("x.txt", ContentFile(b"x")), lambda: storage.open("x.txt"),
                 lambda: storage.exists("x.txt"), lambda: storage.url("x.txt"),
                 lambda: storage.key_for("x.txt")):
        with pytest.raises(NoTenantError, match="needs a tenant.*public schema"):
            call()
    with schema_context("dgbox_template"), pytest.raises(NoTenantError, match="not a tenant"):
        storage.exists("x.txt")


def test_unreachable_endpoint_is_a_clear_error(tenant_a, settings):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.DGBOX_S3_ENDPOINT_URL = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    with tenant_context(tenant_a), pytest.raises(s3.S3Error, match="cannot reach the S3"):
        storages["private"].exists("x.txt")  # the process-wide storage follows the setting
    assert time.monotonic() - started < 10
