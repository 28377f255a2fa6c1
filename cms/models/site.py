"""Site-wide content: alert banners, footer links, branding, page feedback (tenant schema)."""

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel, FieldRowPanel, MultiFieldPanel
from wagtail.contrib.settings.models import (
    BaseGenericSetting,
    BaseSiteSetting,
    register_setting,
)
from wagtail.models import Page, TranslatableMixin

from ..contrast import contrast_ratio

WHITE = "#ffffff"
MIN_CONTRAST = 4.5  # WCAG 2.2 SC 1.4.3, normal text


class AlertQuerySet(models.QuerySet):
    def active(self, now=None):
        """Banners shown at `now`: started (or without a start) and not ended."""
        now = now or timezone.now()
        return (self.not_ended(now)
                .filter(models.Q(starts_at__isnull=True) | models.Q(starts_at__lte=now)))

    def not_ended(self, now=None):
        """Banners shown at `now` or later: those not started yet included (the site's
        chrome keeps these, and picks the ones shown with AlertBanner.is_shown_at)."""
        now = now or timezone.now()
        return self.filter(models.Q(ends_at__isnull=True) | models.Q(ends_at__gt=now))


class AlertBanner(TranslatableMixin, models.Model):
    """A site-wide banner (e.g. an office closure, an emergency) shown between two times."""

    class Level(models.TextChoices):
        INFO = "info", _("Information")
        WARNING = "warning", _("Warning")
        EMERGENCY = "emergency", _("Emergency")

    title = models.CharField(max_length=120, verbose_name=_("title"))
    message = models.TextField(max_length=600, verbose_name=_("message"))
    level = models.CharField(max_length=10, choices=Level.choices, default=Level.INFO,
                             verbose_name=_("level"))
    link = models.URLField(blank=True, verbose_name=_("link"))
    starts_at = models.DateTimeField(null=True, blank=True, verbose_name=_("shown from"),
                                     help_text=_("Empty: from now."))
    ends_at = models.DateTimeField(null=True, blank=True, verbose_name=_("shown until"),
                                   help_text=_("Empty: until it is deleted."))

    objects = AlertQuerySet.as_manager()
    panels = [FieldPanel("title"), FieldPanel("message"), FieldPanel("level"), FieldPanel("link"),
              FieldRowPanel([FieldPanel("starts_at"), FieldPanel("ends_at")])]

    class Meta(TranslatableMixin.Meta):
        verbose_name = _("alert banner")
        verbose_name_plural = _("alert banners")
        ordering = ["-starts_at"]

    def __str__(self):
        return self.title

    def is_shown_at(self, now):
        """Whether the banner is shown at `now` (what AlertQuerySet.active selects)."""
        return ((self.starts_at is None or self.starts_at <= now)
                and (self.ends_at is None or self.ends_at > now))

    def clean(self):
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValidationError({"ends_at": _("The alert must end after it starts.")})


class FooterLink(TranslatableMixin, models.Model):
    """A link in the site footer."""

    title = models.CharField(max_length=80, verbose_name=_("title"))
    url = models.CharField(max_length=255, verbose_name=_("link"),
                           help_text=_("A full URL or a path such as /ru/contact/"))
    sort_order = models.PositiveSmallIntegerField(default=0, verbose_name=_("position"),
                                                  help_text=_("Lower numbers come first."))

    panels = [FieldPanel("title"), FieldPanel("url"), FieldPanel("sort_order")]

    class Meta(TranslatableMixin.Meta):
        verbose_name = _("footer link")
        verbose_name_plural = _("footer links")
        ordering = ["sort_order", "title"]

    def __str__(self):
        return self.title


hex_colour = RegexValidator(r"^#[0-9a-fA-F]{6}$", _("Use a colour like #1d4f91."))


