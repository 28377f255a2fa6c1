"""Django storages for a tenant's files on S3, each key under the tenant's `tenants/<schema>/`.

    from django.core.files.storage import storages
    name = storages["private"].save("applications/42/passport.pdf", upload)  # in a tenant
    link = storages["private"].url(name, filename="passport.pdf")  # signed, short-lived

* `TenantPrivateS3Storage` (STORAGES["private"]): citizens' uploads and letters, read through
  signed links valid DGBOX_S3_SIGNED_URL_SECONDS.
* `TenantPublicMediaS3Storage` (STORAGES["default"] when DGBOX_PUBLIC_MEDIA is "s3"): Wagtail
  images, renditions and documents under `tenants/<schema>/media/`; `url()` is the tenant
  site's `/media/<name>`, served by cms/media.py (documents by Wagtail's permission-checked
  serve view).

The tenant is taken from `django.db.connection.schema_name` on every call, never cached: the
storage is one object per process, and a process serves tenant A, then tenant B. Used in the
public schema (or a template/spare schema) it refuses to work. Names are relative to the
tenant's folder; `..`, absolute names, backslashes and NUL are refused. Living inside the
tenant's prefix, public media is in its backups, restores, deletion and metering with nothing
more to do. See docs/storage.md.
"""

# Annotations as strings: Django makes the storage while models load, before anything makes
# File subscriptable (django-stubs only types File[...]).
from __future__ import annotations

import contextlib
import hashlib
import pathlib
import posixpath
import re
from collections.abc import Iterator
from datetime import datetime
from typing import IO, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile, File
from django.core.files.storage import Storage, storages
from django.db import connection
from django.utils.encoding import filepath_to_uri
from django_tenants.utils import get_public_schema_name
from storages.backends.s3 import S3Storage
from storages.utils import clean_name, safe_join

from infra import s3

_DRIVE = re.compile(r"^[A-Za-z]:")


# Cache-Control of public media: every name is used once (see
# TenantPublicMediaS3Storage.get_available_name), so a browser or CDN may keep it for good.
IMMUTABLE = "public, max-age=31536000, immutable"


class NoTenantError(RuntimeError):
    """A tenant storage was used outside a tenant (public, template or spare schema)."""


def private_storage() -> Storage:
    """STORAGES["private"], looked up when called (usable as a FileField's `storage=`)."""
    return storages["private"]


@contextlib.contextmanager
def _s3_errors(action: str, storage: TenantS3Storage, name: str) -> Iterator[None]:
    try:
        yield
    except (ClientError, BotoCoreError) as err:
        raise s3._wrap(err, action, storage.bucket_name, name) from err


