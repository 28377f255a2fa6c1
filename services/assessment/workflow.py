"""The life of an assessment round, the one way its state changes (views stay thin):

    open_round -> (save_answer, refresh_automatic)* -> submit -> approve
                                         ^-- return_round <--'

At most one round is in progress (open or submitted) at a time. Whoever may change rounds
(`assessment.change_round`, administrators) opens, answers and submits; only an administrator
who did not submit the round approves it, or returns it with a note. Approval freezes the
round (its automatic measurements and its scores are kept as they were), writes the public
copy the operator console compares (`tenants.models.AssessmentResult`) and, like every other
step, an audit event.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from tenants.audit.context import user_actor
from tenants.audit.models import Kind
from tenants.audit.service import record
from tenants.db import connection
from tenants.models import AssessmentResult, Tenant

from . import framework, measures
from .models import Answer, Round
from .scoring import Scores, score


class AssessmentError(Exception):
    """A step that cannot be taken now; the message says why and what to do instead."""


def may_answer(user: Any) -> bool:
    return bool(user.is_active and user.has_perm("assessment.change_round"))


def may_approve(user: Any) -> bool:
    return bool(user.is_active and user.is_superuser)


def in_progress() -> Round | None:
    return Round.objects.exclude(status=Round.Status.APPROVED).first()


def _audit(round_: Round, what: str, user: Any, **details: Any) -> None:
    record(Kind.ASSESSMENT, f"Assessment round {round_.number} {what}", obj=round_,
           details={"round": round_.number, "step": what, "status": round_.status,
                    "model_version": round_.model_version, **details},
           actor=None if user is None else user_actor(user))


def _locked(round_: Round) -> Round:
    return Round.objects.select_for_update().get(pk=round_.pk)


@transaction.atomic
def open_round(user: Any) -> Round:
    """A new round on the newest model, its automatic indicators measured now."""
    if in_progress() is not None:
        raise AssessmentError(_("A round is already in progress: finish or approve it first."))
    number = (Round.objects.aggregate(n=Max("number"))["n"] or 0) + 1
    try:
        with transaction.atomic():
            round_ = Round.objects.create(number=number, opened_by=user,
                                          model_version=framework.current().version)
    except IntegrityError as error:  # another request opened one at the same moment
        raise AssessmentError(_("A round is already in progress: finish or approve it "
                                "first.")) from error
    _measure(round_)
    _audit(round_, "opened", user)
    return round_


def _measure(round_: Round) -> None:
    model = framework.get(round_.model_version)
    automatic = {}
    for indicator in model.indicators():
        if indicator.automatic:
            measured = measures.measure(indicator.measure)
            automatic[indicator.code] = {"value": measured.value,
                                         "level": indicator.level_for(measured.value),
                                         "figures": measured.figures}
    round_.automatic = automatic
    round_.measured_at = timezone.now()
    round_.save(update_fields=["automatic", "measured_at"])


@transaction.atomic
def refresh_automatic(round_: Round) -> Round:
    """Measure the automatic indicators again (only while the round is open)."""
    round_ = _locked(round_)
    if round_.status != Round.Status.OPEN:
        raise AssessmentError(_("Only an open round can be measured again."))
    _measure(round_)
    return round_


@transaction.atomic
def save_answer(round_: Round, indicator_code: str, *, level: int | None, justification: str,
                evidence: list[str], user: Any) -> Answer:
    round_ = _locked(round_)
    if round_.status != Round.Status.OPEN:
        raise AssessmentError(_("This round is not open for answers."))
    indicator = framework.get(round_.model_version).indicator(indicator_code)
    if indicator is None or indicator.automatic:
        raise AssessmentError(_("This indicator is not answered in the questionnaire."))
    # PostgreSQL text cannot hold NUL: dropped here, whoever calls (forms also refuse them).
    answer, _created = Answer.objects.update_or_create(
        round=round_, indicator=indicator_code,
        defaults={"level": level, "justification": justification.replace("\x00", ""),
                  "evidence": [link.replace("\x00", "") for link in evidence],
                  "answered_by": user})
    return answer


def levels(round_: Round) -> dict[str, int | None]:
    """Every indicator's level in the round: answers and measurements."""
    found: dict[str, int | None] = {
        code: entry.get("level") for code, entry in (round_.automatic or {}).items()}
    found.update(round_.answers.values_list("indicator", "level"))
    return found


def scores(round_: Round) -> Scores:
    """The round's scores: frozen ones once approved, else computed from its levels now."""
    if round_.frozen and round_.scores:
        return Scores(round_.scores["indicators"], round_.scores["dimensions"],
                      round_.scores["overall"])
    return score(framework.get(round_.model_version), levels(round_))


@transaction.atomic
def submit(round_: Round, user: Any) -> Round:
    round_ = _locked(round_)
    if round_.status != Round.Status.OPEN:
        raise AssessmentError(_("Only an open round can be submitted."))
    round_.status = Round.Status.SUBMITTED
    round_.submitted_at, round_.submitted_by = timezone.now(), user
    round_.save(update_fields=["status", "submitted_at", "submitted_by"])
    _audit(round_, "submitted", user, assessed=scores(round_).assessed)
    return round_


def _check_reviewer(round_: Round, user: Any) -> None:
    if round_.status != Round.Status.SUBMITTED:
        raise AssessmentError(_("Only a submitted round can be approved or returned."))
    if not may_approve(user):
        raise AssessmentError(_("Only an administrator can approve or return a round."))
    if round_.submitted_by_id is not None and round_.submitted_by_id == user.pk:
        raise AssessmentError(_("You submitted this round: another administrator must "
                                "approve or return it."))


@transaction.atomic
def return_round(round_: Round, user: Any, note: str) -> Round:
    round_ = _locked(round_)
    _check_reviewer(round_, user)
    round_.status = Round.Status.OPEN
    round_.return_note = note
    round_.submitted_at = round_.submitted_by = None
    round_.save(update_fields=["status", "return_note", "submitted_at", "submitted_by"])
    _audit(round_, "returned", user)
    return round_


@transaction.atomic
def approve(round_: Round, user: Any) -> Round:
    """Freeze the round's scores and publish them for comparison."""
    round_ = _locked(round_)
    _check_reviewer(round_, user)
    final = scores(round_)
    round_.status = Round.Status.APPROVED
    round_.approved_at, round_.approved_by = timezone.now(), user
    round_.scores = final.as_json()
    round_.save(update_fields=["status", "approved_at", "approved_by", "scores"])
    _publish(round_, final)
    _audit(round_, "approved", user, overall=final.overall)
    return round_


def _publish(round_: Round, final: Scores) -> None:
    model = framework.get(round_.model_version)
    tenant = connection.tenant if isinstance(connection.tenant, Tenant) else None
    assert round_.approved_at is not None  # noqa: S101 - set by approve() just before
    AssessmentResult.objects.update_or_create(
        schema_name=connection.schema_name, round_number=round_.number, defaults={
            "tenant": tenant, "model_version": model.version,
            "approved_at": round_.approved_at, "overall": final.overall,
            "dimensions": [{"code": d.code, "title": d.title,
                            "score": final.dimensions.get(d.code)} for d in model.dimensions],
            "indicators_assessed": final.assessed,
            "indicators_total": len(final.indicators)})
