"""SMS gateways: a small registry of backends chosen by the DGBOX_SMS_BACKEND setting.

A gateway is a subclass of SMSBackend whose send() returns the provider's message id. It
raises PermanentDeliveryError when retrying cannot help (e.g. the number does not exist);
any other exception is treated as transient and the message is retried later.
"""

import json
import threading
import uuid

from django.conf import settings
from django.db import connection
from django.utils import timezone
from django.utils.module_loading import import_string


class PermanentDeliveryError(Exception):
    """Sending failed for good (invalid recipient, message refused): do not retry."""


class SMSBackend:
    """Base class of SMS gateways."""

    def send(self, phone: str, text: str) -> str:
        """Send `text` to `phone` (E.164, e.g. +79123456789); return the provider's id."""
        raise NotImplementedError


class LogSMSBackend(SMSBackend):
    """The local backend: appends each message as one JSON line to STATE_DIR/sms.log instead
    of sending it (development, demos and tests; never silently used as a real gateway)."""

    _lock = threading.Lock()

    def send(self, phone: str, text: str) -> str:
        provider_id = f"log-{uuid.uuid4().hex}"
        line = json.dumps({
            "time": timezone.now().isoformat(),
            "tenant": connection.schema_name,
            "phone": phone,
            "text": text,
            "id": provider_id,
        }, ensure_ascii=False)
        path = log_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        # One write() per line in append mode: lines from concurrent workers never interleave.
        with self._lock, open(path, "a", encoding="utf-8") as log:
            log.write(line + "\n")
        return provider_id


def log_path():
    return settings.STATE_DIR / "sms.log"


def get_sms_backend() -> SMSBackend:
    """The configured gateway (DGBOX_SMS_BACKEND, a dotted path to an SMSBackend subclass)."""
    backend_class = import_string(settings.DGBOX_SMS_BACKEND)
    if not (isinstance(backend_class, type) and issubclass(backend_class, SMSBackend)):
        raise TypeError(f"DGBOX_SMS_BACKEND={settings.DGBOX_SMS_BACKEND!r} is not an "
                        "SMSBackend subclass")
    return backend_class()