class TenantS3Storage(S3Storage):  # type: ignore[misc]  # django-storages has no types
    """S3 storage of the current tenant: every key is `tenants/<schema>/<folder><name>`."""

    #: The tenant's folder this storage writes in ("" is the tenant's whole prefix).
    folder = ""
    #: What the storage is called in error messages.
    label = "tenant storage"

    # Fixed for every instance: no ACL, never overwrite, no CDN, no gzip.
    default_acl = None
    querystring_auth = True
    file_overwrite = False
    custom_domain = None
    gzip = False
    location = ""  # the tenant prefix is added per call by _normalize_name

    # Endpoint, credentials, bucket and link lifetime are read from settings on use, so a
    # storage made before they were set (or changed by a test) never talks to the wrong place.
    bucket_name = property(lambda self: settings.DGBOX_S3_BUCKET)
    endpoint_url = property(lambda self: settings.DGBOX_S3_ENDPOINT_URL or None)
    access_key = property(lambda self: settings.DGBOX_S3_ACCESS_KEY or None)
    secret_key = property(lambda self: settings.DGBOX_S3_SECRET_KEY or None)
    region_name = property(lambda self: settings.DGBOX_S3_REGION or None)
    querystring_expire = property(lambda self: settings.DGBOX_S3_SIGNED_URL_SECONDS)
    client_config = property(lambda self: s3.botocore_config(),
                             lambda self, value: None)  # S3Storage.__init__ assigns it

    def get_default_settings(self) -> dict[str, Any]:
        live = {"bucket_name", "endpoint_url", "access_key", "secret_key", "region_name",
                "querystring_expire", "client_config"}
        defaults = {k: v for k, v in super().get_default_settings().items() if k not in live}
        defaults.update(security_token=None, session_profile=None, object_parameters={},
                        addressing_style="path", signature_version="s3v4")
        return defaults

    @property
    def connection(self) -> Any:  # a boto3 S3 resource
        key = (self.endpoint_url, self.access_key, self.secret_key, self.region_name,
               settings.DGBOX_S3_CONNECT_TIMEOUT, settings.DGBOX_S3_READ_TIMEOUT)
        if getattr(self._connections, "key", None) != key:
            session = boto3.session.Session(aws_access_key_id=self.access_key,
                                            aws_secret_access_key=self.secret_key)
            self._connections.connection = session.resource(
                "s3", region_name=self.region_name, endpoint_url=self.endpoint_url,
                config=self.client_config, verify=self.verify)
            self._connections.key = key
        return self._connections.connection

    @property
    def bucket(self) -> Any:  # a boto3 Bucket
        # Not cached on the instance (S3Storage does): it belongs to a thread's connection.
        return self.connection.Bucket(self.bucket_name)

    # --- names ------------------------------------------------------------------------------

    def tenant_root(self) -> str:
        """`tenants/<schema>/<folder>` of the schema the connection is on now."""
        schema = getattr(connection, "schema_name", None)
        if not schema or schema == get_public_schema_name():
            raise NoTenantError(
                f"{self.label} needs a tenant, but the database connection is on the public "
                "schema: use it while serving a tenant's request or task, or inside "
                "django_tenants.utils.tenant_context(tenant)")
        if schema.startswith("dgbox_"):  # the template and spare schemas hold no files
            raise NoTenantError(f"{self.label} used in {schema!r}, which is not a tenant")
        return s3.tenant_prefix(schema) + self.folder

    @staticmethod
    def check_name(name: object) -> str:
        """Refuse names that could leave the tenant's prefix or mean something else on S3."""
        if isinstance(name, pathlib.PurePath):
            name = str(name)
        if not isinstance(name, str):
            raise SuspiciousFileOperation(f"file name {name!r} is not a string")
        if "\\" in name or "\x00" in name:
            raise SuspiciousFileOperation(f"file name {name!r} contains a backslash or NUL")
        if name.startswith("/") or _DRIVE.match(name):
            raise SuspiciousFileOperation(f"file name {name!r} is absolute; give a name "
                                          "relative to the tenant's folder")
        if ".." in name.split("/"):
            raise SuspiciousFileOperation(f"file name {name!r} contains '..'")
        return name

    def _normalize_name(self, name: str) -> str:
        root = self.tenant_root()
        try:
            return str(safe_join(root, name))
        except ValueError as err:
            raise SuspiciousFileOperation(f"file name {name!r} leaves {root}") from err

    def key_for(self, name: object) -> str:
        """The full object key of `name` for the current tenant: `tenants/<schema>/<name>`."""
        return self._normalize_name(str(clean_name(self.check_name(name))))

    # --- storage API: every entry point checks the raw name first ----------------------------

    def _open(self, name: str, mode: str = "rb") -> File[Any]:
        self.check_name(name)
        with _s3_errors("opening", self, name):
            file: File[Any] = super()._open(name, mode)
        file.name = clean_name(name)  # relative to the tenant, like the name it was saved as
        return file

    def _save(self, name: str, content: File[Any]) -> str:
        self.check_name(name)
        if isinstance(content.read(0), str):
            # storages sizes text by characters, not UTF-8 bytes: the upload is cut short
            # (BadDigest) for non-ASCII text. Store text as its UTF-8 bytes instead.
            content.seek(0)
            encoded = ContentFile(content.read().encode(), name=getattr(content, "name", None))
            # storages reads the type from the file when it has one (uploads have).
            encoded.content_type = getattr(content, "content_type", None)  # type: ignore[attr-defined]
            content = encoded
        with _s3_errors("saving", self, name):
            return str(super()._save(name, content))

    def get_object_parameters(self, name: str) -> dict[str, Any]:
        # Every write (save, and files opened for writing) asks for encryption when it is on;
        # storages passes only SSE-C parameters on to reads.
        return {**super().get_object_parameters(name), **s3.write_args(self.bucket_name)}

    def _get_write_parameters(self, name: str, content: File[Any] | None = None
                              ) -> dict[str, Any]:
        params: dict[str, Any] = super()._get_write_parameters(name, content)
        digest = _sha256(content)
        if digest:
            params.setdefault("Metadata", {})[s3.SHA256_META] = digest
        return params

    def delete(self, name: str) -> None:
        self.check_name(name)
        with _s3_errors("deleting", self, name):
            super().delete(name)

    def exists(self, name: str) -> bool:
        self.check_name(name)
        with _s3_errors("checking", self, name):
            return bool(super().exists(name))

    def listdir(self, name: str) -> tuple[list[str], list[str]]:
        self.check_name(name)
        with _s3_errors("listing", self, name):
            directories, files = super().listdir(name)
            return directories, files

    def size(self, name: str) -> int:
        self.check_name(name)
        with _s3_errors("reading the size of", self, name):
            return int(super().size(name))

    def get_modified_time(self, name: str) -> datetime:
        self.check_name(name)
        with _s3_errors("reading the time of", self, name):
            modified: datetime = super().get_modified_time(name)
            return modified

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        return str(super().get_available_name(self.check_name(name), max_length))

