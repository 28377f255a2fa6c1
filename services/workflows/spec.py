"""Case workflows as data: states and transitions, validated, versioned, and the default one.

A definition:

    {"initial": "received",
     "states": [{"code": "received", "label": {"ru": "...", "en": "..."}, "terminal": False,
                 "clock": "runs" | "paused"}, ...],
     "transitions": [{"code": "start_review", "label": {...}, "from": ["received"],
                      "to": "in_review", "group": "Case workers", "requires": ["reason"],
                      "notify": True}, ...]}

`clock` says whether the SLA clock runs in that state (it is paused while the applicant is
asked for more information). Terminal states end the case (approved, refused, withdrawn).
"""

import copy
import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

CODE_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
#: What a transition may require the member of staff to give.
REQUIREMENTS = {
    "reason": _("Reason for the decision"),
    "message": _("Message to the applicant"),
    "note": _("Internal note"),
}
STAFF_GROUP = "Case workers"
SUPERVISOR_GROUP = "Case supervisors"

DEFAULT = {
    "initial": "received",
    "states": [
        {"code": "received", "label": {"ru": "Получено", "en": "Received"}, "terminal": False,
         "clock": "runs"},
        {"code": "in_review", "label": {"ru": "Рассматривается", "en": "Being reviewed"},
         "terminal": False, "clock": "runs"},
        {"code": "more_info", "label": {"ru": "Нужны дополнительные сведения",
                                        "en": "We need more information from you"},
         "terminal": False, "clock": "paused"},
        {"code": "approved", "label": {"ru": "Одобрено", "en": "Approved"}, "terminal": True,
         "clock": "runs"},
        {"code": "refused", "label": {"ru": "Отказано", "en": "Refused"}, "terminal": True,
         "clock": "runs"},
        {"code": "withdrawn", "label": {"ru": "Отозвано", "en": "Withdrawn"}, "terminal": True,
         "clock": "runs"},
    ],
    "transitions": [
        {"code": "start_review", "label": {"ru": "Взять в работу", "en": "Start review"},
         "from": ["received"], "to": "in_review", "group": STAFF_GROUP, "requires": [],
         "notify": True},
        {"code": "request_info", "label": {"ru": "Запросить сведения",
                                           "en": "Request more information"},
         "from": ["received", "in_review"], "to": "more_info", "group": STAFF_GROUP,
         "requires": ["message"], "notify": True},
        {"code": "info_received", "label": {"ru": "Сведения получены",
                                            "en": "Information received"},
         "from": ["more_info"], "to": "in_review", "group": "applicant", "requires": [],
         "notify": False},
        {"code": "approve", "label": {"ru": "Одобрить", "en": "Approve"},
         "from": ["received", "in_review"], "to": "approved", "group": STAFF_GROUP,
         "requires": [], "notify": True},
        {"code": "refuse", "label": {"ru": "Отказать", "en": "Refuse"},
         "from": ["received", "in_review"], "to": "refused", "group": STAFF_GROUP,
         "requires": ["reason"], "notify": True},
        {"code": "withdraw", "label": {"ru": "Отозвать по просьбе заявителя",
                                       "en": "Withdraw at the applicant's request"},
         "from": ["received", "in_review", "more_info"], "to": "withdrawn",
         "group": STAFF_GROUP, "requires": ["note"], "notify": True},
    ],
}


def default_definition():
    return copy.deepcopy(DEFAULT)


def validate(definition):
    """Raise ValidationError listing everything wrong with a workflow definition."""
    errors = [message for _where, message in problems(definition)]
    if errors:
        raise ValidationError(errors)


