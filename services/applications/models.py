"""What citizens hand in: drafts (answers waiting to be submitted), their uploaded files,
the one-time codes that open a case's status page, and payments of fees."""

import unicodedata
import uuid

from django.conf import settings
from django.core.files.storage import storages
from django.db import models
from django.utils.translation import gettext_lazy as _

from ..cases.models import Case, Channel
from ..forms.models import FormVersion, OnlineService


class ApplicationDraft(models.Model):
    """Answers that passed validation, waiting on the check-your-answers page.

    Kept in the database, not only in the session, so that nothing typed is lost; its token
    is also the submission's idempotency key (one draft makes at most one case).
    """

    token = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False,
                             verbose_name=_("token"))
    service = models.ForeignKey(OnlineService, on_delete=models.CASCADE, related_name="drafts",
                                verbose_name=_("online service"))
    form_version = models.ForeignKey(FormVersion, on_delete=models.PROTECT,
                                     verbose_name=_("form version"))
    answers = models.JSONField(default=dict, verbose_name=_("answers"))
    channel = models.CharField(max_length=8, choices=Channel.choices, default=Channel.ONLINE,
                               verbose_name=_("received through"))
    entered_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+",
                                   verbose_name=_("entered by"))
    language = models.CharField(max_length=8, default=settings.LANGUAGE_CODE,
                                verbose_name=_("language"))
    case = models.OneToOneField(Case, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="draft", verbose_name=_("case"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated"))

    class Meta:
        verbose_name = _("application draft")
        verbose_name_plural = _("application drafts")

    def __str__(self):
        return str(self.token)


def private_storage():
    """The tenant-private S3 storage (infra/storage.py), looked up when used."""
    return storages["private"]


class UploadedFile(models.Model):
    """A file an applicant uploaded, stored privately in the tenant's S3 prefix."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    draft = models.ForeignKey(ApplicationDraft, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="files", verbose_name=_("application draft"))
    case = models.ForeignKey(Case, null=True, blank=True, on_delete=models.CASCADE,
                             related_name="files", verbose_name=_("case"))
    field_name = models.CharField(max_length=40, verbose_name=_("question"))
    #: The name in the private storage (the tenant prefix is added by the storage itself).
    storage_name = models.CharField(max_length=200, unique=True,
                                    verbose_name=_("name in storage"))
    original_name = models.CharField(max_length=120, verbose_name=_("file name"))
    extension = models.CharField(max_length=8, verbose_name=_("extension"))
    content_type = models.CharField(max_length=60, verbose_name=_("file type"))
    size = models.PositiveBigIntegerField(verbose_name=_("size (bytes)"))
    sha256 = models.CharField(max_length=64, verbose_name="SHA-256")
    uploaded_at = models.DateTimeField(auto_now_add=True, verbose_name=_("uploaded"))

    class Meta:
        verbose_name = _("uploaded file")
        verbose_name_plural = _("uploaded files")

    def __str__(self):
        return self.original_name

    def open(self):
        return private_storage().open(self.storage_name, "rb")

    @property
    def download_name(self):
        """The name a download is saved under: the applicant's name without control or
        formatting characters (right-to-left overrides included), its extension replaced by
        the one of the type sniffed from the content (a PDF named x.html downloads as
        x.pdf)."""
        shown = "".join(c for c in self.original_name
                        if unicodedata.category(c) not in ("Cc", "Cf"))
        stem = shown.rsplit(".", 1)[0].strip(" .") if "." in shown else shown.strip(" .")
        return f"{stem or 'file'}.{self.extension}" if self.extension else stem or "file"


class TrackingCode(models.Model):
    """A one-time code sent to the applicant to open the status page; stored hashed."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="tracking_codes",
                             verbose_name=_("case"))
    code_hash = models.CharField(max_length=128, verbose_name=_("code (hashed)"))
    sent_to = models.CharField(max_length=8, verbose_name=_("sent by"))  # "email" or "sms"
    attempts = models.PositiveSmallIntegerField(default=0, verbose_name=_("attempts"))
    expires_at = models.DateTimeField(verbose_name=_("valid until"))
    used_at = models.DateTimeField(null=True, blank=True, verbose_name=_("used"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))

    class Meta:
        verbose_name = _("tracking code")
        verbose_name_plural = _("tracking codes")

    def __str__(self):
        return f"code for case {self.case_id}"


class Payment(models.Model):
    """A fee owed for a case, paid through a payment provider
    (services/applications/payments.py)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for payment")
        PAID = "paid", _("Paid")
        DECLINED = "declined", _("Declined")

    token = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False,
                             verbose_name=_("token"))
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="payments",
                             verbose_name=_("case"))
    amount = models.DecimalField(max_digits=10, decimal_places=2, verbose_name=_("amount"))
    currency = models.CharField(max_length=3, default="RUB", verbose_name=_("currency"))
    provider = models.CharField(max_length=40, verbose_name=_("payment provider"))
    provider_reference = models.CharField(max_length=100, blank=True,
                                          verbose_name=_("provider's reference"))
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING,
                              verbose_name=_("status"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated"))

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")

    def __str__(self):
        return f"{self.amount} {self.currency} ({self.status})"
