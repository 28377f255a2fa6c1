"""Page types of a tenant's content site (tenant schema): structured fields, not one blob."""

import datetime

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from modelcluster.fields import ParentalKey, ParentalManyToManyField
from wagtail import blocks
from wagtail.admin.panels import (
    FieldPanel,
    FieldRowPanel,
    HelpPanel,
    MultiFieldPanel,
    ObjectList,
    TabbedInterface,
)
from wagtail.api import APIField
from wagtail.fields import RichTextField, StreamField
from wagtail.models import Orderable, Page
from wagtail.search import index

from tenants import registers

from ..fields import RegisterCodeField, RegisterCodesField
from ..forms import ONLINE_FORM, ServicePageForm
from ..panels import InlinePanel


def shown(compute):
    """A context value computed when the template shows it, not at all when the page's
    content comes from the tenant's cache (cms/page_cache.py): querysets of other pages
    (`.public()` reads every view restriction at once) and register names."""
    return SimpleLazyObject(compute)


CONTENT_BLOCKS = [
    ("heading", blocks.CharBlock(form_classname="title", label=_("Heading"))),
    ("paragraph", blocks.RichTextBlock(features=["bold", "italic", "link", "ol", "ul"],
                                       label=_("Paragraph"))),
    ("inset", blocks.TextBlock(label=_("Inset text"))),
    ("warning", blocks.TextBlock(label=_("Warning"))),
]


class HomePage(Page):
    """The tenant site's front page: top tasks, life events, latest news (alerts come from the
    alert banner snippet)."""

    intro = models.TextField(blank=True, verbose_name=_("introduction"),
                             help_text=_("One or two sentences under the site name."))
    top_tasks = StreamField([("task", blocks.PageChooserBlock(label=_("Page")))], blank=True,
                            verbose_name=_("top tasks"),
                            help_text=_("The pages people come for most; up to 8."))

    content_panels = [*Page.content_panels, FieldPanel("intro"), FieldPanel("top_tasks")]
    search_fields = [*Page.search_fields, index.SearchField("intro")]
    max_count_per_parent = 1
    subpage_types = ["cms.ServiceIndexPage", "cms.GuidePage", "cms.StepByStepPage",
                     "cms.NewsIndexPage", "cms.OfficeIndexPage", "cms.StandardPage"]

    class Meta:
        verbose_name = _("home page")

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        context["top_tasks"] = shown(self.shown_tasks)
        context["latest_news"] = shown(lambda: list(
            NewsPage.objects.live().public().descendant_of(self).order_by("-date")[:3]))
        context["service_index"] = shown(
            lambda: ServiceIndexPage.objects.live().descendant_of(self).first())
        context["life_events"] = shown(self.used_life_events)
        return context

    def shown_tasks(self):
        """The top tasks chosen (live ones, up to 8), else the first six services by title."""
        tasks = [block.value.specific for block in self.top_tasks if block.value and
                 block.value.live][:8]
        return tasks or list(ServicePage.objects.live().public().descendant_of(self)
                             .filter(locale=self.locale).order_by("title")[:6])

    def used_life_events(self):
        """(code, name) of the life events the site's live services are filed under."""
        used = set()
        for codes in (ServicePage.objects.live().descendant_of(self)
                      .values_list("life_events", flat=True)):
            used.update(codes or [])
        language = self.locale.language_code
        return [(code, name) for code, name in registers.choices("life_events", language)
                if code in used]


class StandardPage(Page):
    """A plain content page: contact, accessibility statement, privacy notice."""

    summary = models.TextField(blank=True, verbose_name=_("summary"),
                               help_text=_("Shown in lists and search results."))
    body = RichTextField(blank=True, verbose_name=_("text"))

    content_panels = [*Page.content_panels, FieldPanel("summary"), FieldPanel("body")]
    search_fields = [*Page.search_fields, index.SearchField("summary"), index.SearchField("body")]
    api_fields = [APIField("summary"), APIField("body")]
    subpage_types = ["cms.StandardPage"]

    class Meta:
        verbose_name = _("standard page")


