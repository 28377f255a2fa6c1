"""Digital services (tenant schema, one Django app `services`), one sub-package per concept:

- forms/         what a service asks: OnlineService, the form spec and its builder blocks
- applications/  what citizens do: drafts, uploads, submission, tracking, payments, clean-up
- cases/         what staff and rules do: the case engine, inbox, deadlines, retention
- workflows/     the states and steps of a case, edited in the admin, frozen in versions
- rules/         automatic decisions (JSON Logic)
- registers/     authoritative lists services look applicants up in
- letters/       decision letters
- notifications/ e-mail and SMS through an outbox (its own app, label `notifications`)

Each sub-package's __init__ states its public face; models.py gathers the models for Django
and tasks.py the Celery tasks; versioning.py is the frozen-version model forms and workflows
share. Lower layers never import higher ones: a workflow or register asks the checks that
online services register with it (`change_checks`), the case engine sends `case_decided`
for letters (tests/test_architecture.py keeps the import graph free of cycles).
"""
