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

    token = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    service = models.ForeignKey(OnlineService, on_delete=models.CASCADE, related_name="drafts")
    form_version = models.ForeignKey(FormVersion, on_delete=models.PROTECT)
    answers = models.JSONField(default=dict)
    channel = models.CharField(max_length=8, choices=Channel.choices, default=Channel.ONLINE)
    entered_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    language = models.CharField(max_length=8, default=settings.LANGUAGE_CODE)
    case = models.OneToOneField(Case, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="draft")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return str(self.token)


def private_storage():
    """The tenant-private S3 storage (infra/storage.py), looked up when used."""
    return storages["private"]


class UploadedFile(models.Model):
    """A file an applicant uploaded, stored privately in the tenant's S3 prefix."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    draft = models.ForeignKey(ApplicationDraft, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="files")
    case = models.ForeignKey(Case, null=True, blank=True, on_delete=models.CASCADE,
                             related_name="files")
    field_name = models.CharField(max_length=40)
    #: The name in the private storage (the tenant prefix is added by the storage itself).
    storage_name = models.CharField(max_length=200, unique=True)
    original_name = models.CharField(max_length=120)
    extension = models.CharField(max_length=8)
    content_type = models.CharField(max_length=60)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_at = models.DateTimeField(auto_now_add=True)

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

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="tracking_codes")
    code_hash = models.CharField(max_length=128)
    sent_to = models.CharField(max_length=8)  # "email" or "sms"
    attempts = models.PositiveSmallIntegerField(default=0)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"code for case {self.case_id}"


class Payment(models.Model):
    """A fee owed for a case, paid through a payment provider
    (services/applications/payments.py)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for payment")
        PAID = "paid", _("Paid")
        DECLINED = "declined", _("Declined")

    token = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="payments")
    amount = models.DecimalField(max_digits=10, decimal_places=2)
    currency = models.CharField(max_length=3, default="RUB")
    provider = models.CharField(max_length=40)
    provider_reference = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"{self.amount} {self.currency} ({self.status})"
