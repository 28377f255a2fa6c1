"""Workers and brokers failing, on both supported brokers (Redis and RabbitMQ), with real
worker processes:

- a worker SIGKILLed while it sends a receipt: the broker hands the task to another worker
  (RabbitMQ at once, Redis after DGBOX_BROKER_VISIBILITY_TIMEOUT), which sends the message;
  the citizen gets it exactly once;
- the broker unreachable while a citizen applies: the application becomes a case, its
  messages wait in the outbox and go out, once each, when the broker is back.

Redis is a server of the test's own; RabbitMQ is the machine's (127.0.0.1:5672, as in CI),
used through queues of the test's own and, for the outage, a TCP proxy the test stops
(never the shared server). Nothing here runs beat: a message that is sent was redelivered by
the broker or queued by the explicit resend_pending() call, not by the periodic job.
"""

import logging
import os
import re
import signal
import time
import uuid

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from services.models import Case
from services.notifications import delivery
from services.notifications.api import messages_for
from services.notifications.choices import Channel, Status
from services.notifications.tasks import resend_pending

from ..factories import NORTH
from .servers import (
    ANSWERS,
    RABBITMQ_PORT,
    RABBITMQ_URL,
    WAIT,
    PrivateRedis,
    TcpProxy,
    answers,
    celery_on,
    delete_queue,
    start_worker,
    stop_worker,
)

pytestmark = pytest.mark.worker
REFERENCE = re.compile(r"\b([A-Z]{2,5}-\d{4}-\d{6})\b")
#: The Redis visibility timeout the workers here run with (production: 60 s by default); a
#: short one keeps the test short, the mechanism is the same.
VISIBILITY_TIMEOUT = "5"


@pytest.fixture(scope="module")
def redis_broker(tmp_path_factory):
    server = PrivateRedis(tmp_path_factory.mktemp("broker-redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=["redis", "rabbitmq"])
def broker(request):
    """(name, URL, port) of a running broker."""
    if request.param == "redis":
        server = request.getfixturevalue("redis_broker")
        return "redis", server.url, server.port
    if not answers(RABBITMQ_PORT):
        pytest.skip("RabbitMQ does not answer on 127.0.0.1:5672 (guest/guest): start it "
                    "(apt-get install rabbitmq-server) to test the RabbitMQ broker")
    return "rabbitmq", RABBITMQ_URL, RABBITMQ_PORT


@pytest.fixture
def queue(broker):
    name = f"dgbox-faults-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    yield name
    if broker[0] == "rabbitmq":
        delete_queue(broker[1], name)


def apply_online(client):
    """A citizen applies for the committed service; returns the case's reference."""
    assert client.post("/ru/apply/street-trading/", ANSWERS, **NORTH).status_code == 302
    check = client.get("/ru/apply/street-trading/check/", **NORTH).content.decode()
    token = re.search(r'name="draft" value="([0-9a-f-]+)"', check).group(1)
    sent = client.post("/ru/apply/street-trading/check/", {"draft": token}, **NORTH)
    assert sent.status_code == 302 and sent["Location"].endswith("/done/")
    return REFERENCE.search(client.get(sent["Location"], **NORTH).content.decode()).group(1)


def wait_for(condition, *workers, seconds=WAIT):
    deadline = time.monotonic() + seconds
    while not condition():
        for worker in workers:
            assert worker.poll() is None, worker.log_path.read_text()
        assert time.monotonic() < deadline, [w.log_path.read_text() for w in workers]
        time.sleep(0.2)


def sms_lines(folder, reference):
    path = folder / "sms.log"
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    return [line for line in lines if reference in line]


def test_a_worker_killed_while_sending_a_receipt_is_replaced_and_it_goes_out_once(
        session_tenants, committed_service, broker, queue, tmp_path):
    name, url, _port = broker
    tenant = session_tenants["a"]
    stall = tmp_path / "stall"
    stall.touch()  # the SMS gateway hangs: the worker is killed in the middle of sending
    options = {"sms_backend": "tests.faults.servers.StallingSMSBackend",
               "DGBOX_BROKER_VISIBILITY_TIMEOUT": VISIBILITY_TIMEOUT}
    first = second = None
    try:
        with celery_on(url, queue):
            first = start_worker(url, queue, tmp_path, name="first", **options)
            reference = apply_online(Client())
            wait_for((tmp_path / "sending").exists, first)
            first.send_signal(signal.SIGKILL)
            first.wait(WAIT)
            with tenant_context(tenant):
                sms = messages_for(reference).get(channel=Channel.SMS)
                # Its transaction died with the worker: pending, as if never tried.
                assert (sms.status, sms.attempts) == (Status.PENDING, 0)
            stall.unlink()
            second = start_worker(url, queue, tmp_path, name="second", **options)
            with tenant_context(tenant):
                wait_for(lambda: messages_for(reference).filter(
                    status=Status.SENT).count() == 2, second, seconds=3 * WAIT)
                sms.refresh_from_db()
                assert (sms.status, sms.attempts) == (Status.SENT, 1)
                assert len(sms_lines(tmp_path, reference)) == 1, name
                # Exactly once: nothing left to resend, a duplicate wake-up sends nothing.
                assert resend_pending() == 0
                assert delivery.deliver_message(sms.pk) == "skipped"
                assert Case.objects.filter(reference=reference).count() == 1
            assert len(sms_lines(tmp_path, reference)) == 1
    finally:
        if stall.exists():
            stall.unlink()
        stop_worker(first)
        stop_worker(second)


def test_an_application_sent_while_the_broker_is_down_is_notified_once_when_it_is_back(
        session_tenants, committed_service, broker, queue, tmp_path, caplog):
    name, url, port = broker
    tenant = session_tenants["a"]
    proxy = TcpProxy(port)
    proxy.start()
    through = proxy.url(url)
    worker = None
    try:
        with celery_on(through, queue):
            proxy.stop()  # the broker is unreachable
            with caplog.at_level(logging.WARNING):
                reference = apply_online(Client())
            assert "stay pending" in caplog.text
            with tenant_context(tenant):
                assert Case.objects.filter(reference=reference).count() == 1
                waiting = list(messages_for(reference))
                assert sorted(m.channel for m in waiting) == ["email", "sms"]
                assert all((m.status, m.attempts) == (Status.PENDING, 0) for m in waiting)

            proxy.start()  # back: the periodic resend queues them, a worker sends them
            with tenant_context(tenant):
                assert resend_pending() == 2
            worker = start_worker(through, queue, tmp_path)
            with tenant_context(tenant):
                wait_for(lambda: messages_for(reference).filter(
                    status=Status.SENT).count() == 2, worker)
                assert [(m.status, m.attempts) for m in messages_for(reference)] == [
                    ("sent", 1), ("sent", 1)]
                assert len(sms_lines(tmp_path, reference)) == 1, name
                assert resend_pending() == 0
    finally:
        stop_worker(worker)
        proxy.stop()
