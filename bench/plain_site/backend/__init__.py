"""The plain site's database backend: Django's PostgreSQL one, always in the public schema."""
