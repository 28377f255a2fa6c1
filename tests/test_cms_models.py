"""Validation rules of content models: refused input comes back as field errors."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone, translation
from django_tenants.utils import tenant_context

from cms.contrast import contrast_ratio
from cms.models import (
    AlertBanner,
    BrandingSettings,
    OfficePage,
    OpeningException,
    OpeningHours,
    ServiceChannel,
    ServicePage,
)

pytestmark = pytest.mark.django_db


def test_contrast_ratio_matches_wcag_reference_values():
    assert contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast_ratio("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
    assert contrast_ratio("#1d4f91", "#ffffff") > 4.5


@pytest.mark.parametrize(("colour", "error"), [
    ("#ffdd00", "contrast of 1.3:1"),  # yellow under white text
    ("#777777", "contrast of 4.5:1"),  # 4.48: just below AA, shown rounded
    ("#12345", "Use a colour like"),
    ("blue", "Use a colour like"),
])
def test_branding_refuses_colours_without_aa_contrast(tenant_a, colour, error):
    with tenant_context(tenant_a), translation.override("en"):
        branding = BrandingSettings.objects.get()
        branding.primary_colour = colour
        with pytest.raises(ValidationError) as excinfo:
            branding.full_clean()
        messages = excinfo.value.message_dict["primary_colour"]
    assert any(error in m for m in messages), messages


def test_branding_accepts_a_dark_colour(tenant_a):
    with tenant_context(tenant_a):
        branding = BrandingSettings.objects.get()
        branding.primary_colour = "#0b3d2e"
        branding.full_clean()


def _service(**overrides):
    fields = {"title": "Услуга", "slug": "s", "summary": "Кратко", "who_can_apply": "<p>Все</p>",
              "legal_basis": "<p>Закон</p>", "processing_days": 5, "cost_kind": "free"}
    fields.update(overrides)
    return ServicePage(**fields)


@pytest.mark.parametrize(("overrides", "field", "message"), [
    ({"cost_kind": "fixed", "cost_amount": None}, "cost_amount", "Give the fee"),
    ({"cost_kind": "free", "cost_amount": Decimal("10")}, "cost_amount", "has no fee"),
    ({"processing_days": None, "processing_details": ""}, "processing_details", "how long"),
    ({"category": "astrology"}, "category", "Unknown categories code"),
    ({"life_events": ["birth", "time-travel"]}, "life_events", "time-travel"),
])
def test_service_page_rules(tenant_a, overrides, field, message):
    with tenant_context(tenant_a), translation.override("en"):
        with pytest.raises(ValidationError) as excinfo:
            _service(**overrides).clean()
        messages = [str(m) for m in excinfo.value.message_dict[field]]
    assert any(message in m for m in messages), messages


@pytest.mark.parametrize("missing", ["summary", "who_can_apply", "legal_basis"])
def test_service_page_required_fields(tenant_a, missing):
    with tenant_context(tenant_a):
        page = _service(**{missing: ""})
        with pytest.raises(ValidationError) as excinfo:
            page.full_clean(exclude=["path", "depth", "url_path", "content_type", "locale",
                                     "translation_key", "draft_title"])
    assert missing in excinfo.value.message_dict


def test_service_page_accepts_register_codes(tenant_a):
    with tenant_context(tenant_a):
        _service(category="social", life_events=["birth", "low-income"]).clean()


@pytest.mark.parametrize(("kind", "field"), [("phone", "phone"), ("post", "address")])
def test_channel_needs_its_contact_detail(kind, field):
    with pytest.raises(ValidationError) as excinfo:
        ServiceChannel(kind=kind, details="x").clean()
    assert field in excinfo.value.message_dict
    ServiceChannel(kind="online", details="x").clean()


def test_alert_must_end_after_it_starts():
    now = timezone.now()
    with pytest.raises(ValidationError) as excinfo:
        AlertBanner(title="t", message="m", starts_at=now,
                    ends_at=now - datetime.timedelta(hours=1)).clean()
    assert "ends_at" in excinfo.value.message_dict


def test_only_current_alerts_are_active(tenant_a):
    now = timezone.now()
    hour = datetime.timedelta(hours=1)
    with tenant_context(tenant_a):
        AlertBanner.objects.all().delete()
        from wagtail.models import Locale

        ru = Locale.objects.get(language_code="ru")
        current = AlertBanner.objects.create(title="now", message="m", locale=ru,
                                             starts_at=now - hour, ends_at=now + hour)
        AlertBanner.objects.create(title="past", message="m", locale=ru,
                                   starts_at=now - 2 * hour, ends_at=now - hour)
        AlertBanner.objects.create(title="future", message="m", locale=ru,
                                   starts_at=now + hour)
        open_ended = AlertBanner.objects.create(title="open", message="m", locale=ru)
        assert set(AlertBanner.objects.active()) == {current, open_ended}


def test_office_rules():
    with pytest.raises(ValidationError):
        OfficePage(title="o", address="a", latitude=Decimal("55.7")).clean()
    with pytest.raises(ValidationError):
        OfficePage(title="o", address="a", latitude=Decimal("95"), longitude=Decimal("1")).clean()
    with pytest.raises(ValidationError) as excinfo:
        OpeningHours(weekday=0, opens=datetime.time(18), closes=datetime.time(9)).clean()
    assert "closes" in excinfo.value.message_dict
    with pytest.raises(ValidationError):
        OpeningException(date=datetime.date.today(), closed=False).clean()
    OpeningException(date=datetime.date.today(), closed=True).clean()


def test_validation_messages_speak_the_editors_language(tenant_a):
    with tenant_context(tenant_a), translation.override("ru"):
        branding = BrandingSettings.objects.get()
        branding.primary_colour = "#ffdd00"
        with pytest.raises(ValidationError) as excinfo:
            branding.full_clean()
    assert "Выберите более тёмный цвет" in excinfo.value.message_dict["primary_colour"][0]


def test_register_fields_offer_the_live_register_in_the_editors_language(tenant_a):
    with tenant_context(tenant_a), translation.override("en"):
        events = dict(ServicePage._meta.get_field("life_events").formfield().choices)
        categories = list(ServicePage._meta.get_field("category").formfield().choices)
    assert events["birth"] == "Having a baby" and "start-business" in events
    assert categories[0] == ("", "---------")
    assert ("social", "Social support") in categories
