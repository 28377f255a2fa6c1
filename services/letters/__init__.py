"""Decision letters: made once per case and outcome when a case is approved or refused.

Public face: `service` (`issue_letter`, `render_letter`, `issue_missing_letters`), `models`
(DecisionLetterTemplate, per tenant), `tasks` (the Celery tasks and `on_decision`, the
receiver of services.cases.signals.case_decided); the letter's HTML is the template
services/templates/services/letters/decision.html.
"""