def problems(definition):
    """Everything wrong with a workflow definition, as (where, message): where is
    ("state", index, part), ("transition", index, part) or ("states", None, None) for the
    states as a whole, so that the editor shows each message on the block (and the part of
    it: "code", "from_states", "to_state", "group"...) where it was made. Part is None for
    the block as a whole."""
    found = []

    def add(where, message):
        found.append((where, message))

    states = definition.get("states") or []
    transitions = definition.get("transitions") or []
    codes = [s.get("code") for s in states]
    if not states:
        add(("states", None, None), _("Add at least one state."))
    for index, code in enumerate(codes):
        if not CODE_RE.match(code or ""):
            add(("state", index, "code"), _("State code “%(code)s”: use a-z, 0-9 and _, "
                                            "starting with a letter.") % {"code": code})
    if len(set(codes)) != len(codes):
        repeated = next(i for i, code in enumerate(codes) if code in codes[:i])
        add(("state", repeated, "code"), _("Two states have the same code."))
    for index, state in enumerate(states):
        label = state.get("label") or {}
        if not label.get("ru") or not label.get("en"):
            add(("state", index, "label_ru" if not label.get("ru") else "label_en"),
                _("State “%(code)s”: give its label in both languages.")
                % {"code": state.get("code")})
    if definition.get("initial") not in codes:
        add(("states", None, None), _("Choose the state a new case starts in."))
    terminal = {s["code"] for s in states if s.get("terminal")}
    if not terminal:
        add(("states", None, None), _("At least one state must end the case (e.g. approved)."))
    if definition.get("initial") in terminal:
        add(("state", codes.index(definition["initial"]), "terminal"),
            _("A case cannot start in a state that ends it."))
    seen = set()
    for index, transition in enumerate(transitions):
        code = transition.get("code")
        where = _("Transition “%(code)s”") % {"code": code}
        if not CODE_RE.match(code or ""):
            add(("transition", index, "code"),
                _("%(where)s: use a-z, 0-9 and _ in its code.") % {"where": where})
        if code in seen:
            add(("transition", index, "code"),
                _("%(where)s: the code is used twice.") % {"where": where})
        seen.add(code)
        sources = transition.get("from") or []
        if not sources:
            add(("transition", index, "from_states"),
                _("%(where)s: say which states it leaves from.") % {"where": where})
        for source in sources:
            if source not in codes:
                add(("transition", index, "from_states"),
                    _("%(where)s: unknown state “%(state)s”.")
                    % {"where": where, "state": source})
            elif source in terminal:
                add(("transition", index, "from_states"),
                    _("%(where)s: “%(state)s” ends the case; nothing can follow it.")
                    % {"where": where, "state": source})
        if transition.get("to") not in codes:
            add(("transition", index, "to_state"),
                _("%(where)s: unknown target state “%(state)s”.")
                % {"where": where, "state": transition.get("to")})
        if not transition.get("group"):
            add(("transition", index, "group"),
                _("%(where)s: say which staff group may take it.") % {"where": where})
        for requirement in transition.get("requires") or []:
            if requirement not in REQUIREMENTS:
                add(("transition", index, "requires"),
                    _("%(where)s: unknown required field “%(field)s”.")
                    % {"where": where, "field": requirement})
    if not found:
        reachable = _reachable(definition)
        for index, code in enumerate(codes):
            if code not in reachable:
                add(("state", index, None),
                    _("State “%(code)s” can never be reached.") % {"code": code})
        if not terminal & reachable:
            add(("states", None, None), _("No state that ends the case can be reached."))
    return found


def _reachable(definition):
    reached = {definition["initial"]}
    changed = True
    while changed:
        changed = False
        for transition in definition["transitions"]:
            if reached & set(transition["from"]) and transition["to"] not in reached:
                reached.add(transition["to"])
                changed = True
    return reached


def state(definition, code):
    for item in definition["states"]:
        if item["code"] == code:
            return item
    return None


def label(definition, code, language):
    found = state(definition, code)
    if not found:
        return code
    return found["label"].get(language) or found["label"].get("ru") or code


def transitions_from(definition, code):
    return [t for t in definition["transitions"] if code in t["from"]]
