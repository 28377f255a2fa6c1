"""Cases: an application and its handling, from submission to decision, with its history,
notes and the automatic decisions taken on it."""

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import models
from django.db.models.functions import Upper
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from ..forms.models import FormVersion, OnlineService
from ..workflows import spec as workflowspec


class Channel(models.TextChoices):
    ONLINE = "online", _("Online")
    OFFICE = "office", _("At an office")
    PHONE = "phone", _("By phone")
    POST = "post", _("By post")


class CaseQuerySet(models.QuerySet):
    def by_reference(self, reference):
        return self.filter(reference=(reference or "").strip().upper()[:32])


class Case(models.Model):
    """One application and its handling, from submission to decision."""

    class Status(models.TextChoices):
        RECEIVED = "received", _("Received")
        IN_REVIEW = "in_review", _("Being reviewed")
        MORE_INFO = "more_info", _("We need more information from you")
        APPROVED = "approved", _("Approved")
        REFUSED = "refused", _("Refused")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    reference = models.CharField(max_length=32, unique=True, verbose_name=_("reference"))
    submission_key = models.UUIDField(unique=True, editable=False,
                                      verbose_name=_("submission key"))
    service = models.ForeignKey(OnlineService, on_delete=models.PROTECT, related_name="cases",
                                verbose_name=_("online service"))
    form_version = models.ForeignKey(FormVersion, on_delete=models.PROTECT, related_name="+",
                                     verbose_name=_("form version"))
    answers = models.JSONField(default=dict, verbose_name=_("answers"))
    applicant_name = models.CharField(max_length=200, verbose_name=_("applicant's name"))
    applicant_email = models.EmailField(blank=True, verbose_name=_("applicant's e-mail"))
    applicant_phone = models.CharField(max_length=24, blank=True,
                                       verbose_name=_("applicant's phone"))
    language = models.CharField(max_length=8, default=settings.LANGUAGE_CODE,
                                verbose_name=_("language"))
    channel = models.CharField(max_length=8, choices=Channel.choices, default=Channel.ONLINE,
                               db_index=True, verbose_name=_("received through"))
    entered_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+",
                                   verbose_name=_("entered by"),
                                   help_text=_("Staff member who entered it for the applicant."))
    status = models.CharField(max_length=40, default=Status.RECEIVED, db_index=True,
                              verbose_name=_("status"))
    workflow_version = models.ForeignKey("services.WorkflowVersion", null=True, blank=True,
                                         on_delete=models.PROTECT, related_name="+",
                                         verbose_name=_("workflow version"))
    group = models.CharField(max_length=80, blank=True, db_index=True, verbose_name=_("group"),
                             help_text=_("Staff group the case is routed to."))
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="assigned_cases",
                                 verbose_name=_("assigned to"))
    due_date = models.DateField(null=True, blank=True, db_index=True,
                                verbose_name=_("decision due"))
    paused_since = models.DateField(null=True, blank=True,
                                    verbose_name=_("deadline paused since"))
    sla_flag = models.CharField(max_length=8, blank=True, default="", db_index=True,
                                verbose_name=_("deadline state"),
                                help_text=_("Empty when on time, else “nearing” or “overdue”."))
    decision_reason = models.TextField(blank=True, verbose_name=_("reason for the decision"))
    closed_at = models.DateTimeField(null=True, blank=True, db_index=True,
                                     verbose_name=_("closed"))
    erased_at = models.DateTimeField(null=True, blank=True,
                                     verbose_name=_("personal data erased"))
    submitted_at = models.DateTimeField(auto_now_add=True, db_index=True,
                                        verbose_name=_("submitted"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated"))

    objects = CaseQuerySet.as_manager()

    class Meta:
        ordering = ["-submitted_at"]
        verbose_name = _("case")
        verbose_name_plural = _("cases")
        indexes = [
            # The inbox lists open cases by deadline: without these PostgreSQL walks the
            # due-date index past every closed case (226 ms -> under 10 ms at 100,000 cases).
            models.Index(fields=["due_date", "submitted_at", "id"],
                         condition=models.Q(closed_at__isnull=True), name="case_open_inbox_idx"),
            models.Index(fields=["assignee", "due_date", "submitted_at", "id"],
                         condition=models.Q(closed_at__isnull=True),
                         name="case_open_assignee_idx"),
            models.Index(fields=["due_date", "submitted_at", "id"], name="case_inbox_order_idx"),
            # Inbox search is `icontains`, which Django writes as UPPER(col) LIKE UPPER(%x%):
            # trigram indexes on the same expressions serve it (pg_trgm: tenants 0007).
            *(GinIndex(OpClass(Upper(field), name="gin_trgm_ops"), name=f"case_{short}_trgm_idx")
              for field, short in (("reference", "ref"), ("applicant_name", "name"),
                                   ("applicant_email", "email"))),
        ]

    def __str__(self):
        return self.reference

    @property
    def status_label(self):
        return status_label(self.status, self.workflow_version, self.language)

    @property
    def is_closed(self):
        return self.closed_at is not None


def status_label(status, version=None, language=None):
    if version is not None:
        return workflowspec.label(version.definition, status, language or get_language() or "ru")
    return str(dict(Case.Status.choices).get(status, status))


class CaseEvent(models.Model):
    """Append-only history of a case: who did what, when. No personal data is copied here
    (answers, names and contact details stay on the case, which retention can erase)."""

    class Kind(models.TextChoices):
        SUBMITTED = "submitted", _("Application received")
        STATUS = "status", _("Status changed")
        PAYMENT = "payment", _("Payment")
        FILE_VIEWED = "file_viewed", _("File opened")
        TRACKED = "tracked", _("Status checked by the applicant")
        ASSIGNED = "assigned", _("Assigned")
        NOTE = "note", _("Internal note added")
        AUTO_DECISION = "auto_decision", _("Automatic decision")
        ROUTED = "routed", _("Routed to a group")
        INFO_PROVIDED = "info_provided", _("Applicant provided information")
        ESCALATED = "escalated", _("Deadline escalation")
        EXPORTED = "exported", _("Data exported")
        LETTER = "letter", _("Decision letter issued")
        ERASED = "erased", _("Personal data erased")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="events",
                             verbose_name=_("case"))
    kind = models.CharField(max_length=24, choices=Kind.choices, verbose_name=_("event"))
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="+",
                              verbose_name=_("staff member"))
    actor_role = models.CharField(max_length=16, default="system", verbose_name=_("who"),
                                  help_text=_("applicant, staff or system"))
    public = models.BooleanField(default=False, verbose_name=_("public"),
                                 help_text=_("Shown to the applicant"))
    data = models.JSONField(default=dict, verbose_name=_("data"))
    at = models.DateTimeField(auto_now_add=True, db_index=True, verbose_name=_("when"))

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("case event")
        verbose_name_plural = _("case events")

    def __str__(self):
        return f"{self.case_id}: {self.kind}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise RuntimeError("Case events are append-only.")
        super().save(*args, **kwargs)


