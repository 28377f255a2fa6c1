"""services models (tenant schema): online services and their form versions, drafts, cases,
uploaded files, case events, tracking codes and payments."""

from .cases import (  # noqa: F401
    ApplicationDraft,
    Case,
    CaseEvent,
    Payment,
    TrackingCode,
    UploadedFile,
)
from .definitions import FormVersion, OnlineService, ServicesSettings  # noqa: F401
