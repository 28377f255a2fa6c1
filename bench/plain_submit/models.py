"""The baseline's one table (created with `migrate --run-syncdb`: the app has no migrations)."""

from django.db import models


class Application(models.Model):
    """A submitted application: its answers and the applicant's contact details."""

    answers = models.JSONField()
    applicant_name = models.CharField(max_length=200)
    applicant_email = models.EmailField(blank=True)
    applicant_phone = models.CharField(max_length=24, blank=True)
    submitted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "plain_submit"

    def __str__(self):
        return f"Application {self.pk}"
