"""The case engine: start a case on its workflow version, take transitions (checked and
atomic), assign, note, apply automatic rules. Every action writes an append-only CaseEvent.

A transition is refused with a message staff can act on when the case is not in a state it
leaves from, when the member of staff is not in the transition's group, when a required
field is missing, or when somebody else moved the case first (`expected_state`).
"""

from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from tenants import tenant_cache

from ..notifications.api import notify
from ..rules import logic as rules_engine
from ..workflows import spec as workflowspec
from ..workflows.models import DEFAULT_NAME, Workflow, WorkflowVersion
from . import sla
from .messages import notification_context
from .models import AutomatedDecision, Case, CaseEvent, CaseNote
from .signals import case_decided

tenant_cache.watch(Workflow, WorkflowVersion)

APPLICANT = "applicant"


class TransitionError(Exception):
    """A transition that cannot be taken; the message says why."""


class ConflictError(TransitionError):
    """Somebody else changed the case first."""


def local_today():
    return timezone.localdate()


def start(case):
    """Put a new case on its service's current workflow version and set its deadline."""
    case.workflow_version, case.status, case.due_date = starting_point(case.service)
    case.save(update_fields=["workflow_version", "status", "due_date", "updated_at"])
    return case


def starting_point(service):
    """(workflow version, initial status, decision due date) of a case started now on
    `service`: what `start()` sets, for a caller that writes them with the case's INSERT."""
    version = _current_workflow_version(service)
    days = service.deadline_days
    due = sla.add_working_days(local_today(), days) if days else None
    return version, version.definition["initial"], due


def _current_workflow_version(service):
    # From the tenant's cache until a workflow or a version of one is saved: every
    # submission asks, editors rarely change it.
    return tenant_cache.remember(f"workflow-version:{service.workflow_id or DEFAULT_NAME}",
                                 lambda: _read_workflow_version(service))


def _read_workflow_version(service):
    # Saving a workflow makes its version, so the newest version is the current one: one
    # query (no Workflow row, no comparing definitions). The slower path only for a workflow
    # with no version yet (the standard one before its first case).
    if service.workflow_id:
        versions = WorkflowVersion.objects.filter(workflow_id=service.workflow_id)
    else:
        versions = WorkflowVersion.objects.filter(workflow__name=DEFAULT_NAME)
    version = versions.order_by("-number").first()
    if version is None:
        workflow = service.workflow if service.workflow_id else Workflow.default()
        version = workflow.current_version()
    return version


def definition(case):
    if case.workflow_version_id is None:
        start(case)
    return case.workflow_version.definition


def user_groups(user):
    if user is None:
        return set()
    return set(user.groups.values_list("name", flat=True))


def may_take(transition, user, groups=None):
    if transition["group"] == APPLICANT:
        return False  # only the applicant's own action (answering) takes these
    if user is None:
        return False
    if user.is_superuser:
        return True
    groups = user_groups(user) if groups is None else groups
    return transition["group"] in groups


def available(case, user):
    """Transitions `user` may take now, for the case detail's next actions."""
    groups = user_groups(user)
    return [t for t in workflowspec.transitions_from(definition(case), case.status)
            if may_take(t, user, groups)]


