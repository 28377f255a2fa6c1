"""The rules builder's language: "when [question or register field] [operator] [value] (and
or or more conditions) then [step] / route to [group]", and the JSON Logic it stands for.

A service's rules stay the JSON list services/rules/logic.py checks and runs; the builder is
a way of writing it. `to_builder` reads a rule into the builder's terms when it can say
exactly the same thing, and `to_rule` writes the builder's terms back as JSON Logic:

    {"subject": "floors", "operator": "lte", "answer": "3"}  <->  {"<=": [{"var": "floors"}, 3]}

A rule the builder cannot say (nested and/or, arithmetic, a literal compared the other way
round...) is left as it is: `to_builder` returns None and the admin shows its JSON to edit.
Reading then writing a rule the builder can say gives the same rule, so opening and saving a
service never changes what its rules do.

Subjects are what a rule may read: the form's questions (by label), how the application came
(`channel`) and, for each register the service looks up, whether the applicant is in it and
its fields. Each has a kind, which decides the operators offered and how the typed value is
stored (a number as a number, a date as 2026-03-31, yes/no as yes or no).
"""

from dataclasses import dataclass, field

from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from ..forms import conditions
from ..forms.spec import YES_NO, option_values
from .logic import REGISTERS

#: How an application came (the values of services.cases.models.Channel, which sits above
#: this module; tests/test_rules_builder.py checks they agree).
CHANNELS = (("online", _("Online")), ("office", _("At an office")), ("phone", _("By phone")),
            ("post", _("By post")))

#: Operator -> JSON Logic operator (None: the variable itself, read as true or false).
OPERATORS = {
    "eq": "==", "ne": "!=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<=",
    "includes": "in", "answered": "!!", "empty": "!", "true": None, "false": "!",
}
OPERATOR_LABELS = {
    "eq": pgettext_lazy("rule", "is / equals"), "ne": pgettext_lazy("rule", "is not"),
    "gt": pgettext_lazy("rule", "more than / after"),
    "gte": pgettext_lazy("rule", "at least / on or after"),
    "lt": pgettext_lazy("rule", "less than / before"),
    "lte": pgettext_lazy("rule", "at most / on or before"),
    "includes": pgettext_lazy("rule", "includes"),
    "answered": pgettext_lazy("rule", "is answered"),
    "empty": pgettext_lazy("rule", "is not answered"),
    "true": pgettext_lazy("rule", "yes"), "false": pgettext_lazy("rule", "no"),
}
COMPARISONS = ("eq", "ne", "gt", "gte", "lt", "lte")
WITHOUT_VALUE = ("answered", "empty", "true", "false")
#: The operators each kind of subject takes, in the order offered.
KIND_OPERATORS = {
    "text": ["eq", "ne", "answered", "empty"],
    "number": [*COMPARISONS, "answered", "empty"],
    "date": [*COMPARISONS, "answered", "empty"],
    "choice": ["eq", "ne", "answered", "empty"],
    "yes_no": ["eq", "ne", "answered", "empty"],
    "multi_choice": ["includes", "answered", "empty"],
    "channel": ["eq", "ne"],
    "found": ["true", "false"],
    "boolean": ["true", "false"],
}
#: The operators named for the kind of subject (the others keep their general name).
_IS = {"eq": pgettext_lazy("rule", "is"), "ne": pgettext_lazy("rule", "is not")}
KIND_LABELS = {
    "text": _IS, "choice": _IS, "yes_no": _IS, "channel": _IS,
    "number": {"eq": pgettext_lazy("rule", "equals"),
               "ne": pgettext_lazy("rule", "does not equal"),
               "gt": pgettext_lazy("rule", "more than"), "gte": pgettext_lazy("rule", "at least"),
               "lt": pgettext_lazy("rule", "less than"), "lte": pgettext_lazy("rule", "at most")},
    "date": {"eq": pgettext_lazy("rule", "is on"), "ne": pgettext_lazy("rule", "is not on"),
             "gt": pgettext_lazy("rule", "is after"),
             "gte": pgettext_lazy("rule", "is on or after"),
             "lt": pgettext_lazy("rule", "is before"),
             "lte": pgettext_lazy("rule", "is on or before")},
}
#: Question types a rule can read (an address or an upload is not a value to compare).
QUESTION_KINDS = {"text": "text", "long_text": "text", "email": "text", "phone": "text",
                  "national_id": "text", "number": "number", "date": "date",
                  "choice": "choice", "yes_no": "yes_no", "multi_choice": "multi_choice"}
