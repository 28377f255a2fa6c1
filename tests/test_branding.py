"""Branding a citizen sees (issue 12): the logo saved in the branding settings is shown in the
site header, after the coat of arms and before the site name, inside the link home; the
images are decorative there (alt="") because the name that follows is the link's text."""

import io
import re

import pytest
from django.core.files.images import ImageFile
from django.db import connection
from django_tenants.utils import tenant_context
from PIL import Image as PILImage
from wagtail.images.models import Image
from wagtail.models import Site

from cms.models import BrandingSettings

pytestmark = pytest.mark.django_db
NORTH = {"HTTP_HOST": "north.localhost"}


def png(name, size=(120, 80)):
    buffer = io.BytesIO()
    PILImage.new("RGB", size, (29, 79, 145)).save(buffer, "PNG")
    return ImageFile(buffer, name=name)


def header_link(client, path="/ru/"):
    body = client.get(path, **NORTH).content.decode()
    header = re.search(r'<header class="govuk-header".*?</header>', body, re.S).group(0)
    return re.search(r'<a href="/ru/" class="govuk-header__link[^"]*">(.*?)</a>',
                     header, re.S).group(1)


def test_the_header_shows_the_coat_of_arms_then_the_logo_then_the_name(client, tenant_a):
    with tenant_context(tenant_a):
        branding = BrandingSettings.for_site(Site.objects.get(is_default_site=True))
        branding.coat_of_arms = Image.objects.create(title="Герб", file=png("gerb.png"))
        branding.logo = Image.objects.create(title="Логотип", file=png("logo.png", (300, 80)))
        branding.save()
    connection.set_schema_to_public()
    for path in ("/ru/", "/ru/services/", "/ru/track/"):  # content and service pages alike
        link = header_link(client, path)
        images = re.findall(r"<img [^>]*>", link)
        assert len(images) == 2, link
        coat_of_arms, logo = images
        assert "dgbox-coat-of-arms" in coat_of_arms and "dgbox-logo" not in coat_of_arms
        assert "dgbox-logo" in logo and "logo" in re.search(r'src="([^"]+)"', logo).group(1)
        assert all('alt=""' in image for image in images)
        assert link.index(coat_of_arms) < link.index(logo) < link.index("Северная область")


def test_without_images_the_header_is_the_name_alone(client, tenant_a):
    link = header_link(client)
    assert "<img" not in link and "Северная область" in link
