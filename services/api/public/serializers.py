"""How the public endpoints show a service, an office and a news item. Register entries
(life events, categories) are given as the national registers' codes, the same in every
tenant and language; rich text is HTML with real addresses."""

from django.conf import settings
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from cms.models import ServiceChannel, ServicePage
from cms.models.pages import Weekday


class PageSerializer(serializers.Serializer):
    """What every public page has."""

    id = serializers.IntegerField(read_only=True, help_text=_("The page's number on this site."))
    locale = serializers.ChoiceField(choices=settings.LANGUAGES, source="locale.language_code",
                                     read_only=True, help_text=_("The page's language."))
    title = serializers.CharField(read_only=True)
    slug = serializers.CharField(read_only=True)
    url = serializers.SerializerMethodField(help_text=_("The page on the site, for people."))
    updated_at = serializers.DateTimeField(source="last_published_at", read_only=True,
                                           allow_null=True,
                                           help_text=_("When the page was last published."))

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, page) -> str:
        request = self.context["request"]
        return request.build_absolute_uri(page.get_url(request=request) or "/")


class DocumentSerializer(serializers.Serializer):
    name = serializers.CharField(help_text=_("A document the applicant needs."))
    note = serializers.CharField(allow_blank=True)
    original = serializers.BooleanField(help_text=_("The original is required, not a copy."))


class ChannelSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ServiceChannel.Kind.choices)
    details = serializers.CharField()
    url = serializers.CharField(allow_blank=True)
    phone = serializers.CharField(allow_blank=True)
    address = serializers.CharField(allow_blank=True)


class CostSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ServicePage.Cost.choices, source="cost_kind")
    amount = serializers.DecimalField(source="cost_amount", max_digits=10, decimal_places=2,
                                      allow_null=True, help_text=_("The fee in roubles."))
    currency = serializers.SerializerMethodField()
    details = serializers.CharField(source="cost_details", allow_blank=True)

    def get_currency(self, page) -> str:
        return "RUB"


class ProcessingSerializer(serializers.Serializer):
    working_days = serializers.IntegerField(source="processing_days", allow_null=True)
    details = serializers.CharField(source="processing_details", allow_blank=True)


@extend_schema_serializer(examples=[OpenApiExample(
    "Служба", response_only=True, value={
        "id": 42, "locale": "ru", "title": "Запись ребёнка в детский сад",
        "slug": "kindergarten-place", "url": "https://ryabinovka.example/ru/services/kindergarten-place/",
        "updated_at": "2026-11-30T09:15:00+03:00",
        "summary": "Поставьте ребёнка в очередь на место в детском саду.",
        "who_can_apply": "<p>Родители и законные представители.</p>",
        "documents": [{"name": "Свидетельство о рождении", "note": "", "original": True}],
        "cost": {"kind": "free", "amount": None, "currency": "RUB", "details": ""},
        "processing": {"working_days": 7, "details": ""},
        "legal_basis": "<p>Федеральный закон № 273-ФЗ.</p>",
        "category": "education", "life_events": ["birth", "school"],
        "channels": [{"kind": "online", "details": "Заявление на сайте.", "url": "",
                      "phone": "", "address": ""}],
        "online": True, "accepting_applications": True,
        "apply_url": "https://ryabinovka.example/ru/apply/kindergarten-place/"})])
class ServiceSerializer(PageSerializer):
    """A public service of this site: who can apply, what it costs and takes, how to apply."""

    summary = serializers.CharField(read_only=True)
    who_can_apply = serializers.CharField(source="who_can_apply_html", read_only=True,
                                          help_text=_("HTML."))
    documents = serializers.SerializerMethodField()
    cost = CostSerializer(source="*", read_only=True)
    processing = ProcessingSerializer(source="*", read_only=True)
    legal_basis = serializers.CharField(source="legal_basis_html", read_only=True,
                                        help_text=_("HTML."))
    category = serializers.CharField(read_only=True, allow_null=True, help_text=_(
        "A code of the national register of service categories, or null."))
    life_events = serializers.ListField(child=serializers.CharField(), read_only=True,
                                        help_text=_("Codes of the national register of life "
                                                    "events."))
    channels = ChannelSerializer(many=True, read_only=True)
    online = serializers.SerializerMethodField(help_text=_(
        "One can apply online: with this site's own form or on another website (apply_url)."))
    accepting_applications = serializers.SerializerMethodField(help_text=_(
        "The site's own form takes applications now; null when the service has none."))
    apply_url = serializers.SerializerMethodField(help_text=_(
        "Where to apply online, or null."))

    @extend_schema_field(DocumentSerializer(many=True))
    def get_documents(self, page):
        return [{"name": block["value"].get("name", ""), "note": block["value"].get("note") or "",
                 "original": bool(block["value"].get("original"))}
                for block in page.documents.raw_data if block.get("type") == "document"]

    def to_representation(self, page):
        data = super().to_representation(page)
        data["category"] = page.category or None
        return data

    def get_online(self, page) -> bool:
        return bool(page.has_online_form or page.apply_url)

    def get_accepting_applications(self, page) -> bool | None:
        return page.accepting_online if page.has_online_form else None

    @extend_schema_field({"type": ["string", "null"], "format": "uri"})
    def get_apply_url(self, page):
        if page.has_online_form:
            with translation.override(page.locale.language_code):
                path = reverse("services:apply", kwargs={"slug": page.slug})
            return self.context["request"].build_absolute_uri(path)
        return page.apply_url or None