class ServiceIndexPage(Page):
    """The service catalogue: every service, by category, filterable by life event."""

    intro = models.TextField(blank=True, verbose_name=_("introduction"))

    content_panels = [*Page.content_panels, FieldPanel("intro")]
    subpage_types = ["cms.ServicePage"]
    max_count_per_parent = 1

    class Meta:
        verbose_name = _("service catalogue")

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        language = self.locale.language_code
        life_event = None
        if code := request.GET.get("life_event", ""):  # a query string: never cached
            events = dict(registers.choices("life_events", language))
            if code in events:
                life_event = context["life_event"] = (code, events[code])
        listing = shown(lambda: self.listing(language, life_event))
        context["groups"] = shown(lambda: listing[0])
        context["service_count"] = shown(lambda: listing[1])
        return context

    def listing(self, language, life_event=None):
        """(category name, its live public services by title) by category name, and how many
        services that is; only those filed under `life_event` (code, name) if given."""
        services = ServicePage.objects.child_of(self).live().public().order_by("title")
        if life_event:
            services = services.filter(life_events__contains=[life_event[0]])
        categories = dict(registers.choices("categories", language))
        groups: dict[str, list] = {}
        for service in services:
            groups.setdefault(categories.get(service.category, _("Other services")),
                              []).append(service)
        return sorted(groups.items(), key=lambda item: str(item[0])), len(services)


class ServicePage(Page):
    """One public service: who can apply, what you need, cost, time, legal basis, channels,
    and how to apply online: its own online form (the "Online application" tab, a child row
    the services app defines, `online_services`) or, for a service another website handles,
    that website's address (`apply_url`), never both (cms/forms.py)."""

    class Cost(models.TextChoices):
        FREE = "free", _("Free")
        FIXED = "fixed", _("Fixed fee")
        VARIES = "varies", _("Depends on the case")

    summary = models.TextField(verbose_name=_("summary"),
                               help_text=_("What the service is for, in one or two sentences."))
    who_can_apply = RichTextField(features=["bold", "link", "ul"], verbose_name=_("who can apply"))
    documents = StreamField([
        ("document", blocks.StructBlock([
            ("name", blocks.CharBlock(label=_("Document"))),
            ("note", blocks.CharBlock(required=False, label=_("Note"))),
            ("original", blocks.BooleanBlock(required=False, label=_("Original required"))),
        ], icon="doc-full", label=_("Document"))),
    ], blank=True, verbose_name=_("what you need"))
    cost_kind = models.CharField(max_length=8, choices=Cost.choices, default=Cost.FREE,
                                 verbose_name=_("cost"))
    cost_amount = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True,
                                      verbose_name=_("fee (RUB)"))
    cost_details = models.CharField(max_length=255, blank=True, verbose_name=_("cost details"))
    processing_days = models.PositiveSmallIntegerField(
        null=True, blank=True, verbose_name=_("working days to decide"))
    processing_details = models.CharField(max_length=255, blank=True,
                                          verbose_name=_("how long it takes"))
    legal_basis = RichTextField(features=["link", "ul"], verbose_name=_("legal basis"))
    category = RegisterCodeField("categories", blank=True, verbose_name=_("category"))
    life_events = RegisterCodesField("life_events", verbose_name=_("life events"))
    apply_url = models.URLField(blank=True, verbose_name=_("apply online at"),
                                help_text=_("Shows an 'Apply online' button."))

    content_panels = [
        *Page.content_panels,
        FieldPanel("summary"),
        FieldPanel("who_can_apply"),
        FieldPanel("documents"),
        MultiFieldPanel([FieldPanel("cost_kind"), FieldRowPanel([FieldPanel("cost_amount"),
                                                                FieldPanel("cost_details")])],
                        heading=_("Cost")),
        MultiFieldPanel([FieldPanel("processing_days"), FieldPanel("processing_details")],
                        heading=_("How long it takes")),
        FieldPanel("legal_basis"),
        InlinePanel("channels", min_num=1, label=_("Channels")),
        MultiFieldPanel([FieldPanel("category"), FieldPanel("life_events")],
                        heading=_("Classification")),
    ]
    #: The online form is part of the page: drafted, previewed, moderated, scheduled,
    #: published and reverted with it.
    online_panels = [
        HelpPanel(_("People apply here with an online form, or on another website: build the "
                    "form below, or give the other website's address, not both. The form you "
                    "publish is what applicants get; a draft changes nothing until it is "
                    "published.")),
        InlinePanel(ONLINE_FORM, max_num=1, label=_("Online form")),
        FieldPanel("apply_url", help_text=_(
            "Only for a service another website handles: the 'Apply online' button goes "
            "there.")),
    ]
    edit_handler = TabbedInterface([
        ObjectList(content_panels, heading=_("Content")),
        ObjectList(online_panels, heading=_("Online application")),
        ObjectList(Page.promote_panels, heading=_("Promote")),
        ObjectList(Page.settings_panels, heading=_("Settings")),
    ])
    base_form_class = ServicePageForm
    search_fields = [*Page.search_fields, index.SearchField("summary", boost=2),
                     index.SearchField("who_can_apply"), index.SearchField("cost_details"),
                     index.FilterField("category")]
    api_fields = [APIField(name) for name in (
        "summary", "who_can_apply", "documents", "cost_kind", "cost_amount", "cost_details",
        "processing_days", "processing_details", "legal_basis", "category", "life_events",
        "apply_url", "channels")]
    parent_page_types = ["cms.ServiceIndexPage"]
    subpage_types = []

    class Meta:
        verbose_name = _("service page")

    def clean(self):
        super().clean()
        errors = {}
        if self.cost_kind == self.Cost.FIXED and self.cost_amount is None:
            errors["cost_amount"] = _("Give the fee for a fixed-fee service.")
        if self.cost_kind == self.Cost.FREE and self.cost_amount:
            errors["cost_amount"] = _("A free service has no fee; clear it or change the cost.")
        if self.processing_days is None and not self.processing_details:
            errors["processing_details"] = _("Say how long it takes (days or a description).")
        if self.category:
            try:
                registers.validate_codes("categories", [self.category])
            except ValidationError as exc:
                errors["category"] = exc.messages
        try:
            registers.validate_codes("life_events", self.life_events)
        except ValidationError as exc:
            errors["life_events"] = exc.messages
        if errors:
            raise ValidationError(errors)

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        # Read when the template shows them: not at all when the page's content comes from
        # the tenant's cache (cms/page_cache.py).
        language = self.locale.language_code
        context["life_event_names"] = shown(
            lambda: registers.names("life_events", self.life_events, language))
        context["offices"] = shown(lambda: list(self.offices.live().public().order_by("title")))
        return context


