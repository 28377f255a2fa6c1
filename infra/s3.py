"""The platform's S3-compatible object storage (SeaweedFS, MinIO, Ceph RGW, AWS S3), via boto3.

One private bucket (DGBOX_S3_BUCKET); every tenant's objects live under `tenants/<schema>/`
(`tenant_prefix`), its public media (page images, documents) in `tenants/<schema>/media/`
(`media_prefix`), short-lived objects under `tmp/`. Nothing is public on S3 itself: private
files are read through signed links (`signed_url`), public media through the tenant site's
`/media/` view (`get_object`). Backups, restores and metering work on prefixes (`manifest`,
`copy_prefix`, `delete_prefix`, `prefix_usage`). See docs/storage.md.

This module knows nothing about tenants' models, pages or cases; it takes schema names and keys.
Every failure to reach or use the endpoint is raised as `S3Error` with what to check.
"""

import hashlib
import logging
import os
import re
import threading
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any, BinaryIO, NamedTuple
from urllib.parse import quote

# Only botocore's exceptions at import (a few ms): boto3 and botocore's client machinery are
# imported by the first call that talks to S3. Many modules import this one, and a `dgbox`
# command that never touches S3 (`dgbox tenant list`) need not pay 0.1 s for them
# (docs/benchmarks.md, CLI start-up).
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
from django.conf import settings

if TYPE_CHECKING:
    from botocore.config import Config

logger = logging.getLogger(__name__)

# A boto3 S3 client. boto3 has no type information installed (see pyproject's mypy section).
S3Client = Any

TENANTS_ROOT = "tenants/"
# The folder of a tenant's prefix that holds its public media (infra.storage's
# TenantPublicMediaS3Storage); the private storage refuses names in it.
MEDIA_FOLDER = "media/"
TMP_PREFIX = "tmp/"
SSE_ALGORITHM = "AES256"
# Metadata key holding the hex SHA-256 of an object's bytes (x-amz-meta-sha256).
SHA256_META = "sha256"
DELETE_BATCH = 1000  # the most keys DeleteObjects takes in one call
COPY_SINGLE_LIMIT = 5 * 1024**3  # CopyObject's limit; larger objects are copied in parts
MAX_SIGNED_SECONDS = 7 * 24 * 3600  # SigV4 presigned URLs cannot live longer
LIFECYCLE_RULES = [
    {"ID": "dgbox-abort-incomplete-multipart", "Status": "Enabled", "Filter": {"Prefix": ""},
     "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}},
    {"ID": "dgbox-expire-tmp", "Status": "Enabled", "Filter": {"Prefix": TMP_PREFIX},
     "Expiration": {"Days": 1}},
]
# PostgreSQL schema names dgbox gives tenants: lowercase latin letters, digits, underscores.
_SCHEMA_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_CREDENTIAL_CODES = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied",
                     "InvalidToken", "ExpiredToken", "AuthorizationHeaderMalformed"}
_NOT_SUPPORTED_CODES = {"NotImplemented", "XNotImplemented", "MethodNotAllowed",
                        "UnsupportedOperation", "InvalidRequest", "NotSupported"}


class S3Error(Exception):
    """Object storage failed; the message says what to check."""


class S3NotFound(S3Error, FileNotFoundError):
    """The key (or bucket) does not exist."""


class ObjectInfo(NamedTuple):
    key: str
    size: int
    etag: str  # without quotes; an MD5 for single-part uploads, not for multipart ones
    last_modified: datetime


# --- client ---------------------------------------------------------------------------------

_clients: dict[tuple[object, ...], S3Client] = {}
_clients_lock = threading.Lock()


def _endpoint() -> str:
    return settings.DGBOX_S3_ENDPOINT_URL or "(AWS default endpoint)"


