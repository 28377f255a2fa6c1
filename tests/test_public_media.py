"""Public media on S3 (DGBOX_PUBLIC_MEDIA=s3): Wagtail images, renditions and documents under
the tenant's `tenants/<schema>/media/`, served by the tenant's own site with cache headers,
unreachable from another tenant; kept by backup, delete and restore; moved from local disk by
`dgbox media move-to-s3`. Against the run's real SeaweedFS bucket.

The backup test runs outside the rolled-back transaction (pg_dump sees committed rows only;
see tests/test_backup.py), so no module-wide django_db mark: the others get the database
through their tenant fixtures."""

import hashlib
import io
import os

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile
from django.core.files.images import ImageFile
from django.core.files.storage import storages
from django.core.management import CommandError, call_command
from django.db import connection
from django_tenants.utils import tenant_context
from PIL import Image as PILImage
from wagtail.documents.models import Document
from wagtail.images.models import Image
from wagtail.models import Collection, CollectionViewRestriction

from infra import s3
from infra.storage import IMMUTABLE, private_storage
from tenants import lifecycle
from tenants.lifecycle import backup
from tenants.models import Tenant

from .factories import NORTH, SOUTH, launch


def _png(name: str, size=(40, 30), colour=(29, 79, 145)) -> ImageFile:
    buffer = io.BytesIO()
    PILImage.new("RGB", size, colour).save(buffer, "PNG")
    return ImageFile(buffer, name=name)


def _body(response) -> bytes:
    return b"".join(response.streaming_content)


@pytest.fixture
def north_image(tenant_a, s3_bucket):
    """An image of tenant A with one rendition; its files are removed afterwards (the rows go
    with the test's transaction)."""
    with tenant_context(tenant_a):
        image = Image.objects.create(title="План", file=_png("план участка.png"))
        rendition = image.get_rendition("fill-20x10")
        storage = storages["default"]
        keys = [storage.key_for(image.file.name), storage.key_for(rendition.file.name)]
        urls = [image.file.url, rendition.url]
        original = image.file.read()
    connection.set_schema_to_public()
    yield {"keys": keys, "urls": urls, "original": original}
    s3.delete_keys(keys)


def test_image_and_rendition_land_under_the_tenants_prefix(north_image):
    original_key, rendition_key = north_image["keys"]
    assert original_key.startswith("tenants/north/media/original_images/")
    assert rendition_key.startswith("tenants/north/media/images/")
    for key in north_image["keys"]:
        stored = s3.head(key)
        assert stored["ContentType"] == "image/png"
        assert stored["CacheControl"] == IMMUTABLE  # also right for a CDN reading S3
        assert stored["Metadata"][s3.SHA256_META] == s3.object_sha256(key)[0]


def test_image_and_rendition_are_served_with_cache_headers(client, north_image):
    for url, key in zip(north_image["urls"], north_image["keys"], strict=True):
        assert url.startswith("/media/")
        response = client.get(url, **NORTH)
        assert response.status_code == 200, url
        assert response["Content-Type"] == "image/png"
        assert response["Cache-Control"] == "public, max-age=31536000, immutable"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in response["Content-Security-Policy"]
        body = _body(response)
        assert int(response["Content-Length"]) == len(body)
        assert hashlib.sha256(body).hexdigest() == s3.head(key)["Metadata"]["sha256"]
        again = client.get(url, HTTP_IF_NONE_MATCH=response["ETag"], **NORTH)
        assert again.status_code == 304 and again["Cache-Control"] == IMMUTABLE
        for held in ('"0123"', "*", "x" * 5000, '"\u0436"'):  # not an S3 ETag: served
            assert client.get(url, HTTP_IF_NONE_MATCH=held, **NORTH).status_code == 200
    assert _body(client.get(north_image["urls"][0], **NORTH)) == north_image["original"]