REGISTER_KINDS = {"text": "text", "number": "number", "date": "date", "boolean": "boolean"}
#: What "yes" and "no" may be typed as (the answers are stored as yes and no).
YES_WORDS = {"yes", "да", "y", "д"}
NO_WORDS = {"no", "нет", "n", "н"}


@dataclass(frozen=True)
class Subject:
    """Something a rule can read: its variable, its name for editors, its kind and, for a
    choice, its answers as (stored value, words)."""

    var: str
    label: str
    kind: str
    group: str = ""
    answers: tuple = field(default=())


def subjects(spec, registers=()):
    """What rules of a service with this form may read. `registers` lists the registers it
    looks up as (code, name, [(field name, field type)])."""
    found = []
    questions = _("Questions")
    for question in spec:
        kind = QUESTION_KINDS.get(question["type"])
        if kind is None:
            continue
        answers = ()
        if kind == "yes_no":
            answers = tuple((value, str(label)) for value, label in YES_NO)
        elif kind in ("choice", "multi_choice"):
            answers = tuple((value, value) for value in option_values(question))
        found.append(Subject(question["name"], question["label"] or question["name"], kind,
                             str(questions), answers))
    found.append(Subject("channel", str(_("How the application came")), "channel",
                         str(_("The application")),
                         tuple((value, str(label)) for value, label in CHANNELS)))
    for code, name, fields in registers:
        group = str(_("Register “%(name)s”") % {"name": name})
        found.append(Subject(f"{REGISTERS}.{code}.found",
                             str(_("%(name)s: is the applicant listed") % {"name": name}),
                             "found", group))
        for field_name, field_type in fields:
            found.append(Subject(f"{REGISTERS}.{code}.{field_name}",
                                 f"{name}: {field_name}",
                                 REGISTER_KINDS.get(field_type, "text"), group))
    return found


# --- builder -> JSON Logic ---------------------------------------------------------------
class CannotWrite(ValueError):
    """What the builder cannot write as given. Raised by `typed` and `condition_logic` with
    (message, part of the condition: "operator" or "answer"), by `to_rule` with a list of
    (condition index or None, part, message)."""


def typed(subject, operator, answer):
    """The value a condition compares with, as the rule stores it."""
    text = str(answer if answer is not None else "").strip()
    kind = subject.kind if subject else "text"
    if kind == "number":
        number = conditions.number(text)
        if number is None:
            raise CannotWrite(_("Write a number, like 3 or 2.5."), "answer")
        return int(number) if number == number.to_integral_value() else float(number)
    if kind == "date":
        parsed = conditions.parse_date(text)
        if parsed is None:
            raise CannotWrite(_("Write a date, like 31.03.2026."), "answer")
        return parsed.isoformat()
    if kind == "yes_no":
        word = text.casefold()
        if word in YES_WORDS:
            return "yes"
        if word in NO_WORDS:
            return "no"
        raise CannotWrite(_("Choose yes or no."), "answer")
    if not text:
        raise CannotWrite(_("Say what to compare with."), "answer")
    return text


def condition_logic(condition, subject):
    """One condition of the builder ({"subject", "operator", "answer"}) as JSON Logic."""
    operator = condition.get("operator") or "eq"
    if operator not in OPERATORS:
        raise CannotWrite(_("Choose what to compare."), "operator")
    if subject and operator not in KIND_OPERATORS[subject.kind]:
        raise CannotWrite(_("“%(operator)s” does not fit “%(subject)s”; choose one of: "
                            "%(allowed)s.") % {
            "operator": OPERATOR_LABELS[operator], "subject": subject.label,
            "allowed": ", ".join(str(label_for(subject.kind, op))
                                 for op in KIND_OPERATORS[subject.kind])}, "operator")
    variable = {"var": condition.get("subject") or ""}
    if operator == "true":
        return variable
    if operator in ("false", "empty"):
        return {"!": [variable]}
    if operator == "answered":
        return {"!!": [variable]}
    value = typed(subject, operator, condition.get("answer"))
    if operator == "includes":
        return {"in": [value, variable]}
    return {OPERATORS[operator]: [variable, value]}