def botocore_config() -> "Config":
    """Path-style SigV4 with short timeouts: a dead endpoint fails fast instead of hanging."""
    from botocore.config import Config  # noqa: PLC0415 - see the imports at the top

    return Config(
        signature_version="s3v4",
        s3={"addressing_style": "path"},
        region_name=settings.DGBOX_S3_REGION or None,
        connect_timeout=settings.DGBOX_S3_CONNECT_TIMEOUT,
        read_timeout=settings.DGBOX_S3_READ_TIMEOUT,
        retries={"mode": "standard", "max_attempts": 3},
    )


def client() -> S3Client:
    """The boto3 S3 client for the configured endpoint, one per process (and settings).

    Empty DGBOX_S3_ACCESS_KEY/SECRET_KEY use boto3's default chain (instance or pod role).
    """
    key = (os.getpid(), settings.DGBOX_S3_ENDPOINT_URL, settings.DGBOX_S3_ACCESS_KEY,
           settings.DGBOX_S3_SECRET_KEY, settings.DGBOX_S3_REGION,
           settings.DGBOX_S3_CONNECT_TIMEOUT, settings.DGBOX_S3_READ_TIMEOUT)
    found = _clients.get(key)
    if found is None:
        with _clients_lock:
            found = _clients.get(key)
            if found is None:
                import boto3.session  # noqa: PLC0415 - see the imports at the top

                # A session of its own: boto3's default session is not thread-safe.
                session = boto3.session.Session(
                    aws_access_key_id=settings.DGBOX_S3_ACCESS_KEY or None,
                    aws_secret_access_key=settings.DGBOX_S3_SECRET_KEY or None,
                )
                found = session.client(
                    "s3", endpoint_url=settings.DGBOX_S3_ENDPOINT_URL or None,
                    region_name=settings.DGBOX_S3_REGION or None, config=botocore_config())
                _clients.clear()  # settings changed (tests) or forked: drop the old ones
                _clients[key] = found
    return found


def bucket_name(bucket: str | None = None) -> str:
    return bucket or settings.DGBOX_S3_BUCKET


def _code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def _status(err: ClientError) -> int:
    return int(err.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)


def _wrap(err: Exception, action: str, bucket: str, key: str | None = None) -> S3Error:
    """Turn a botocore error into an S3Error that says what to check."""
    where = f"s3://{bucket}/{key}" if key is not None else f"bucket {bucket!r}"
    if isinstance(err, NoCredentialsError):
        return S3Error(f"{action} {where}: no S3 credentials; set DGBOX_S3_ACCESS_KEY and "
                       "DGBOX_S3_SECRET_KEY (or give the process an instance/pod role)")
    if isinstance(err, ClientError):
        code = _code(err)
        message = err.response.get("Error", {}).get("Message", "")
        if code in _CREDENTIAL_CODES or _status(err) == 403:
            return S3Error(
                f"{action} {where}: the S3 endpoint {_endpoint()} refused our credentials "
                f"({code or 'HTTP 403'}: {message}); check DGBOX_S3_ACCESS_KEY / "
                "DGBOX_S3_SECRET_KEY and that this key may use the bucket")
        if code == "NoSuchBucket":
            return S3NotFound(f"{action} {where}: the bucket does not exist on {_endpoint()}; "
                              "create it with infra.s3.ensure_bucket() or check DGBOX_S3_BUCKET")
        if code in ("NoSuchKey", "404", "NotFound") or _status(err) == 404:
            return S3NotFound(f"{action} {where}: no such object")
        return S3Error(f"{action} {where}: {code or _status(err)}: {message}")
    if isinstance(err, BotoCoreError):
        return S3Error(f"{action} {where}: cannot reach the S3 endpoint {_endpoint()} ({err}); "
                       "check DGBOX_S3_ENDPOINT_URL and that the server is running "
                       "(`python -m infra.localservices run` starts a local one)")
    return S3Error(f"{action} {where}: {err}")


# --- bucket ---------------------------------------------------------------------------------

class BucketReport(NamedTuple):
    bucket: str
    created: bool
    public_access_blocked: bool  # PublicAccessBlock set (False: endpoint lacks it, ACL private)
    lifecycle: bool
    encryption: str | None  # "AES256" when default encryption is on, else None


