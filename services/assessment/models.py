"""Assessment rounds and their answers, in the tenant's schema."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Round(models.Model):
    """One assessment of the tenant against one version of the model: opened, answered
    (manual indicators) and measured (automatic ones), submitted by one member of staff and
    approved by another administrator, or returned for changes. Every round is kept: the
    history compares them. Once approved, nothing in it changes (`frozen`)."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open for answers")
        SUBMITTED = "submitted", _("Submitted for approval")
        APPROVED = "approved", _("Approved")

    number = models.PositiveIntegerField(unique=True, verbose_name=_("number"))
    model_version = models.PositiveIntegerField(verbose_name=_("model version"))
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN,
                              verbose_name=_("status"))
    opened_at = models.DateTimeField(auto_now_add=True, verbose_name=_("opened"))
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                  on_delete=models.SET_NULL, related_name="+",
                                  verbose_name=_("opened by"))
    #: {indicator code: {"value": float | None, "level": int | None, "figures": {...}}}
    automatic = models.JSONField(default=dict, blank=True,
                                 verbose_name=_("automatic indicators"))
    measured_at = models.DateTimeField(null=True, blank=True, verbose_name=_("measured"))
    submitted_at = models.DateTimeField(null=True, blank=True, verbose_name=_("submitted"))
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                     on_delete=models.SET_NULL, related_name="+",
                                     verbose_name=_("submitted by"))
    approved_at = models.DateTimeField(null=True, blank=True, verbose_name=_("approved"))
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+",
                                    verbose_name=_("approved by"))
    #: The scores frozen at approval (scoring.Scores.as_json()); empty before.
    scores = models.JSONField(default=dict, blank=True, verbose_name=_("approved scores"))
    #: Why the approver returned the round last (kept until it is approved).
    return_note = models.TextField(blank=True, verbose_name=_("returned with note"))

    class Meta:
        ordering = ["-number"]
        verbose_name = _("assessment round")
        verbose_name_plural = _("assessment rounds")
        # At most one round open or submitted: a unique index on a constant, over those rows.
        constraints = [models.UniqueConstraint(
            models.Value(True), condition=~models.Q(status="approved"),
            name="assessment_one_round_in_progress")]

    def __str__(self) -> str:
        return f"assessment round {self.number}"

    @property
    def frozen(self) -> bool:
        return self.status == self.Status.APPROVED


class Answer(models.Model):
    """The answer to one manual indicator in one round: the level chosen, why, and where the
    evidence is. An unanswered indicator has no row, or a row without a level."""

    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="answers",
                              verbose_name=_("round"))
    indicator = models.CharField(max_length=64, verbose_name=_("indicator"))
    level = models.PositiveSmallIntegerField(null=True, blank=True, verbose_name=_("level"))
    justification = models.TextField(blank=True, verbose_name=_("justification"))
    #: http(s) addresses, one a line (validated by the questionnaire's form).
    evidence = models.JSONField(default=list, blank=True, verbose_name=_("evidence links"))
    answered_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+",
                                    verbose_name=_("answered by"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated"))

    class Meta:
        ordering = ["round", "indicator"]
        verbose_name = _("assessment answer")
        verbose_name_plural = _("assessment answers")
        constraints = [
            models.UniqueConstraint(fields=["round", "indicator"],
                                    name="assessment_one_answer_per_indicator"),
            models.CheckConstraint(condition=models.Q(level__isnull=True)
                                   | models.Q(level__gte=1, level__lte=5),
                                   name="assessment_level_1_to_5"),
        ]

    def __str__(self) -> str:
        return f"{self.indicator} in round {self.round_id}"