class ServiceChannel(Orderable):
    """How to use a service: online, at an office, by phone or by post."""

    class Kind(models.TextChoices):
        ONLINE = "online", _("Online")
        OFFICE = "office", _("In person at an office")
        PHONE = "phone", _("By phone")
        POST = "post", _("By post")

    page = ParentalKey(ServicePage, on_delete=models.CASCADE, related_name="channels",
                       verbose_name=_("service page"))
    kind = models.CharField(max_length=8, choices=Kind.choices,
                            verbose_name=pgettext_lazy("service channel", "kind"))
    details = models.TextField(verbose_name=_("details"),
                               help_text=_("What to do through this channel."))
    url = models.URLField(blank=True, verbose_name=_("link"))
    phone = models.CharField(max_length=32, blank=True, verbose_name=_("phone"))
    address = models.CharField(max_length=255, blank=True, verbose_name=_("address"))

    panels = [FieldPanel("kind"), FieldPanel("details"),
              FieldRowPanel([FieldPanel("url"), FieldPanel("phone"), FieldPanel("address")])]
    api_fields = [APIField(name) for name in ("kind", "details", "url", "phone", "address")]

    class Meta(Orderable.Meta):
        verbose_name = _("service channel")
        verbose_name_plural = _("service channels")

    def clean(self):
        required = {self.Kind.PHONE: "phone", self.Kind.POST: "address"}
        field = required.get(self.kind)
        if field and not getattr(self, field):
            raise ValidationError({field: _("Required for this channel.")})