def ensure_bucket(bucket: str | None = None) -> BucketReport:
    """Create the bucket if needed and (re)apply its policy; safe to run any number of times.

    Private (PublicAccessBlock, else a private ACL), lifecycle rules (incomplete multipart
    uploads aborted after a day, `tmp/` expired after a day; other rules are kept), and default
    encryption per DGBOX_S3_SSE: "auto" sets it where the endpoint supports it and logs a note
    where not, "on" raises S3Error where not, "off" leaves the bucket as it is.
    """
    bucket = bucket_name(bucket)
    s3 = client()
    created = False
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as err:
        if _status(err) != 404:
            raise _wrap(err, "checking", bucket) from err
        created = _create_bucket(s3, bucket)
    except BotoCoreError as err:
        raise _wrap(err, "checking", bucket) from err
    blocked = _make_private(s3, bucket)
    lifecycle = _apply_lifecycle(s3, bucket)
    encryption = _apply_encryption(s3, bucket)
    return BucketReport(bucket, created, blocked, lifecycle, encryption)


def _create_bucket(s3: S3Client, bucket: str) -> bool:
    params: dict[str, Any] = {"Bucket": bucket}
    region = settings.DGBOX_S3_REGION
    if region and region != "us-east-1" and not settings.DGBOX_S3_ENDPOINT_URL:
        params["CreateBucketConfiguration"] = {"LocationConstraint": region}  # AWS only
    try:
        s3.create_bucket(**params)
        logger.info("S3: created bucket %s on %s", bucket, _endpoint())
        return True
    except ClientError as err:
        if _code(err) == "BucketAlreadyOwnedByYou":  # another process was quicker
            return False
        if _code(err) == "BucketAlreadyExists":
            raise S3Error(f"bucket {bucket!r} belongs to another account on {_endpoint()}; "
                          "choose another DGBOX_S3_BUCKET") from err
        raise _wrap(err, "creating", bucket) from err
    except BotoCoreError as err:
        raise _wrap(err, "creating", bucket) from err


def _unsupported(err: ClientError) -> bool:
    return _code(err) in _NOT_SUPPORTED_CODES or _status(err) in (400, 405, 501)


def _make_private(s3: S3Client, bucket: str) -> bool:
    try:
        s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
            "BlockPublicAcls": True, "IgnorePublicAcls": True,
            "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
        return True
    except ClientError as err:
        if not _unsupported(err):
            raise _wrap(err, "blocking public access to", bucket) from err
        logger.info("S3: %s has no PublicAccessBlock; relying on a private ACL", _endpoint())
    except BotoCoreError as err:
        raise _wrap(err, "blocking public access to", bucket) from err
    try:
        s3.put_bucket_acl(Bucket=bucket, ACL="private")
    except ClientError as err:
        # Buckets with ACLs disabled (owner-enforced) are private already.
        if not (_unsupported(err) or _code(err) == "AccessControlListNotSupported"):
            raise _wrap(err, "setting the private ACL of", bucket) from err
    return False


def _apply_lifecycle(s3: S3Client, bucket: str) -> bool:
    ours = {rule["ID"] for rule in LIFECYCLE_RULES}
    try:
        current = s3.get_bucket_lifecycle_configuration(Bucket=bucket).get("Rules", [])
    except ClientError as err:
        if _code(err) != "NoSuchLifecycleConfiguration" and not _unsupported(err) \
                and _status(err) != 404:
            raise _wrap(err, "reading the lifecycle of", bucket) from err
        current = []
    except BotoCoreError as err:
        raise _wrap(err, "reading the lifecycle of", bucket) from err
    rules = [rule for rule in current if rule.get("ID") not in ours] + LIFECYCLE_RULES
    try:
        s3.put_bucket_lifecycle_configuration(
            Bucket=bucket, LifecycleConfiguration={"Rules": rules})
        return True
    except ClientError as err:
        if not _unsupported(err):
            raise _wrap(err, "setting the lifecycle of", bucket) from err
        logger.warning("S3: %s does not support lifecycle rules: incomplete uploads and tmp/ "
                       "objects are not cleaned up by the server", _endpoint())
        return False
    except BotoCoreError as err:
        raise _wrap(err, "setting the lifecycle of", bucket) from err


