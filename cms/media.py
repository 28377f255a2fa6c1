"""Serving a tenant's public media from S3 (DGBOX_PUBLIC_MEDIA=s3), with cache headers.

Page images and their renditions are private objects under `tenants/<schema>/media/`; this
view streams them at `/media/<name>` on the tenant's own host. Why through the app rather than
public-read objects: the bucket stays private (one bucket, one policy, nothing to misconfigure),
the tenant comes from the host name the request was routed by, so no URL can name another
tenant's prefix, and the same URLs work on every S3 server (SeaweedFS has no per-prefix public
policy). The cost, a web worker busy while bytes stream, is bounded by the headers: every name
is used once (infra.storage.TenantPublicMediaS3Storage), so responses are `immutable` for a
year and a CDN or the ingress cache answers repeat requests; conditional requests get a 304.

Only `original_images/` and `images/` (renditions) are served here. Documents are served by
Wagtail's view at `/documents/<id>/<name>`, which checks the collection's privacy first:
`serve_document` wraps it to add the cache headers Wagtail leaves out.
"""

import re
from collections.abc import Iterator
from typing import Any

from django.core.files.storage import storages
from django.http import (
    Http404,
    HttpRequest,
    HttpResponseBase,
    HttpResponseNotModified,
    StreamingHttpResponse,
)
from django.utils.cache import patch_cache_control
from django.utils.http import http_date
from django.views.decorators.http import require_safe
from wagtail.documents import get_document_model
from wagtail.documents.views import serve as wagtaildocs_serve

from infra import s3
from infra.storage import IMMUTABLE, TenantPublicMediaS3Storage

#: Folders of public media served at /media/: Wagtail's originals and renditions.
SERVED_FOLDERS = ("original_images/", "images/")
#: The longest key S3 takes; a longer name cannot have been stored.
MAX_KEY_BYTES = 1024
#: Public documents may be replaced under the same URL: browsers and caches check back.
DOCUMENT_MAX_AGE = 300
# Media is shown, never run: no scripts, even in an SVG, and no type sniffing.
_MEDIA_CSP = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
_CHUNK = 64 * 1024
# An S3 ETag: the MD5 in hex, with "-<parts>" for a multipart upload, in quotes.
_S3_ETAG = re.compile(r'"[0-9a-f]{32}(-[0-9]{1,5})?"')


def _stream(body: Any) -> Iterator[bytes]:
    """The object's bytes; the S3 connection is released when the response is closed, even
    if the client went away half-way."""
    try:
        yield from body.iter_chunks(_CHUNK)
    finally:
        body.close()


@require_safe
def public_media(request: HttpRequest, name: str) -> HttpResponseBase:
    """One image or rendition of the site's tenant, streamed from its S3 prefix."""
    storage = storages["default"]
    if not isinstance(storage, TenantPublicMediaS3Storage) or not name.startswith(SERVED_FOLDERS):
        raise Http404("No such file on this site.")
    # The tenant's own prefix, from the host the request was routed by. A name with "..", a
    # backslash or NUL raises SuspiciousFileOperation: Django answers 400 Bad Request.
    key = storage.key_for(name)
    if len(key.encode("utf-8", "replace")) > MAX_KEY_BYTES or not name.isprintable():
        raise Http404("No such file on this site.")  # S3 could not hold it: asking would fail
    # Only an ETag as S3 makes them is passed on: anything else could make S3 answer 400.
    held = request.headers.get("If-None-Match", "")
    held = held if _S3_ETAG.fullmatch(held) else ""
    try:
        found = s3.get_object(key, if_none_match=held or None)
    except s3.S3NotFound:
        raise Http404("No such file on this site.") from None
    if found is None:
        response: HttpResponseBase = HttpResponseNotModified()
        response["ETag"] = held
    else:
        response = StreamingHttpResponse(_stream(found["Body"]),
                                         content_type=found.get("ContentType")
                                         or "application/octet-stream")
        response["Content-Length"] = str(found["ContentLength"])
        response["ETag"] = found["ETag"]
        response["Last-Modified"] = http_date(found["LastModified"].timestamp())
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Security-Policy"] = _MEDIA_CSP
    response["Cache-Control"] = IMMUTABLE
    return response


def serve_document(request: HttpRequest, document_id: str, document_filename: str
                   ) -> HttpResponseBase:
    """Wagtail's document view (privacy checks, ETag), plus cache headers: a document of a
    restricted collection is `private` (no shared cache keeps it), a public one may be kept
    DOCUMENT_MAX_AGE seconds and then revalidated by its ETag."""
    response = wagtaildocs_serve.serve(request, document_id, document_filename)
    if response.status_code not in (200, 304) or "Cache-Control" in response:
        return response
    document = get_document_model().objects.filter(pk=document_id).select_related(
        "collection").first()
    restricted = document is None or document.collection.get_view_restrictions().exists()
    if restricted:
        patch_cache_control(response, private=True, no_cache=True)
    else:
        patch_cache_control(response, public=True, max_age=DOCUMENT_MAX_AGE)
    return response

