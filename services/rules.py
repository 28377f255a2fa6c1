"""Automated routine decisions: declarative rules over the answers, evaluated safely.

A service's rules are a list, tried in order; the first whose condition holds is applied:

    [{"name": "Small house", "when": {"<=": [{"var": "floors"}, 3]}, "then": "approve"},
     {"name": "Tall building", "when": {">": [{"var": "floors"}, 10]}, "then": "route",
      "group": "Senior reviewers"}]

`when` is JSON Logic (jsonlogic.com), evaluated by a table of operators: no Python is ever
evaluated. Only the operators in ALLOWED are accepted and every `var` must name a question of
the form (or `channel`), so a rule that cannot work is refused when the service is saved.
`then` is a transition the workflow allows from the state cases start in, or "route".
"""

from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from . import workflowspec

ALLOWED = {"==", "===", "!=", "!==", ">", ">=", "<", "<=", "!", "!!", "and", "or", "if", "in",
           "var", "missing", "+", "-", "*", "/", "%", "min", "max", "cat", "all", "some",
           "none"}
EXTRA_VARS = {"channel"}


def validate(rules, spec, definition):
    errors = []
    if not isinstance(rules, list):
        raise ValidationError(_("Rules must be a list."))
    names = {f["name"] for f in spec} | EXTRA_VARS
    initial = definition.get("initial")
    possible = {t["code"] for t in workflowspec.transitions_from(definition, initial)}
    for position, rule in enumerate(rules, start=1):
        where = _("Rule %(n)s") % {"n": position}
        if not isinstance(rule, dict) or not rule.get("name"):
            errors.append(_("%(where)s: give it a name.") % {"where": where})
            continue
        where = _("Rule “%(name)s”") % {"name": rule["name"]}
        try:
            _check_logic(rule.get("when"), names)
        except ValueError as exc:
            errors.append(f"{where}: {exc}")
        then = rule.get("then")
        if then == "route":
            if not rule.get("group"):
                errors.append(_("%(where)s: say which group to route to.") % {"where": where})
        elif then not in possible:
            errors.append(_("%(where)s: “%(then)s” is not a step the workflow allows for a new "
                            "case (allowed: %(allowed)s, route).")
                          % {"where": where, "then": then, "allowed": ", ".join(sorted(possible))})
    if errors:
        raise ValidationError(errors)


def _check_logic(node, names, top=True):
    if top and not isinstance(node, dict):
        raise ValueError(_("the condition must be a JSON Logic object."))
    if isinstance(node, list):
        for item in node:
            _check_logic(item, names, top=False)
        return
    if not isinstance(node, dict):
        return
    if len(node) != 1:
        raise ValueError(_("each operation must have exactly one operator."))
    operator, args = next(iter(node.items()))
    if operator not in ALLOWED:
        raise ValueError(_("operator “%(op)s” is not allowed.") % {"op": operator})
    if operator == "var":
        name = args[0] if isinstance(args, list) and args else args
        root = str(name).split(".", 1)[0]
        if root not in names:
            raise ValueError(_("“%(name)s” is not a question of this form.") % {"name": name})
        return
    _check_logic(args, names, top=False)


def inputs_of(node, data):
    """The values of the variables a condition reads (recorded with each decision)."""
    found = {}
    if isinstance(node, list):
        for item in node:
            found.update(inputs_of(item, data))
    elif isinstance(node, dict):
        for operator, args in node.items():
            if operator == "var":
                name = args[0] if isinstance(args, list) and args else args
                found[str(name)] = _lookup(data, str(name))
            else:
                found.update(inputs_of(args, data))
    return found


def _lookup(data, dotted):
    value = data
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def facts(case):
    """What rules see: the answers with numbers as numbers, plus the channel."""
    data = {}
    spec = {f["name"]: f for f in case.form_version.spec}
    for name, value in case.answers.items():
        if spec.get(name, {}).get("type") == "number":
            try:
                value = float(Decimal(str(value)))
            except (InvalidOperation, ValueError):
                value = None
        data[name] = value
    data["channel"] = case.channel
    return data


def first_match(rules, data):
    from json_logic import jsonLogic

    for rule in rules:
        try:
            if jsonLogic(rule["when"], data):
                return rule
        except (TypeError, ValueError, ZeroDivisionError, KeyError, AttributeError):
            continue  # an answer of an unexpected shape never decides anything
    return None