@extend_schema_field({"type": "string", "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9]$",
                      "examples": ["09:00"]})
class LocalTime(serializers.TimeField):
    """A time of day on the office's local clock, HH:MM (JSON Schema's "time" format would
    demand a UTC offset, which opening hours do not have)."""

    def __init__(self, **kwargs):
        super().__init__(format="%H:%M", **kwargs)


class OpeningHoursSerializer(serializers.Serializer):
    weekday = serializers.ChoiceField(choices=Weekday.choices,
                                      help_text=_("0 is Monday, 6 is Sunday."))
    opens = LocalTime(help_text=_("Local time, HH:MM."))
    closes = LocalTime(help_text=_("Local time, HH:MM."))


class OpeningExceptionSerializer(serializers.Serializer):
    date = serializers.DateField()
    closed = serializers.BooleanField(help_text=_("Closed all day."))
    opens = LocalTime(allow_null=True, help_text=_("Local time, HH:MM; null when closed."))
    closes = LocalTime(allow_null=True, help_text=_("Local time, HH:MM; null when closed."))
    note = serializers.CharField(allow_blank=True)


@extend_schema_serializer(examples=[OpenApiExample(
    "Офис", response_only=True, value={
        "id": 57, "locale": "ru", "title": "МФЦ Северного района", "slug": "mfc-north",
        "url": "https://ryabinovka.example/ru/offices/mfc-north/",
        "updated_at": "2026-11-30T09:15:00+03:00", "address": "ул. Садовая, 15",
        "latitude": 61.78, "longitude": 34.35, "phone": "+7 800 100-00-00", "email": "",
        "accessibility": "Пандус, парковка для инвалидов.",
        "hours": [{"weekday": 0, "opens": "09:00", "closes": "18:00"}],
        "exceptions": [{"date": "2026-12-31", "closed": True, "opens": None, "closes": None,
                        "note": "Новый год"}],
        "services": [42]})])
class OfficeSerializer(PageSerializer):
    """An office where people get help in person, with its opening hours and the days it keeps
    other hours."""

    address = serializers.CharField(read_only=True)
    latitude = serializers.FloatField(read_only=True, allow_null=True)
    longitude = serializers.FloatField(read_only=True, allow_null=True)
    phone = serializers.CharField(read_only=True)
    email = serializers.CharField(read_only=True)
    accessibility = serializers.CharField(read_only=True)
    hours = OpeningHoursSerializer(many=True, read_only=True)
    exceptions = OpeningExceptionSerializer(many=True, read_only=True)
    services = serializers.SerializerMethodField(help_text=_(
        "Ids of the live public services offered here (/api/v1/services/{id})."))

    def get_services(self, page) -> list[int]:
        return [service.pk for service in page.services.all()]


@extend_schema_serializer(examples=[OpenApiExample(
    "Новость", response_only=True, value={
        "id": 73, "locale": "ru", "title": "Открыт новый детский сад на 220 мест",
        "slug": "new-kindergarten", "url": "https://ryabinovka.example/ru/news/new-kindergarten/",
        "updated_at": "2026-11-30T09:15:00+03:00", "date": "2026-11-30",
        "summary": "Записаться можно онлайн в любое время.",
        "body": "<p>Записаться можно онлайн в любое время.</p>"})])
class NewsSerializer(PageSerializer):
    """A news item of this site."""

    date = serializers.DateField(read_only=True)
    summary = serializers.CharField(read_only=True)
    body = serializers.CharField(source="body_html", read_only=True, help_text=_("HTML."))