def test_another_tenant_cannot_reach_the_files(client, north_image):
    url = north_image["urls"][0]
    name = url.removeprefix("/media/")
    assert client.get(url, **SOUTH).status_code == 404  # B's prefix has no such file
    for path in (f"/media/original_images/../../../north/media/{name}",
                 f"/media/original_images/%2e%2e/%2e%2e/north/media/{name}",
                 f"/media/original_images/..%2f..%2fnorth%2fmedia%2f{name}",
                 f"/media/original_images/..%5c..%5cnorth%5cmedia%5c{name}",
                 f"/media//tenants/north/media/{name}",
                 f"/media/original_images/%00{name}"):
        response = client.get(path, **SOUTH)
        assert response.status_code in (400, 404), (path, response.status_code)
    # Only images and renditions are served here: no other folder of the prefix.
    assert client.get("/media/documents/x.pdf", **NORTH).status_code == 404
    assert client.get("/media/original_images/" + "ж" * 600, **NORTH).status_code == 404


def test_bad_names_get_a_clear_error_not_a_500(client, tenant_a, s3_bucket):
    with tenant_context(tenant_a):
        storage = storages["default"]
        for bad in ("../south/x.png", "/etc/passwd", "a\\b.png", "a\x00b.png", "C:/x.png"):
            with pytest.raises(SuspiciousFileOperation):
                storage.save(bad, ContentFile(b"x"))
        # The private storage keeps out of the public folder.
        with pytest.raises(SuspiciousFileOperation, match="public media"):
            private_storage().save("media/original_images/x.png", ContentFile(b"x"))
        # Cyrillic and spaces are fine, and each save gets a name of its own.
        first = storage.save("original_images/Герб области.png", ContentFile(b"png-1"))
        second = storage.save("original_images/Герб области.png", ContentFile(b"png-2"))
        assert first != second and first.startswith("original_images/Герб области_")
        url = storage.url(first)
    connection.set_schema_to_public()
    assert "%D0%93%D0%B5%D1%80%D0%B1%20" in url
    assert _body(client.get(url, **NORTH)) == b"png-1"
    assert client.get("/media/original_images/a%00b.png", **NORTH).status_code == 400
    assert client.post(url, **NORTH).status_code == 405
    with tenant_context(tenant_a):
        storages["default"].delete(first)
        storages["default"].delete(second)


def test_documents_go_through_wagtails_view_with_cache_headers(client, tenant_a, s3_bucket):
    with tenant_context(tenant_a):
        public = Document.objects.create(
            title="Решение", file=ContentFile(b"%PDF-1.4 public", name="решение.pdf"))
        closed = Collection.get_first_root_node().add_child(name="Для сотрудников")
        CollectionViewRestriction.objects.create(
            collection=closed, restriction_type=CollectionViewRestriction.LOGIN)
        internal = Document.objects.create(
            title="Внутренний", collection=closed,
            file=ContentFile(b"%PDF-1.4 internal", name="internal.pdf"))
        assert storages["default"].key_for(public.file.name).startswith(
            "tenants/north/media/documents/")
        admin = get_user_model().objects.get(email="admin@north.example")
    connection.set_schema_to_public()

    response = client.get(public.url, **NORTH)
    assert response.status_code == 200 and _body(response) == b"%PDF-1.4 public"
    assert response["Cache-Control"] == "public, max-age=300"
    assert response["Content-Type"] == "application/pdf"
    assert client.get(f"/media/{public.file.name}", **NORTH).status_code == 404
    assert client.get(public.url, **SOUTH).status_code == 404

    assert client.get(internal.url, **NORTH).status_code == 302  # to the sign-in page
    client.force_login(admin)
    response = client.get(internal.url, **NORTH)
    assert response.status_code == 200 and _body(response) == b"%PDF-1.4 internal"
    assert "private" in response["Cache-Control"] and "public" not in response["Cache-Control"]
    with tenant_context(tenant_a):
        public.file.delete(save=False)
        internal.file.delete(save=False)


# --- backup, delete, restore ----------------------------------------------------------------

