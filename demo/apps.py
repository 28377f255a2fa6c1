from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Demo content and the `dgbox demo` command (dev and test settings only)."""

    name = "demo"
    verbose_name = "Demo"