def label_for(kind, operator):
    return KIND_LABELS.get(kind, {}).get(operator) or OPERATOR_LABELS[operator]


def to_rule(built, catalogue):
    """The JSON rule for the builder's terms ({"name", "match": "all" | "any",
    "conditions": [...], "then", "group"}). `catalogue` maps variables to Subjects (a
    variable not in it is written as it is: the rule's validation then says why it cannot
    be read). Raises CannotWrite with every condition that cannot be written."""
    logic, problems = [], []
    for index, condition in enumerate(built.get("conditions") or []):
        try:
            logic.append(condition_logic(condition, catalogue.get(condition.get("subject"))))
        except CannotWrite as exc:
            message, part = exc.args
            problems.append((index, part, message))
    if not logic and not problems:
        problems.append((None, None, _("Add at least one condition.")))
    if problems:
        raise CannotWrite(problems)
    when = logic[0] if len(logic) == 1 else {"or" if built.get("match") == "any" else "and":
                                             logic}
    rule = {"name": built.get("name") or "", "when": when, "then": built.get("then") or ""}
    if rule["then"] == "route":
        rule["group"] = built.get("group") or ""
    return rule


# --- JSON Logic -> builder ---------------------------------------------------------------
def _variable(node):
    if isinstance(node, dict) and set(node) == {"var"}:
        name = node["var"]
        if isinstance(name, list) and len(name) == 1:
            name = name[0]
        return name if isinstance(name, str) else None
    return None


def _unary(node, operator):
    """The variable of {"!": [{"var": x}]} (or {"!": {"var": x}}) for `operator`."""
    if isinstance(node, dict) and set(node) == {operator}:
        args = node[operator]
        if isinstance(args, list) and len(args) == 1:
            args = args[0]
        return _variable(args)
    return None


def _literal_text(value):
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float | str):
        return str(value)
    return None


def condition_from_logic(node, catalogue):
    """The builder's condition for one JSON Logic comparison, or None."""
    name = _variable(node)
    if name is not None:
        return {"subject": name, "operator": "true", "answer": ""}
    for operator in ("!", "!!"):
        name = _unary(node, operator)
        if name is not None:
            subject = catalogue.get(name)
            if operator == "!!":
                return {"subject": name, "operator": "answered", "answer": ""}
            boolean = subject is not None and subject.kind in ("found", "boolean")
            return {"subject": name, "operator": "false" if boolean else "empty", "answer": ""}
    if not isinstance(node, dict) or len(node) != 1:
        return None
    (json_operator, args), = node.items()
    if not isinstance(args, list) or len(args) != 2:
        return None
    if json_operator == "in":
        name, answer = _variable(args[1]), _literal_text(args[0])
        operator = "includes"
    else:
        operator = {v: k for k, v in OPERATORS.items() if k in COMPARISONS}.get(json_operator)
        name, answer = _variable(args[0]), _literal_text(args[1])
    if operator is None or name is None or answer is None:
        return None
    return {"subject": name, "operator": operator, "answer": answer}


def to_builder(rule, catalogue):
    """The builder's terms for a JSON rule, or None when the builder cannot say exactly the
    same (its JSON is then edited as it is)."""
    if not isinstance(rule, dict) or set(rule) - {"name", "when", "then", "group"}:
        return None
    when = rule.get("when")
    match, parts = "all", [when]
    if isinstance(when, dict) and len(when) == 1 and next(iter(when)) in ("and", "or") and \
            isinstance(next(iter(when.values())), list) and len(next(iter(when.values()))) > 1:
        operator, parts = next(iter(when.items()))
        match = "any" if operator == "or" else "all"
    found = [condition_from_logic(part, catalogue) for part in parts]
    if not found or any(condition is None for condition in found):
        return None
    built = {"name": rule.get("name") or "", "match": match, "conditions": found,
             "then": rule.get("then") or "", "group": rule.get("group") or ""}
    try:
        if to_rule(built, catalogue) != rule:
            return None
    except CannotWrite:
        return None
    return built