class TenantPrivateS3Storage(TenantS3Storage):
    """Private files of the current tenant: `tenants/<schema>/<name>`, signed links only.

    Names in the `media/` folder are refused: that folder is public media's, which any
    visitor of the tenant's site may read.
    """

    label = "private storage"

    def _normalize_name(self, name: str) -> str:
        if (name + "/").startswith(s3.MEDIA_FOLDER):
            raise SuspiciousFileOperation(
                f"file name {name!r} is in {s3.MEDIA_FOLDER}, the tenant's public media "
                "folder; private files go in a folder of their own (e.g. applications/)")
        return super()._normalize_name(name)

    def url(self, name: str, parameters: dict[str, Any] | None = None,
            expire: int | None = None, http_method: str | None = None, *,
            filename: str | None = None) -> str:
        """A signed GET link valid DGBOX_S3_SIGNED_URL_SECONDS (or `expire` seconds); with
        `filename` the browser saves it under that name."""
        self.check_name(name)
        params = dict(parameters or {})
        if filename:
            params["ResponseContentDisposition"] = s3.content_disposition(filename)
        with _s3_errors("signing a link to", self, name):
            return str(super().url(name, params, expire, http_method))

    def path(self, name: str) -> str:
        raise NotImplementedError("private files live on S3: open() them, or hand out url()")



class TenantPublicMediaS3Storage(TenantS3Storage):
    """Public media of the current tenant (Wagtail images, renditions, documents):
    `tenants/<schema>/media/<name>`, served at the tenant site's `/media/<name>`.

    The objects stay private on S3 (the bucket is never public): cms/media.py streams them
    on the tenant's own host, so no tenant can name another's file. Each is stored with
    Cache-Control `IMMUTABLE`, for a CDN reading the bucket directly.
    """

    label = "public media storage"
    folder = s3.MEDIA_FOLDER

    def get_object_parameters(self, name: str) -> dict[str, Any]:
        return {**super().get_object_parameters(name), "CacheControl": IMMUTABLE}

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        """Every new file gets a random suffix (`plan_Ab12XyZ.png`), even when the name is
        free: a name deleted and uploaded again would otherwise serve the old bytes from
        caches that were told they never change. Renditions are named after their original,
        so they are unique too."""
        root, ext = posixpath.splitext(self.check_name(name))
        return super().get_available_name(self.get_alternative_name(root, ext), max_length)

    def url(self, name: str, parameters: dict[str, Any] | None = None,
            expire: int | None = None, http_method: str | None = None) -> str:
        """`MEDIA_URL<name>`, on whichever tenant host the page is shown (no S3 call)."""
        return f"{settings.MEDIA_URL}{filepath_to_uri(self.check_name(name))}"

    def path(self, name: str) -> str:
        raise NotImplementedError("public media lives on S3: open() it, or link to url()")


def _sha256(content: IO[Any] | File[Any] | None) -> str | None:
    """Hex SHA-256 of an upload that can be read again from its start, else None."""
    if content is None or not hasattr(content, "seek"):
        return None
    try:
        if hasattr(content, "seekable") and not content.seekable():
            return None
        digest = hashlib.sha256()
        content.seek(0)
        while chunk := content.read(1024 * 1024):
            digest.update(chunk if isinstance(chunk, bytes) else chunk.encode())
        content.seek(0)
        return digest.hexdigest()
    except (OSError, ValueError, AttributeError):
        return None
