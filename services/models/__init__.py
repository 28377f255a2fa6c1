"""services models (tenant schema): online services and their form versions, drafts, cases,
uploaded files, case events, tracking codes and payments, registers rules read."""

from .cases import (  # noqa: F401
    ApplicationDraft,
    AutomatedDecision,
    Case,
    CaseEvent,
    CaseNote,
    Payment,
    TrackingCode,
    UploadedFile,
)
from .definitions import FormVersion, OnlineService, ServicesSettings  # noqa: F401
from .letters import DecisionLetterTemplate  # noqa: F401, E402
from .registers import Register, RegisterRecord  # noqa: F401
from .workflows import Workflow, WorkflowVersion  # noqa: F401
