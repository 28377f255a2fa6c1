"""Settings of the stock django-tenants side of bench/serve.py.

dgbox's settings with one change: django-tenants' own `TenantMainMiddleware` (the library's
class, unmodified) routes requests in place of tenants.middleware.TenantMiddleware. So each
request looks its domain up, switches to public and back and empties Django's ContentType
cache, exactly as the library does. bench/serve.py checks that tenants.middleware (which
keeps content types per schema) is never imported in this process.
"""

from dgbox.settings.base import *  # noqa: F403
from dgbox.settings.base import MIDDLEWARE as _DGBOX_MIDDLEWARE

MIDDLEWARE = ["django_tenants.middleware.main.TenantMainMiddleware"
              if m == "tenants.middleware.TenantMiddleware" else m for m in _DGBOX_MIDDLEWARE]
