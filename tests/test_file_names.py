"""Uploads are shown and downloaded under a safe name (issue 14), and page media served in
DEBUG only for the site's own tenant."""

import pytest
from django.http import Http404
from django.test import RequestFactory
from django_tenants.utils import tenant_context

from cms.views import tenant_media
from services.applications.models import UploadedFile
from services.applications.submission import safe_display_name


@pytest.mark.parametrize(("given", "shown"), [
    ("справка.pdf", "справка.pdf"),
    ("../../etc/passwd.pdf", "passwd.pdf"),
    ("invoice\u202efdp.exe", "invoicefdp.exe"),  # a right-to-left override hides ".exe"
    ("a\u200fb\x00c\x1b.pdf", "abc.pdf"),
    ("\u202e", "file"),
])
def test_display_names_lose_folders_controls_and_bidi_marks(given, shown):
    assert safe_display_name(given) == shown


@pytest.mark.parametrize(("original", "extension", "downloaded"), [
    ("x.html", "pdf", "x.pdf"),  # a PDF named x.html downloads as a PDF
    ("план участка.pdf", "pdf", "план участка.pdf"),
    ("scan\u202egnp.pdf", "png", "scangnp.png"),
    ("no-extension", "jpg", "no-extension.jpg"),
    ("..", "pdf", "file.pdf"),
])
def test_downloads_carry_the_extension_of_the_sniffed_type(original, extension, downloaded):
    assert UploadedFile(original_name=original, extension=extension).download_name == downloaded


@pytest.mark.django_db
def test_media_in_debug_only_for_the_sites_own_tenant(tenant_a, tenant_b, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    (tmp_path / tenant_b.schema_name).mkdir()
    (tmp_path / tenant_b.schema_name / "plan.txt").write_text("south only")
    request = RequestFactory().get("/media/x/plan.txt")
    with tenant_context(tenant_b):
        response = tenant_media(request, tenant_b.schema_name, "plan.txt")
        assert b"".join(response.streaming_content) == b"south only"
    with tenant_context(tenant_a), pytest.raises(Http404):
        tenant_media(request, tenant_b.schema_name, "plan.txt")
