"""Automated routine decisions: declarative rules over the answers, evaluated safely.

A service's rules are a list, tried in order; the first whose condition holds is applied:

    [{"name": "Small house", "when": {"<=": [{"var": "floors"}, 3]}, "then": "approve"},
     {"name": "Tall building", "when": {">": [{"var": "floors"}, 10]}, "then": "route",
      "group": "Senior reviewers"}]

`when` is JSON Logic (jsonlogic.com), evaluated by services/rules/engine.py: no Python is ever
evaluated. Only the operators in ALLOWED are accepted and every `var` must name a question of
the form (or `channel`), so a rule that cannot work is refused when the service is saved.
`then` is a transition the workflow allows from the state cases start in, or "route".

Rules may also read the tenant's registers the service looks up (OnlineService
register_lookups, services/registers/service.py): `registers.<code>.found` (whether the
answer to the lookup's question is a key of the register) and `registers.<code>.<field>`
(the record's value, None when absent). Those names only, for the registers the service looks up.
"""

from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from ..registers.service import look_up
from ..workflows import spec as workflowspec
from . import engine

ALLOWED = {"==", "===", "!=", "!==", ">", ">=", "<", "<=", "!", "!!", "and", "or", "if", "in",
           "var", "missing", "+", "-", "*", "/", "%", "min", "max", "cat", "all", "some",
           "none"}
EXTRA_VARS = {"channel"}
REGISTERS = "registers"
#: Where facts() keeps what the lookups read from (not reachable by a rule: names start with
#: a letter), for inputs_of() to record.
SOURCES = "_registers"


def validate(rules, spec, definition, registers=None):
    """Refuse rules that cannot work. `registers` is {code: [field names]} of the registers
    the service looks up (services.registers.service.validate_lookups)."""
    if not isinstance(rules, list):
        raise ValidationError(_("Rules must be a list."))
    errors = [message for _position, _part, message in
              problems(rules, spec, definition, registers)]
    if errors:
        raise ValidationError(errors)


def problems(rules, spec, definition, registers=None):
    """What is wrong with each rule, as (position from 1, part, message); part is "name",
    "when", "then" or "group", so that the rules builder shows it where it was made."""
    found = []
    names = {f["name"] for f in spec} | EXTRA_VARS
    initial = definition.get("initial")
    possible = {t["code"] for t in workflowspec.transitions_from(definition, initial)}
    for position, rule in enumerate(rules, start=1):
        where = _("Rule %(n)s") % {"n": position}
        if not isinstance(rule, dict) or not rule.get("name"):
            found.append((position, "name", _("%(where)s: give it a name.") % {"where": where}))
            continue
        where = _("Rule “%(name)s”") % {"name": rule["name"]}
        try:
            _check_logic(rule.get("when"), names, registers=registers or {})
        except ValueError as exc:
            found.append((position, "when", f"{where}: {exc}"))
        then = rule.get("then")
        if then == "route":
            if not rule.get("group"):
                found.append((position, "group", _("%(where)s: say which group to route to.")
                              % {"where": where}))
        elif then not in possible:
            found.append((position, "then", _(
                "%(where)s: “%(then)s” is not a step the workflow allows for a new case "
                "(allowed: %(allowed)s, route).")
                % {"where": where, "then": then, "allowed": ", ".join(sorted(possible))}))
    return found


def _check_logic(node, names, top=True, registers=None):
    if top and not isinstance(node, dict):
        raise ValueError(_("the condition must be a JSON Logic object."))
    if isinstance(node, list):
        for item in node:
            _check_logic(item, names, top=False, registers=registers)
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
        if root == REGISTERS and (registers or root not in names):
            _check_register_var(str(name), registers or {})
        elif root not in names:
            raise ValueError(_("“%(name)s” is not a question of this form.") % {"name": name})
        return
    _check_logic(args, names, top=False, registers=registers)


def _check_register_var(name, registers):
    parts = name.split(".")
    if len(parts) != 3:
        raise ValueError(_("“%(name)s”: read registers.<register code>.found or "
                           "registers.<register code>.<field>.") % {"name": name})
    code, field = parts[1], parts[2]
    if code not in registers:
        raise ValueError(_("“%(name)s” reads the register “%(code)s”, which this service does "
                           "not look up (it looks up: %(codes)s). Add a register lookup "
                           "first.") % {"name": name, "code": code,
                                        "codes": ", ".join(sorted(registers)) or _("none")})
    if field != "found" and field not in registers[code]:
        raise ValueError(_("“%(name)s”: the register “%(code)s” has no field “%(field)s” "
                           "(it has: %(fields)s).")
                         % {"name": name, "code": code, "field": field,
                            "fields": ", ".join(["found", *registers[code]])})


def inputs_of(node, data):
    """The values of the variables a condition reads (recorded with each decision) and, for
    each register it reads, `registers.<code>`: which register, the key looked up, its
    number of records and when it was last imported."""
    found = {name: _lookup(data, name) for name in _vars_of(node)}
    if SOURCES in data:
        for code in _registers_read(node):
            found[f"{REGISTERS}.{code}"] = data[SOURCES].get(code)
    return found


def _vars_of(node):
    names = []
    if isinstance(node, list):
        for item in node:
            names += _vars_of(item)
    elif isinstance(node, dict):
        for operator, args in node.items():
            if operator == "var":
                name = args[0] if isinstance(args, list) and args else args
                names.append(str(name))
            else:
                names += _vars_of(args)
    return names


def _registers_read(node):
    return list(dict.fromkeys(name.split(".")[1] for name in _vars_of(node)
                              if name.startswith(REGISTERS + ".")))


def _lookup(data, dotted):
    value = data
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def facts(case):
    """What rules see: the answers with numbers as numbers, the channel, and what the
    service's register lookups found (one query for all of them)."""
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
    lookups = case.service.lookups
    if lookups:
        data[REGISTERS], data[SOURCES] = look_up(lookups, case.answers)
    return data


def first_match(rules, data):
    for rule in rules:
        if _reads_missing_register(rule, data):
            continue  # a register deleted since the service was saved never decides
        try:
            if engine.holds(rule["when"], data):
                return rule
        except engine.RuleError:
            continue  # an answer of an unexpected shape never decides anything
    return None


def _reads_missing_register(rule, data):
    read = _registers_read(rule.get("when"))
    if not read:
        return False
    if SOURCES not in data:  # the service looks nothing up: only a question can be read
        return REGISTERS not in data
    return any(data[REGISTERS].get(code) is None for code in read)
