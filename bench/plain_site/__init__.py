"""A plain single-site Wagtail with dgbox's page types: the baseline of bench/serve.py."""