@register_setting(icon="image")
class BrandingSettings(BaseSiteSetting):
    """The tenant's identity on its site: name, logo, coat of arms, colour, contacts."""

    site_name = models.CharField(max_length=120, blank=True, verbose_name=_("site name"),
                                 help_text=_("Defaults to the tenant's name."))
    logo = models.ForeignKey(
        "wagtailimages.Image", null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", verbose_name=_("logo"),
        help_text=_("Shown in the site header, after the coat of arms and before the site "
                    "name, at most 40 pixels high."))
    coat_of_arms = models.ForeignKey(
        "wagtailimages.Image", null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", verbose_name=_("coat of arms"),
        help_text=_("Shown first in the site header, at most 40 pixels high."))
    primary_colour = models.CharField(
        max_length=7, default="#1d4f91", validators=[hex_colour],
        verbose_name=_("primary colour"),
        help_text=_("Header and button colour. White text on it must reach a 4.5:1 contrast."))
    contact_email = models.EmailField(blank=True, verbose_name=_("contact e-mail"))
    contact_phone = models.CharField(max_length=32, blank=True, verbose_name=_("contact phone"))
    address = models.CharField(max_length=255, blank=True, verbose_name=_("address"))
    vk_url = models.URLField(blank=True, verbose_name="VK")
    telegram_url = models.URLField(blank=True, verbose_name="Telegram")
    ok_url = models.URLField(blank=True, verbose_name=_("Odnoklassniki"))

    panels = [
        FieldPanel("site_name"), FieldRowPanel([FieldPanel("logo"), FieldPanel("coat_of_arms")]),
        FieldPanel("primary_colour"),
        MultiFieldPanel([FieldPanel("contact_email"), FieldPanel("contact_phone"),
                         FieldPanel("address")], heading=_("Contact")),
        MultiFieldPanel([FieldPanel("vk_url"), FieldPanel("telegram_url"), FieldPanel("ok_url")],
                        heading=_("Social media")),
    ]

    #: Read with the branding (Wagtail's for_site/for_request), so that the copy kept in the
    #: tenant's cache (cms/chrome.py) shows both images without a query.
    select_related = ["logo", "coat_of_arms"]

    class Meta:
        verbose_name = _("branding")

    def clean(self):
        super().clean()
        colour = self.primary_colour or ""
        if len(colour) == 7 and colour.startswith("#"):
            try:
                ratio = contrast_ratio(colour, WHITE)
            except ValueError:
                return
            if ratio < MIN_CONTRAST:
                raise ValidationError({"primary_colour": _(
                    "White text on %(colour)s has a contrast of %(ratio).1f:1; WCAG AA needs "
                    "4.5:1. Choose a darker colour.") % {"colour": colour, "ratio": ratio}})

    @property
    def social_links(self):
        return [(name, url) for name, url in
                (("VK", self.vk_url), ("Telegram", self.telegram_url),
                 (_("Odnoklassniki"), self.ok_url)) if url]


class PageFeedback(models.Model):
    """An answer to "Was this page useful?", kept per tenant for the KPIs."""

    page = models.ForeignKey(Page, on_delete=models.CASCADE, related_name="+",
                             verbose_name=_("page"))
    useful = models.BooleanField(verbose_name=_("useful"))
    comment = models.TextField(max_length=1000, blank=True, verbose_name=_("comment"))
    language = models.CharField(max_length=8, blank=True, verbose_name=_("language"))
    created_at = models.DateTimeField(auto_now_add=True, db_index=True,
                                      verbose_name=_("created"))

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("page feedback")
        verbose_name_plural = _("page feedback")

    def __str__(self):
        return f"{'useful' if self.useful else 'not useful'}: {self.page_id}"


@register_setting(icon="lock")
class SecuritySettings(BaseGenericSetting):
    """How the tenant's staff sign in. Administrators always need a second factor
    (tenants/staffauth/policy.py); this can require it of every member of staff."""

    require_two_factor_for_staff = models.BooleanField(
        default=False, verbose_name=_("require two-factor authentication for all staff"),
        help_text=_("Every member of staff must add an authenticator app the next time they "
                    "open the admin. Administrators always must."))

    panels = [FieldPanel("require_two_factor_for_staff")]

    class Meta:
        verbose_name = _("sign-in security")
