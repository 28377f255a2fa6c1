"""The database backend of the `default` connection: django-tenants' own, plus connection
recycling by schemas visited (see base.py)."""
