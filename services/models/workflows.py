"""Case workflows editors define per service, frozen in versions like forms."""

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils.translation import gettext_lazy as _

from .. import workflowspec


class Workflow(models.Model):
    """A named workflow (states and transitions) that services use; each saved change makes a
    new WorkflowVersion and cases keep the version they started with."""

    name = models.CharField(max_length=120, unique=True)
    definition = models.JSONField(default=workflowspec.default_definition)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("case workflow")
        verbose_name_plural = _("case workflows")
        ordering = ["name"]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        with transaction.atomic():
            super().save(*args, **kwargs)
            self.current_version()

    def clean(self):
        try:
            workflowspec.validate(self.definition)
        except ValidationError as exc:
            raise ValidationError({"definition": exc.messages}) from exc

    def current_version(self):
        latest = self.versions.order_by("-number").first()
        if latest is None or latest.definition != self.definition:
            latest = WorkflowVersion.objects.create(
                workflow=self, number=(latest.number + 1) if latest else 1,
                definition=self.definition)
        return latest

    @classmethod
    def default(cls):
        workflow = cls.objects.filter(name=DEFAULT_NAME).first()
        if workflow is None:
            workflow = cls.objects.create(name=DEFAULT_NAME, definition=workflowspec.DEFAULT)
        return workflow


DEFAULT_NAME = "Standard"


class WorkflowVersion(models.Model):
    """One frozen workflow definition; cases point at the version they started with."""

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    definition = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workflow", "number"],
                                               name="workflow_version_unique")]

    def __str__(self):
        return f"{self.workflow} v{self.number}"