class GuidePage(Page):
    """A guide: explanatory content built from headings, paragraphs, insets and warnings."""

    summary = models.TextField(blank=True, verbose_name=_("summary"))
    body = StreamField(CONTENT_BLOCKS, verbose_name=_("text"))

    content_panels = [*Page.content_panels, FieldPanel("summary"), FieldPanel("body")]
    search_fields = [*Page.search_fields, index.SearchField("summary"), index.SearchField("body")]
    api_fields = [APIField("summary"), APIField("body")]
    subpage_types = []

    class Meta:
        verbose_name = _("guide")


class StepByStepPage(Page):
    """A step-by-step journey through several services (e.g. "Having a baby")."""

    summary = models.TextField(blank=True, verbose_name=_("summary"))

    content_panels = [*Page.content_panels, FieldPanel("summary"),
                      InlinePanel("steps", min_num=2, label=_("Steps"))]
    search_fields = [*Page.search_fields, index.SearchField("summary")]
    api_fields = [APIField("summary"), APIField("steps")]
    subpage_types = []

    class Meta:
        verbose_name = _("step-by-step")


class Step(Orderable):
    """One step of a step-by-step journey, optionally linking to the page that does it."""

    page = ParentalKey(StepByStepPage, on_delete=models.CASCADE, related_name="steps",
                       verbose_name=_("step-by-step"))
    title = models.CharField(max_length=255, verbose_name=_("title"))
    body = RichTextField(features=["bold", "link", "ul"], verbose_name=_("text"))
    link = models.ForeignKey(Page, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+", verbose_name=_("link"))

    panels = [FieldPanel("title"), FieldPanel("body"), FieldPanel("link")]
    api_fields = [APIField("title"), APIField("body"), APIField("link_id")]

    class Meta(Orderable.Meta):
        verbose_name = _("step")
        verbose_name_plural = _("steps")


class NewsIndexPage(Page):
    """The news list, newest first."""

    subpage_types = ["cms.NewsPage"]
    max_count_per_parent = 1

    class Meta:
        verbose_name = _("news index")

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        context["items"] = shown(lambda: list(
            NewsPage.objects.child_of(self).live().public().order_by("-date")[:50]))
        return context


class NewsPage(Page):
    """A news item."""

    date = models.DateField(default=datetime.date.today, verbose_name=_("date"))
    summary = models.TextField(verbose_name=_("summary"))
    body = RichTextField(verbose_name=_("text"))

    content_panels = [*Page.content_panels, FieldPanel("date"), FieldPanel("summary"),
                      FieldPanel("body")]
    search_fields = [*Page.search_fields, index.SearchField("summary"), index.SearchField("body"),
                     index.FilterField("date")]
    api_fields = [APIField("date"), APIField("summary"), APIField("body")]
    parent_page_types = ["cms.NewsIndexPage"]
    subpage_types = []

    class Meta:
        verbose_name = _("news item")


class OfficeIndexPage(Page):
    """All offices where people can get help in person."""

    subpage_types = ["cms.OfficePage"]
    max_count_per_parent = 1

    class Meta:
        verbose_name = _("office list")

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        context["offices"] = shown(lambda: list(
            OfficePage.objects.child_of(self).live().public().order_by("title")))
        return context


class OfficePage(Page):
    """An office: address, location, opening hours with exceptions, services, accessibility."""

    address = models.TextField(verbose_name=_("address"))
    latitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True,
                                   verbose_name=_("latitude"))
    longitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True,
                                    verbose_name=_("longitude"))
    phone = models.CharField(max_length=32, blank=True, verbose_name=_("phone"))
    email = models.EmailField(blank=True, verbose_name=_("e-mail"))
    accessibility = models.TextField(
        blank=True, verbose_name=_("accessibility"),
        help_text=_("Step-free access, hearing loop, parking, toilets..."))
    services = ParentalManyToManyField(ServicePage, blank=True, related_name="offices",
                                       verbose_name=_("services"))

    content_panels = [
        *Page.content_panels, FieldPanel("address"),
        FieldRowPanel([FieldPanel("latitude"), FieldPanel("longitude")]),
        FieldRowPanel([FieldPanel("phone"), FieldPanel("email")]),
        InlinePanel("hours", label=_("Opening hours")),
        InlinePanel("exceptions", label=_("Exceptions (holidays, closures)")),
        FieldPanel("services"), FieldPanel("accessibility"),
    ]
    search_fields = [*Page.search_fields, index.SearchField("address")]
    api_fields = [APIField(name) for name in (
        "address", "latitude", "longitude", "phone", "email", "accessibility", "hours",
        "exceptions")]
    parent_page_types = ["cms.OfficeIndexPage"]
    subpage_types = []
    #: What the page shows depends on the day (its closures of the next 60 days): its kept
    #: content is the day's (cms/page_cache.py); other pages' is kept across days.
    content_by_day = True

    class Meta:
        verbose_name = _("office")

    def clean(self):
        super().clean()
        if (self.latitude is None) != (self.longitude is None):
            raise ValidationError({"longitude": _("Give both latitude and longitude, or none.")})
        if self.latitude is not None and not -90 <= self.latitude <= 90:
            raise ValidationError({"latitude": _("Latitude is between -90 and 90.")})
        if self.longitude is not None and not -180 <= self.longitude <= 180:
            raise ValidationError({"longitude": _("Longitude is between -180 and 180.")})

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        today = datetime.date.today()  # the kept content is the day's (content_by_day)
        context["upcoming_exceptions"] = shown(lambda: list(self.exceptions.filter(
            date__gte=today, date__lte=today + datetime.timedelta(days=60)).order_by("date")))
        context["live_services"] = shown(
            lambda: list(self.services.live().public().order_by("title")))
        return context


