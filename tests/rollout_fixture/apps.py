from django.apps import AppConfig


class RolloutFixtureConfig(AppConfig):
    name = "tests.rollout_fixture"
    label = "rollout_fixture"
    default_auto_field = "django.db.models.BigAutoField"