def take(case_id, code, *, actor=None, expected_state=None, values=None, automatic=False,
         applicant=False):
    """Apply transition `code` to the case; returns the case. Raises TransitionError."""
    values = {k: (v or "").strip() for k, v in (values or {}).items()}
    with transaction.atomic():
        case = (Case.objects.select_for_update(of=("self",))
                .select_related("workflow_version", "service").get(pk=case_id))
        flow = definition(case)
        if expected_state is not None and case.status != expected_state:
            raise ConflictError(_(
                "Someone else changed this case while you were looking at it: it is now "
                "“%(state)s”. Reload the case and check before acting.")
                % {"state": workflowspec.label(flow, case.status, case.language)})
        transition = next((t for t in flow["transitions"] if t["code"] == code), None)
        if transition is None:
            raise TransitionError(_("This workflow has no step “%(code)s”.") % {"code": code})
        if case.status not in transition["from"]:
            raise TransitionError(_(
                "“%(step)s” cannot be taken while the case is “%(state)s”.") % {
                    "step": _label(transition), "state": workflowspec.label(
                        flow, case.status, get_language() or "ru")})
        if applicant:
            allowed = transition["group"] == APPLICANT
        else:
            allowed = automatic or may_take(transition, actor)
        if not allowed:
            raise TransitionError(_("Only members of “%(group)s” can take this step.")
                                  % {"group": transition["group"]})
        missing = [str(workflowspec.REQUIREMENTS[r]) for r in transition.get("requires", [])
                   if not values.get(r)]
        if missing:
            raise TransitionError(_("Fill in: %(fields)s.") % {"fields": ", ".join(missing)})
        previous = case.status
        _move_clock(case, flow, previous, transition["to"])
        case.status = transition["to"]
        target = workflowspec.state(flow, case.status)
        if target.get("terminal"):
            case.closed_at = timezone.now()
        if values.get("reason"):
            case.decision_reason = values["reason"]
        case.save()
        # Listeners act after commit (services/tasks.py queues the decision letter).
        case_decided.send(sender=Case, case=case)
        CaseEvent.objects.create(
            case=case, kind=CaseEvent.Kind.STATUS, actor=actor, public=True,
            actor_role="applicant" if applicant else ("system" if automatic else "staff"),
            data={"from": previous, "to": case.status, "transition": code,
                  "automatic": automatic, "with": sorted(k for k, v in values.items() if v)})
        if values.get("note"):
            CaseNote.objects.create(case=case, author=actor, text=values["note"])
        if values.get("message"):
            CaseNote.objects.create(case=case, author=actor, text=values["message"],
                                    kind=CaseNote.Kind.REQUEST)
        if transition.get("notify") and (case.applicant_email or case.applicant_phone):
            key = "status_changed"
            if target.get("terminal") and case.status != "withdrawn":
                key = "decision_made"
            elif case.status == "more_info":
                key = "more_information_requested"
            notify(key, language=case.language, topic=case.reference,
                   email=case.applicant_email or None, phone=case.applicant_phone or None,
                   context=notification_context(key, case))
    return case


def _label(item):
    language = get_language() or "ru"
    return item["label"].get(language) or item["label"].get("ru") or item["code"]


def _move_clock(case, flow, previous, new):
    """Stop the deadline clock while waiting for the applicant; move the deadline on by the
    working days it waited when it starts again."""
    was_paused = workflowspec.state(flow, previous).get("clock") == "paused"
    now_paused = workflowspec.state(flow, new).get("clock") == "paused"
    today = local_today()
    if now_paused and not was_paused:
        case.paused_since = today
    elif was_paused and not now_paused and case.paused_since:
        waited = sla.working_days_between(case.paused_since, today)
        if case.due_date:
            case.due_date = sla.add_working_days(case.due_date, waited)
        case.paused_since = None
    case.sla_flag = "" if now_paused else sla.flag(case.due_date, today)


@transaction.atomic
def assign(case_ids, assignee, *, actor):
    """Assign cases to a member of staff (None: unassign). One event per case."""
    cases = list(Case.objects.select_for_update().filter(pk__in=case_ids).only("pk"))
    Case.objects.filter(pk__in=[c.pk for c in cases]).update(assignee=assignee,
                                                              updated_at=timezone.now())
    CaseEvent.objects.bulk_create([
        CaseEvent(case_id=c.pk, kind=CaseEvent.Kind.ASSIGNED, actor=actor, actor_role="staff",
                  data={"assignee": assignee.pk if assignee else None}) for c in cases])
    return len(cases)


@transaction.atomic
def add_note(case, text, *, actor):
    note = CaseNote.objects.create(case=case, author=actor, text=text)
    CaseEvent.objects.create(case=case, kind=CaseEvent.Kind.NOTE, actor=actor,
                             actor_role="staff", data={"note": note.pk})
    return note


def apply_rules(case):
    """Try the service's rules on a new case; record and apply the first that matches."""
    rules = case.service.rules or []
    if not rules:
        return None
    data = rules_engine.facts(case)
    rule = rules_engine.first_match(rules, data)
    if rule is None:
        return None
    inputs = rules_engine.inputs_of(rule["when"], data)
    outcome = rule["then"] if rule["then"] != "route" else f"route:{rule['group']}"
    decision = AutomatedDecision.objects.create(case=case, rule_name=rule["name"], rule=rule,
                                                inputs=inputs, outcome=outcome)
    CaseEvent.objects.create(case=case, kind=CaseEvent.Kind.AUTO_DECISION, actor_role="system",
                             data={"rule": rule["name"], "outcome": outcome,
                                   "decision": decision.pk})
    if rule["then"] == "route":
        Case.objects.filter(pk=case.pk).update(group=rule["group"])
        Group.objects.get_or_create(name=rule["group"])
    else:
        take(case.pk, rule["then"], automatic=True,
             values={"reason": _("Decided automatically by the rule “%(name)s”.")
                     % {"name": rule["name"]}})
    return decision