class CaseNote(models.Model):
    """A note on a case: by staff (internal), or the applicant's answer to a request for more
    information."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="notes",
                             verbose_name=_("case"))
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                               related_name="+", verbose_name=_("author"))
    class Kind(models.TextChoices):
        INTERNAL = "internal", _("Internal note")
        REQUEST = "request", _("Message to the applicant")
        ANSWER = "answer", _("Applicant's answer")

    text = models.TextField(max_length=4000, verbose_name=_("text"))
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.INTERNAL,
                            verbose_name=_("kind of note"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))

    class Meta:
        ordering = ["created_at"]
        verbose_name = _("case note")
        verbose_name_plural = _("case notes")

    def __str__(self):
        return f"note on {self.case_id}"


class AutomatedDecision(models.Model):
    """A decision taken by a rule: which rule, what it read, what it did. Reviewable by staff;
    the inputs are personal data and are erased with the case."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="automated_decisions",
                             verbose_name=_("case"))
    rule_name = models.CharField(max_length=200, verbose_name=_("rule name"))
    rule = models.JSONField(verbose_name=_("rule"))
    inputs = models.JSONField(default=dict, verbose_name=_("what the rule read"))
    outcome = models.CharField(max_length=80, verbose_name=_("outcome"))
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+",
                                    verbose_name=_("reviewed by"))
    reviewed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("reviewed"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))

    class Meta:
        verbose_name = _("automated decision")
        verbose_name_plural = _("automated decisions")

    def __str__(self):
        return f"{self.rule_name} -> {self.outcome}"
