"""Case workflows editors define per service, frozen in versions like forms."""

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils.translation import gettext_lazy as _
from wagtail.fields import StreamField

from ..versioning import FrozenVersion
from . import blocks as workflow_blocks
from . import spec as workflowspec

#: Checks run before a workflow's new definition is saved, each (workflow, definition) ->
#: [problems]: what the change would break in the layers above (services/forms adds one for
#: the automatic rules of the services on the workflow).
change_checks = []


class Workflow(models.Model):
    """A named workflow (states and transitions) that services use; each saved change makes a
    new WorkflowVersion and cases keep the version they started with.

    Editors build it from blocks (`states`, `transitions`); `definition` is what the blocks
    say, the one thing the engine and the versions read. clean() derives and checks it from
    the blocks. save() keeps the two in step for code that sets `definition` directly (older
    rows, tests, `default()`): whichever side changed since the last version wins.
    """

    name = models.CharField(max_length=120, unique=True, verbose_name=_("name"))
    states = StreamField(
        workflow_blocks.state_blocks(), verbose_name=_("states"),
        help_text=_("Where a case can be. Tick where new cases start and which states end "
                    "the case."))
    transitions = StreamField(
        workflow_blocks.transition_blocks(), blank=True, verbose_name=_("steps"),
        help_text=_("What staff (or the applicant) can do, from which states, to which state."))
    definition = models.JSONField(default=workflowspec.default_definition, editable=False,
                                  verbose_name=_("definition"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated"))

    class Meta:
        verbose_name = _("case workflow")
        verbose_name_plural = _("case workflows")
        ordering = ["name"]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        changed = self.sync_blocks()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and changed:
            kwargs["update_fields"] = {*update_fields, *changed}
        with transaction.atomic():
            super().save(*args, **kwargs)
            self.current_version()

    def clean(self):
        super().clean()
        definition = workflow_blocks.definition_from_stream(self.states, self.transitions)
        problems = workflow_blocks.stream_problems(self.states)
        try:
            workflowspec.validate(definition)
        except ValidationError as exc:
            problems += exc.messages
        if not problems:
            for check in change_checks:
                problems += check(self, definition)
        if problems:
            # Not tied to one field: a problem is often between a step and a state.
            raise ValidationError(problems)
        self.definition = definition

    def fill_blocks(self):
        """Set the blocks from `definition` (so the editor opens on what the engine runs)."""
        data = workflow_blocks.stream_data_from_definition(self.definition)
        self.states, self.transitions = data["states"], data["transitions"]

    def sync_blocks(self):
        """Make the blocks and `definition` agree; returns the names of the fields changed."""
        has_blocks = len(self.states) > 0
        derived = (workflow_blocks.definition_from_stream(self.states, self.transitions)
                   if has_blocks else None)
        if derived is not None and derived == workflow_blocks.normalise(self.definition):
            return ()
        saved = None
        if not self._state.adding:
            latest = self.versions.order_by("-number").values_list("definition", flat=True)
            saved = latest.first()
        if derived is not None and (saved is None or derived != workflow_blocks.normalise(saved)):
            self.definition = derived  # the blocks changed: they are what the editor meant
            return ("definition",)
        self.fill_blocks()  # the definition was set directly, or there are no blocks yet
        return ("states", "transitions")

    def current_version(self):
        return WorkflowVersion.current(self, self.definition)

    @classmethod
    def default(cls):
        workflow = cls.objects.filter(name=DEFAULT_NAME).first()
        if workflow is None:
            workflow = cls.objects.create(name=DEFAULT_NAME, definition=workflowspec.DEFAULT)
        return workflow


DEFAULT_NAME = "Standard"


class WorkflowVersion(FrozenVersion):
    """One frozen workflow definition; cases point at the version they started with."""

    owner_field, content_field = "workflow", "definition"

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="versions",
                                 verbose_name=_("case workflow"))
    definition = models.JSONField(verbose_name=_("definition"))

    class Meta:
        verbose_name = _("workflow version")
        verbose_name_plural = _("workflow versions")
        constraints = [models.UniqueConstraint(fields=["workflow", "number"],
                                               name="workflow_version_unique")]
