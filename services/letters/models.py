"""Decision letters: per-tenant templates the decision letter of a case is made from."""

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from ..notifications.placeholders import PlaceholderError, parse

#: Placeholders a letter may use.
LETTER_PLACEHOLDERS = ("reference", "service", "applicant_name", "decision", "reason", "date",
                       "tenant_name")


class DecisionLetterTemplate(models.Model):
    """The text of decision letters for one outcome (approved, refused) in one language.
    `{placeholders}` as in notification templates; a tenant without one uses the default."""

    class Outcome(models.TextChoices):
        APPROVED = "approved", _("Approved")
        REFUSED = "refused", _("Refused")

    outcome = models.CharField(max_length=16, choices=Outcome.choices,
                               verbose_name=_("decision"))
    language = models.CharField(max_length=8, choices=[("ru", "Русский"), ("en", "English")],
                                verbose_name=_("language"))
    title = models.CharField(max_length=200, verbose_name=_("title"))
    body = models.TextField(verbose_name=_("text"),
                            help_text=_("Placeholders: {reference}, {service}, "
                                        "{applicant_name}, {decision}, {reason}, {date}, "
                                        "{tenant_name}."))

    class Meta:
        verbose_name = _("decision letter template")
        verbose_name_plural = _("decision letter templates")
        constraints = [models.UniqueConstraint(fields=["outcome", "language"],
                                               name="one_letter_per_outcome_language")]

    def __str__(self):
        return f"{self.get_outcome_display()} ({self.language})"

    def clean(self):
        try:
            names = {name for _literal, name in parse(self.body) if name}
        except PlaceholderError as exc:
            raise ValidationError({"body": str(exc)}) from exc
        unknown = names - set(LETTER_PLACEHOLDERS)
        if unknown:
            raise ValidationError({"body": _("Unknown placeholders: %(names)s.")
                                   % {"names": ", ".join(sorted(unknown))}})
