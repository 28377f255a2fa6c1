"""Case handling: a submitted application and everything staff and rules do with it.

Public face: `engine` (`start`, `take` a transition, `assign`, `add_note`, `apply_rules`;
TransitionError, ConflictError), `signals` (`case_decided`), `messages` (what the
applicant's messages about a case say), `query` (the inbox's reads), `sla` (working-day
deadlines), `escalation` (deadline flags and staff e-mails), `retention` (erasing personal
data), `metering` (usage figures), `models` (Case, CaseEvent, CaseNote, AutomatedDecision),
`tasks`; `inbox` is the staff screens in Wagtail's admin.
"""
