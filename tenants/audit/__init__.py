"""The audit trail (app label `audit`): append-only events per schema, the tenant's in its
own schema and the platform's in `public`.

Public face: `service.record(kind, summary, ...)` with `models.Kind`; `service.keyed_hash()`
for personal data that must be matched but not read; `context.client_address(request)`;
`receivers.two_factor_added()` / `two_factor_removed()` for second-factor apps. The screens
(Wagtail admin, operator console) are in `views` and `wagtail_hooks`. See
docs/security.md#audit-trail.
"""
