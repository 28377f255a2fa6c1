"""cms models: page types, snippets, branding and feedback (all in the tenant schema)."""

from .pages import (  # noqa: F401
    GuidePage,
    HomePage,
    NewsIndexPage,
    NewsPage,
    OfficeIndexPage,
    OfficePage,
    OpeningException,
    OpeningHours,
    ServiceChannel,
    ServiceIndexPage,
    ServicePage,
    StandardPage,
    Step,
    StepByStepPage,
)
from .site import (  # noqa: F401
    AlertBanner,
    BrandingSettings,
    FooterLink,
    PageFeedback,
    SecuritySettings,
)