def test_backup_delete_restore_brings_the_media_back(committed, client):
    committed.append("md-src")
    tenant = launch("Медиа", slug="md-src").tenant
    with tenant_context(tenant):
        image = Image.objects.create(title="Герб", file=_png("герб.png", colour=(200, 0, 0)))
        rendition_url = image.get_rendition("fill-10x10").url
        document = Document.objects.create(title="Устав",
                                           file=ContentFile(b"charter", name="устав.txt"))
        image_url, document_url = image.file.url, document.url
    connection.set_schema_to_public()
    host = {"HTTP_HOST": "md-src.localhost"}
    before = {url: _body(client.get(url, **host)) for url in (image_url, rendition_url)}
    media = s3.media_prefix("md_src")
    assert len(list(s3.iter_objects(media))) == 3

    result = lifecycle.delete("md-src", confirm="md-src")
    assert result.files_deleted == 3
    assert list(s3.iter_objects(s3.tenant_prefix("md_src"))) == []  # the prefix is gone
    assert client.get(image_url, **host).status_code == 404
    metadata, _sql = backup.read_archive(result.backup_key)
    assert sorted(e["name"] for e in metadata["manifest"])[0].startswith("media/documents/")

    backup.restore_tenant(result.backup_key, slug="md-src")
    assert Tenant.objects.get(slug="md-src").status == Tenant.Status.ACTIVE
    for url, body in before.items():
        response = client.get(url, **host)
        assert response.status_code == 200 and _body(response) == body
    response = client.get(document_url, **host)
    assert response.status_code == 200 and _body(response) == b"charter"


# --- dgbox media move-to-s3 -----------------------------------------------------------------

def _local(root, schema, name, data):
    path = root / schema / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_move_command_moves_verifies_and_is_idempotent(tenant_a, s3_bucket, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    files = {"original_images/старый план.png": b"\x89PNG old plan",
             "images/старый план.fill-10x10.png": b"\x89PNG small",
             "documents/устав 2020.pdf": b"%PDF charter"}
    paths = {name: _local(tmp_path, "north", name, data) for name, data in files.items()}
    media = s3.media_prefix("north")
    out = io.StringIO()
    try:
        call_command("media", "move-to-s3", "--tenant", "north", stdout=out)
        assert "north: 3 moved" in out.getvalue()
        for name, data in files.items():
            assert s3.download(media + name) == data  # checked against its stored sha256
            assert s3.head(media + name)["CacheControl"] == IMMUTABLE
        assert all(path.exists() for path in paths.values())  # kept without --delete-local

        out = io.StringIO()
        call_command("media", "move-to-s3", "--tenant", "north", stdout=out)
        assert "north: 3 present" in out.getvalue()  # nothing uploaded again

        call_command("media", "move-to-s3", "--tenant", "north", "--delete-local",
                     stdout=io.StringIO())
        assert not any(path.exists() for path in paths.values())
        assert all(s3.download(media + name) == data for name, data in files.items())
    finally:
        s3.delete_keys([media + name for name in files])


def test_move_command_keeps_what_it_cannot_move(tenant_a, s3_bucket, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    media = s3.media_prefix("north")
    s3.upload_bytes(media + "original_images/taken.png", b"other bytes")
    taken = _local(tmp_path, "north", "original_images/taken.png", b"local bytes")
    backslash = _local(tmp_path, "north", "original_images/a\\b.png", b"x")
    undecodable = os.path.join(os.fsencode(tmp_path / "north" / "original_images"), b"\xff.png")
    with open(undecodable, "wb") as handle:
        handle.write(b"y")
    good = _local(tmp_path, "north", "original_images/good.png", b"good")
    out = io.StringIO()
    try:
        with pytest.raises(CommandError, match="local copies are kept"):
            call_command("media", "move-to-s3", "--tenant", "north", "--delete-local",
                         stdout=out)
        report = out.getvalue()
        assert "1 moved" in report and "1 conflict" in report and "2 refused" in report
        assert "other bytes under this name" in report and "not UTF-8" in report
        assert taken.read_bytes() == b"local bytes" and backslash.exists()
        assert os.path.exists(undecodable)
        assert s3.download(media + "original_images/taken.png") == b"other bytes"
        assert not good.exists()  # moved and verified, so deleted as asked
    finally:
        s3.delete_keys([media + "original_images/taken.png", media + "original_images/good.png"])


def test_move_command_refuses_an_unknown_tenant(db, s3_bucket):
    with pytest.raises(CommandError, match="No tenant nowhere"):
        call_command("media", "move-to-s3", "--tenant", "nowhere", stdout=io.StringIO())
