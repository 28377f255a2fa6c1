"""Halting and resuming a running rollout (tenants/rollout/control.py): from the CLI
(`dgbox rollout halt|resume`) and the console, the runner's wait while halted, and the live
progress the console's rollout page polls."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tenants.models import Rollout, RolloutStep
from tenants.rollout import control

from .factories import console_account

pytestmark = pytest.mark.django_db
PORTAL = {"HTTP_HOST": "localhost"}


@pytest.fixture
def running():
    rollout = Rollout.objects.create(release="2026.12", fingerprint="f" * 8,
                                     status=Rollout.Status.RUNNING)
    for n, status in enumerate(["done", "done", "failed", "running", "pending", "pending"]):
        RolloutStep.objects.create(rollout=rollout, schema_name=f"s{n}", slug=f"t{n}", ring=1,
                                   status=status)
    return rollout


def test_halt_and_resume(running):
    halted = control.halt(running.pk, by="olga (console)")
    assert halted.halt_requested_at is not None and halted.halt_requested_by == "olga (console)"
    assert control.halt_requested(running.pk)
    with pytest.raises(control.ControlError) as already:
        control.halt(running.pk, by="ivan")
    assert already.value.code == "already_halted"
    control.resume(running.pk, by="ivan")
    assert not control.halt_requested(running.pk)
    with pytest.raises(control.ControlError) as not_halted:
        control.resume(running.pk, by="ivan")
    assert not_halted.value.code == "not_halted"


def test_only_a_running_rollout_can_be_halted(running):
    Rollout.objects.filter(pk=running.pk).update(status=Rollout.Status.COMPLETED)
    with pytest.raises(control.ControlError) as error:
        control.halt(running.pk, by="olga")
    assert error.value.code == "not_running"


def test_the_runner_waits_while_halted_and_carries_on_when_resumed(running):
    said, slept = [], []
    assert control.wait_while_halted(running.pk, message=said.append) is False
    control.halt(running.pk, by="olga (console)")

    def sleep(seconds):  # the operator resumes while the runner waits
        slept.append(seconds)
        if len(slept) == 3:
            control.resume(running.pk, by="olga (console)")

    assert control.wait_while_halted(running.pk, message=said.append, sleep=sleep) is True
    assert len(slept) == 3
    assert "Halted by olga (console)" in said[0] and "resumed" in said[-1]


def test_cli_halt_and_resume(running):
    out = StringIO()
    call_command("rollout", "halt", stdout=out)  # the running one by default
    assert f"Rollout {running.pk} halted" in out.getvalue()
    running.refresh_from_db()
    assert running.halt_requested_by  # who@host (pid)
    with pytest.raises(CommandError, match="already halted"):
        call_command("rollout", "halt", str(running.pk), stdout=StringIO())
    out = StringIO()
    call_command("rollout", "resume", str(running.pk), stdout=out)
    assert "resumed" in out.getvalue()
    Rollout.objects.filter(pk=running.pk).update(status=Rollout.Status.COMPLETED)
    with pytest.raises(CommandError, match="No rollout is running"):
        call_command("rollout", "halt", stdout=StringIO())


def test_console_shows_live_progress_and_halts(client, running, session_tenants):
    client.force_login(console_account("olga"))
    data = client.get(f"/operator/rollouts/{running.pk}/progress.json", **PORTAL).json()
    assert data["counts"] == {"pending": 2, "running": 1, "done": 2, "failed": 1}
    assert (data["finished"], data["total"], data["percent"]) == (3, 6, 50)
    assert data["running"] == ["t3"] and data["halted"] is False

    page = client.get(f"/operator/rollouts/{running.pk}/", **PORTAL).content.decode()
    assert 'id="rollout-progress"' in page and "operator/rollout.js" in page
    assert f'href="/operator/rollouts/{running.pk}/"' in page  # the no-JS refresh link
    assert "<script>" not in page.split('id="rollout-progress"')[1]  # no inline script
    assert f"/operator/rollouts/{running.pk}/halt/" in page

    response = client.post(f"/operator/rollouts/{running.pk}/halt/", **PORTAL)
    assert response.status_code == 302
    assert response["Location"] == f"/operator/rollouts/{running.pk}/"
    running.refresh_from_db()
    assert running.halt_requested_by == "olga (console)"
    page = client.get(f"/operator/rollouts/{running.pk}/", **PORTAL).content.decode()
    assert f"/operator/rollouts/{running.pk}/resume/" in page
    assert client.get(f"/operator/rollouts/{running.pk}/progress.json",
                      **PORTAL).json()["halted"] is True

    assert client.post(f"/operator/rollouts/{running.pk}/resume/", **PORTAL).status_code == 302
    assert not control.halt_requested(running.pk)
    # A second resume is refused with a message, not an error page.
    again = client.post(f"/operator/rollouts/{running.pk}/resume/", **PORTAL, follow=True)
    assert again.status_code == 200
    assert "govuk-notification-banner" in again.content.decode()


def test_a_finished_rollout_has_no_live_view(client, running, session_tenants):
    Rollout.objects.filter(pk=running.pk).update(status=Rollout.Status.COMPLETED)
    client.force_login(console_account("olga"))
    page = client.get(f"/operator/rollouts/{running.pk}/", **PORTAL).content.decode()
    assert 'id="rollout-progress"' not in page and "/halt/" not in page
