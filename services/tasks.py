"""The Celery tasks of online services, gathered here for Celery's autodiscovery (it imports
`<app>.tasks` of every installed app). Each concept keeps its own tasks beside its code:
services/applications/tasks.py, services/cases/tasks.py, services/letters/tasks.py; the
notifications app has its own (services/notifications/tasks.py)."""

from .applications.tasks import clean_up_personal_data
from .cases.tasks import apply_retention, escalate_deadlines
from .letters.tasks import issue_letter, issue_missing_letters

__all__ = ["apply_retention", "clean_up_personal_data", "escalate_deadlines", "issue_letter",
           "issue_missing_letters"]
