"""Signing in as staff or operator: the second factor and the staff session's limits.

Used by both kinds of staff sign-in: the Wagtail admin of every tenant (cms registers its
pages) and the operator console on the base domain (tenants.console). Devices and sessions
live in the schema of the request: a tenant's staff in the tenant's schema, operators in the
public schema.

* `policy`: who must use a second factor (`requires_two_factor`, `register_requirement`);
* `devices`: enrolling an authenticator app (TOTP, django-otp), recovery codes, checking a
  code, removing a device; `two_factor_enrolled` / `two_factor_removed` are sent;
* `sessions`: a member of staff's own sessions (django-qsessions), ending them;
* `middleware`: the idle and absolute session limits, and the redirect to the second factor
  before any other page;
* `views`: the pages, for either surface (`surfaces`).
"""