def _sse_mode() -> str:
    mode = (settings.DGBOX_S3_SSE or "auto").lower()
    if mode not in ("auto", "on", "off"):
        raise S3Error(f"DGBOX_S3_SSE={settings.DGBOX_S3_SSE!r}: use auto, on or off")
    return mode


_sse_known: dict[tuple[str, str], bool] = {}


def _apply_encryption(s3: S3Client, bucket: str) -> str | None:
    mode = _sse_mode()
    if mode == "off":
        return None
    try:
        s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [
            {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": SSE_ALGORITHM}}]})
        _sse_known[_sse_key(bucket)] = True
        return SSE_ALGORITHM
    except ClientError as err:
        if _code(err) in _CREDENTIAL_CODES:
            raise _wrap(err, "setting default encryption of", bucket) from err
        detail = f"{_code(err) or _status(err)}: {err.response.get('Error', {}).get('Message')}"
    except BotoCoreError as err:
        raise _wrap(err, "setting default encryption of", bucket) from err
    _sse_known[_sse_key(bucket)] = False
    if mode == "on":
        raise S3Error(
            f"DGBOX_S3_SSE=on but {_endpoint()} refused server-side encryption for bucket "
            f"{bucket!r} ({detail}). Enable SSE-S3 on the server (MinIO: a KMS key, e.g. "
            "MINIO_KMS_SECRET_KEY; Ceph RGW: rgw_crypt_sse_s3_backend) or set DGBOX_S3_SSE=auto "
            "to run without it")
    logger.warning("S3: %s does not support server-side encryption (%s); objects in %s are "
                   "stored unencrypted (DGBOX_S3_SSE=auto)", _endpoint(), detail, bucket)
    return None


def _sse_key(bucket: str) -> tuple[str, str]:
    return (settings.DGBOX_S3_ENDPOINT_URL, bucket)


def sse_enabled(bucket: str | None = None) -> bool:
    """Whether uploads ask for server-side encryption (x-amz-server-side-encryption: AES256).

    "on": always; "off": never; "auto": when the bucket has default encryption (looked up
    once per process unless ensure_bucket ran here).
    """
    mode = _sse_mode()
    if mode != "auto":
        return mode == "on"
    bucket = bucket_name(bucket)
    known = _sse_known.get(_sse_key(bucket))
    if known is None:
        try:
            rules = client().get_bucket_encryption(Bucket=bucket)[
                "ServerSideEncryptionConfiguration"]["Rules"]
            known = any(rule.get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm")
                        for rule in rules)
        except ClientError as err:
            if _code(err) in _CREDENTIAL_CODES or _code(err) == "NoSuchBucket":
                raise _wrap(err, "reading default encryption of", bucket) from err
            known = False  # no configuration, or not supported
        except BotoCoreError as err:
            raise _wrap(err, "reading default encryption of", bucket) from err
        _sse_known[_sse_key(bucket)] = known
    return known


def write_args(bucket: str | None = None) -> dict[str, str]:
    """Extra arguments for every write: the encryption header when it is on."""
    return {"ServerSideEncryption": SSE_ALGORITHM} if sse_enabled(bucket) else {}


# --- prefixes -------------------------------------------------------------------------------

def tenant_prefix(schema_name: str) -> str:
    """`tenants/<schema>/`: where everything of one tenant is stored."""
    if not isinstance(schema_name, str) or not _SCHEMA_RE.match(schema_name):
        raise ValueError(f"{schema_name!r} is not a tenant schema name (lowercase latin "
                         "letters, digits and underscores, starting with a letter, <= 63)")
    if schema_name == "public":
        raise ValueError("the public schema has no tenant files")
    return f"{TENANTS_ROOT}{schema_name}/"


def media_prefix(schema_name: str) -> str:
    """`tenants/<schema>/media/`: the tenant's public media (inside its prefix, so backups,
    restores and deletion of the tenant's prefix include it)."""
    return tenant_prefix(schema_name) + MEDIA_FOLDER


def _check_prefix(prefix: str, action: str) -> str:
    # A prefix without its slash would also match its neighbours ("tenants/nor" matches
    # "tenants/north/"); an empty one would be the whole bucket.
    if not prefix or not prefix.endswith("/") or prefix.startswith("/") \
            or ".." in prefix.split("/"):
        raise ValueError(f"{action}: {prefix!r} is not a folder prefix such as 'tenants/north/' "
                         "(non-empty, ending with '/', no leading '/' or '..')")
    return prefix


def iter_objects(prefix: str, *, bucket: str | None = None) -> Iterator[ObjectInfo]:
    """Every object under `prefix` ("" is the whole bucket), in key order."""
    bucket = bucket_name(bucket)
    try:
        pages = client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for page in pages:
            for entry in page.get("Contents", ()):
                yield ObjectInfo(entry["Key"], int(entry["Size"]),
                                 str(entry.get("ETag", "")).strip('"'), entry["LastModified"])
    except (ClientError, BotoCoreError) as err:
        raise _wrap(err, "listing", bucket, prefix) from err


def prefix_usage(prefix: str, *, bucket: str | None = None) -> tuple[int, int]:
    """(number of objects, total bytes) under a prefix, for metering."""
    count = total = 0
    for info in iter_objects(_check_prefix(prefix, "usage"), bucket=bucket):
        count += 1
        total += info.size
    return count, total


def get_object(key: str, *, if_none_match: str | None = None,
               bucket: str | None = None) -> dict[str, Any] | None:
    """boto3's get_object answer (Body streamed, ContentType, ContentLength, ETag,
    LastModified), or None when `if_none_match` (an ETag the client holds) still matches."""
    bucket = bucket_name(bucket)
    params: dict[str, Any] = {"Bucket": bucket, "Key": _check_key(key)}
    if if_none_match:
        params["IfNoneMatch"] = if_none_match
    try:
        answer: dict[str, Any] = client().get_object(**params)
        return answer
    except ClientError as err:
        if _status(err) == 304:
            return None
        raise _wrap(err, "reading", bucket, key) from err
    except BotoCoreError as err:
        raise _wrap(err, "reading", bucket, key) from err


def head(key: str, *, bucket: str | None = None) -> dict[str, Any]:
    bucket = bucket_name(bucket)
    try:
        answer: dict[str, Any] = client().head_object(Bucket=bucket, Key=key)
        return answer
    except (ClientError, BotoCoreError) as err:
        raise _wrap(err, "reading", bucket, key) from err


def manifest(prefix: str, *, bucket: str | None = None) -> list[dict[str, Any]]:
    """What is under a prefix, sorted by key, for backups and restore checks.

    Each entry: key, name (relative to the prefix), size, etag, sha256 (from the object's
    metadata when it was written through this module or the storage, else None) and
    last_modified (ISO 8601).
    """
    _check_prefix(prefix, "manifest")
    entries = []
    for info in iter_objects(prefix, bucket=bucket):
        metadata = head(info.key, bucket=bucket).get("Metadata", {})
        entries.append({
            "key": info.key, "name": info.key[len(prefix):], "size": info.size,
            "etag": info.etag, "sha256": metadata.get(SHA256_META),
            "last_modified": info.last_modified.isoformat(),
        })
    return sorted(entries, key=lambda entry: entry["key"])


def delete_keys(keys: list[str], *, bucket: str | None = None) -> int:
    """Delete the given keys, 1000 per request; returns how many were deleted."""
    bucket = bucket_name(bucket)
    s3 = client()
    deleted = 0
    for start in range(0, len(keys), DELETE_BATCH):
        batch = keys[start:start + DELETE_BATCH]
        try:
            answer = s3.delete_objects(Bucket=bucket, Delete={
                "Objects": [{"Key": key} for key in batch], "Quiet": True})
        except (ClientError, BotoCoreError) as err:
            raise _wrap(err, "deleting from", bucket) from err
        errors = answer.get("Errors", [])
        if errors:
            sample = ", ".join(f"{e.get('Key')}: {e.get('Code')}" for e in errors[:3])
            raise S3Error(f"deleting from bucket {bucket!r}: {len(errors)} of {len(batch)} keys "
                          f"were not deleted ({sample})")
        deleted += len(batch)
    return deleted


def delete_prefix(prefix: str, *, bucket: str | None = None) -> int:
    """Delete everything under a prefix (e.g. a deleted tenant's); returns the count."""
    _check_prefix(prefix, "delete")
    return delete_keys([info.key for info in iter_objects(prefix, bucket=bucket)], bucket=bucket)


def copy_prefix(src_prefix: str, dst_prefix: str, *, bucket: str | None = None) -> int:
    """Copy every object under src_prefix to the same name under dst_prefix, server-side,
    keeping content type and metadata (so sha256); returns the count.

    Restores a tenant under a new schema: copy_prefix(tenant_prefix(old), tenant_prefix(new)).
    """
    _check_prefix(src_prefix, "copy")
    _check_prefix(dst_prefix, "copy")
    if src_prefix.startswith(dst_prefix) or dst_prefix.startswith(src_prefix):
        raise ValueError(f"copy: {src_prefix!r} and {dst_prefix!r} overlap")
    bucket = bucket_name(bucket)
    s3 = client()
    extra = write_args(bucket)
    copied = 0
    for info in iter_objects(src_prefix, bucket=bucket):
        target = dst_prefix + info.key[len(src_prefix):]
        source = {"Bucket": bucket, "Key": info.key}
        try:
            if info.size <= COPY_SINGLE_LIMIT:
                s3.copy_object(Bucket=bucket, Key=target, CopySource=source,
                               MetadataDirective="COPY", **extra)
            else:  # multipart copy: metadata must be given again
                meta = head(info.key, bucket=bucket)
                s3.copy(source, bucket, target, ExtraArgs={
                    "Metadata": meta.get("Metadata", {}),
                    "ContentType": meta.get("ContentType", "application/octet-stream"),
                    **extra})
        except (ClientError, BotoCoreError) as err:
            raise _wrap(err, f"copying {info.key} to", bucket, target) from err
        copied += 1
    return copied


# --- objects --------------------------------------------------------------------------------

def _check_key(key: str) -> str:
    if not key or key.startswith("/") or "\\" in key or ".." in key.split("/") \
            or key.endswith("/"):
        raise ValueError(f"{key!r} is not an object key (relative, no '..', backslash or "
                         "trailing '/')")
    return key


def upload_bytes(key: str, data: bytes, *, content_type: str = "application/octet-stream",
                 metadata: dict[str, str] | None = None,
                 bucket: str | None = None) -> dict[str, Any]:
    """Store bytes under key with their SHA-256 in the metadata; returns key, size, sha256."""
    bucket = bucket_name(bucket)
    digest = hashlib.sha256(data).hexdigest()
    try:
        client().put_object(Bucket=bucket, Key=_check_key(key), Body=data,
                            ContentType=content_type,
                            Metadata={**(metadata or {}), SHA256_META: digest},
                            **write_args(bucket))
    except (ClientError, BotoCoreError) as err:
        raise _wrap(err, "writing", bucket, key) from err
    return {"key": key, "size": len(data), "sha256": digest}


def upload_file(key: str, file: str | os.PathLike[str] | BinaryIO, *,
                content_type: str = "application/octet-stream",
                metadata: dict[str, str] | None = None, cache_control: str | None = None,
                bucket: str | None = None) -> dict[str, Any]:
    """Store a file (path or binary file object, read from its start) under key, in parts
    when large, with its SHA-256 in the metadata (and `cache_control` as its Cache-Control);
    returns key, size, sha256."""
    bucket = bucket_name(bucket)
    _check_key(key)
    handle = open(file, "rb") if isinstance(file, str | os.PathLike) else file
    try:
        handle.seek(0)
        digest, size = hashlib.sha256(), 0
        for chunk in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(chunk)
            size += len(chunk)
        handle.seek(0)
        extra = {"ContentType": content_type,
                 "Metadata": {**(metadata or {}), SHA256_META: digest.hexdigest()},
                 **write_args(bucket)}
        if cache_control:
            extra["CacheControl"] = cache_control
        from boto3.s3.transfer import TransferConfig  # noqa: PLC0415 - see the imports at the top

        client().upload_fileobj(handle, bucket, key, Config=TransferConfig(), ExtraArgs=extra)
    except (ClientError, BotoCoreError) as err:
        raise _wrap(err, "writing", bucket, key) from err
    finally:
        if handle is not file:
            handle.close()
    return {"key": key, "size": size, "sha256": digest.hexdigest()}


def download(key: str, *, bucket: str | None = None) -> bytes:
    """The object's bytes, checked against its stored SHA-256 when it has one."""
    bucket = bucket_name(bucket)
    try:
        answer = client().get_object(Bucket=bucket, Key=key)
        data: bytes = answer["Body"].read()
    except (ClientError, BotoCoreError) as err:
        raise _wrap(err, "reading", bucket, key) from err
    expected = answer.get("Metadata", {}).get(SHA256_META)
    if expected and hashlib.sha256(data).hexdigest() != expected:
        raise S3Error(f"s3://{bucket}/{key}: content does not match its stored SHA-256; the "
                      "object is damaged or was changed outside dgbox")
    return data


def object_sha256(key: str, *, bucket: str | None = None) -> tuple[str, int]:
    """(hex SHA-256, size) of an object's bytes as the server returns them, streamed: a check
    that does not trust the object's metadata."""
    bucket = bucket_name(bucket)
    digest, size = hashlib.sha256(), 0
    try:
        body = client().get_object(Bucket=bucket, Key=key)["Body"]
        for chunk in iter(lambda: body.read(1024 * 1024), b""):
            digest.update(chunk)
            size += len(chunk)
    except (ClientError, BotoCoreError) as err:
        raise _wrap(err, "reading", bucket, key) from err
    return digest.hexdigest(), size


def content_disposition(filename: str) -> str:
    """`attachment` with an ASCII fallback name and the exact UTF-8 one (RFC 6266/5987)."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def signed_url(key: str, *, seconds: int | None = None, filename: str | None = None,
               content_type: str | None = None, bucket: str | None = None) -> str:
    """A presigned GET link to one object, valid `seconds` (DGBOX_S3_SIGNED_URL_SECONDS).

    With `filename`, the browser downloads it under that name (Content-Disposition:
    attachment); `content_type` overrides the stored type. Anyone holding the link can read
    the object until it expires: hand it only to whoever may read it, right when needed.
    """
    bucket = bucket_name(bucket)
    seconds = settings.DGBOX_S3_SIGNED_URL_SECONDS if seconds is None else int(seconds)
    if not 0 < seconds <= MAX_SIGNED_SECONDS:
        raise ValueError(f"signed link lifetime {seconds}s: give 1..{MAX_SIGNED_SECONDS}")
    params = {"Bucket": bucket, "Key": _check_key(key)}
    if filename:
        params["ResponseContentDisposition"] = content_disposition(filename)
    if content_type:
        params["ResponseContentType"] = content_type
    try:
        url: str = client().generate_presigned_url("get_object", Params=params,
                                                   ExpiresIn=seconds)
        return url
    except BotoCoreError as err:
        raise _wrap(err, "signing a link to", bucket, key) from err
