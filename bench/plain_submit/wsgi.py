"""WSGI entry of the plain-Django baseline (gunicorn bench.plain_submit.wsgi:application)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.plain_submit.settings")
application = get_wsgi_application()
