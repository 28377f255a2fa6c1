"""The models of online services (tenant schema), one module per concept; Django loads an
app's models from here.

- services/forms/models.py: OnlineService (the online form of a service page, a child of
  cms.ServicePage), FormVersion, ServicesSettings
- services/applications/models.py: ApplicationDraft, UploadedFile, TrackingCode, Payment
- services/cases/models.py: Case, CaseEvent, CaseNote, AutomatedDecision
- services/workflows/models.py: Workflow, WorkflowVersion
- services/registers/models.py: Register, RegisterRecord
- services/letters/models.py: DecisionLetterTemplate
"""

from .applications.models import ApplicationDraft, Payment, TrackingCode, UploadedFile
from .cases.models import AutomatedDecision, Case, CaseEvent, CaseNote
from .forms.models import FormVersion, OnlineService, ServicesSettings
from .letters.models import DecisionLetterTemplate
from .registers.models import Register, RegisterRecord
from .workflows.models import Workflow, WorkflowVersion

__all__ = ["ApplicationDraft", "AutomatedDecision", "Case", "CaseEvent", "CaseNote",
           "DecisionLetterTemplate", "FormVersion", "OnlineService", "Payment", "Register",
           "RegisterRecord", "ServicesSettings", "TrackingCode", "UploadedFile", "Workflow",
           "WorkflowVersion"]