class Weekday(models.IntegerChoices):
    MONDAY = 0, _("Monday")
    TUESDAY = 1, _("Tuesday")
    WEDNESDAY = 2, _("Wednesday")
    THURSDAY = 3, _("Thursday")
    FRIDAY = 4, _("Friday")
    SATURDAY = 5, _("Saturday")
    SUNDAY = 6, _("Sunday")


def _check_times(opens, closes):
    if opens and closes and closes <= opens:
        raise ValidationError({"closes": _("Closing time must be after opening time.")})


class OpeningHours(Orderable):
    """When an office is open on one day of the week."""

    page = ParentalKey(OfficePage, on_delete=models.CASCADE, related_name="hours",
                       verbose_name=_("office"))
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices,
                                               verbose_name=_("day of the week"))
    opens = models.TimeField(verbose_name=_("opens"))
    closes = models.TimeField(verbose_name=_("closes"))

    panels = [FieldRowPanel([FieldPanel("weekday"), FieldPanel("opens"), FieldPanel("closes")])]
    api_fields = [APIField(name) for name in ("weekday", "opens", "closes")]

    class Meta(Orderable.Meta):
        verbose_name = _("opening hours")
        verbose_name_plural = _("opening hours")

    def clean(self):
        _check_times(self.opens, self.closes)


class OpeningException(Orderable):
    """A day an office keeps other hours or stays closed (a holiday, a closure)."""

    page = ParentalKey(OfficePage, on_delete=models.CASCADE, related_name="exceptions",
                       verbose_name=_("office"))
    date = models.DateField(verbose_name=_("date"))
    closed = models.BooleanField(default=True, verbose_name=_("closed all day"))
    opens = models.TimeField(null=True, blank=True, verbose_name=_("opens"))
    closes = models.TimeField(null=True, blank=True, verbose_name=_("closes"))
    note = models.CharField(max_length=255, blank=True, verbose_name=_("note"))

    panels = [FieldRowPanel([FieldPanel("date"), FieldPanel("closed")]),
              FieldRowPanel([FieldPanel("opens"), FieldPanel("closes")]), FieldPanel("note")]
    api_fields = [APIField(name) for name in ("date", "closed", "opens", "closes", "note")]

    class Meta(Orderable.Meta):
        verbose_name = _("day with other hours")
        verbose_name_plural = _("days with other hours")

    def clean(self):
        if not self.closed and not (self.opens and self.closes):
            raise ValidationError({"opens": _("Give the hours, or mark the day closed.")})
        _check_times(self.opens, self.closes)
