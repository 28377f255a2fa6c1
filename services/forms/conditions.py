"""Conditional questions: a question asked only when an earlier answer says so.

In a spec a condition is `"show_if": {"field": <earlier question's name>, "value": ...,
"op": ...}`. Without "op" it is the original kind of condition, "the answer is" one answer of
a choice or yes/no question ("includes" it, for a question with several answers), so specs
made before operators existed mean what they meant. The other operators compare a number or
a date, or ask whether the earlier question was answered at all:

    {"field": "floors", "op": "gt", "value": "3"}
    {"field": "phone", "op": "not_answered"}

Which operators make sense depends on the earlier question's type (`ops_for`); `problems`
says what is wrong with a condition and on which part of it (the admin shows each message on
that part of the question, services/forms/blocks.py), `is_met` decides it on what the
applicant sent, and `hint` says it in words for the applicant.
"""

from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

#: Operators, as the admin lists them when it does not know the earlier question's type. The
#: words are shown in a list next to the question and in the applicant's hint (`hint`), so
#: they have a context of their own for translators.
OPS = {
    "eq": pgettext_lazy("condition", "is"),
    "gt": pgettext_lazy("condition", "more than / after"),
    "gte": pgettext_lazy("condition", "at least / on or after"),
    "lt": pgettext_lazy("condition", "less than / before"),
    "lte": pgettext_lazy("condition", "at most / on or before"),
    "answered": pgettext_lazy("condition", "is answered"),
    "not_answered": pgettext_lazy("condition", "is not answered"),
}
#: The same operators named for the kind of answer they compare.
OP_LABELS = {
    "choice": {"eq": pgettext_lazy("condition", "is")},
    "multi_choice": {"eq": pgettext_lazy("condition", "includes")},
    "number": {"eq": pgettext_lazy("condition", "is"),
               "gt": pgettext_lazy("condition", "is more than"),
               "gte": pgettext_lazy("condition", "is at least"),
               "lt": pgettext_lazy("condition", "is less than"),
               "lte": pgettext_lazy("condition", "is at most")},
    "date": {"eq": pgettext_lazy("condition", "is on"),
             "gt": pgettext_lazy("condition", "is after"),
             "gte": pgettext_lazy("condition", "is on or after"),
             "lt": pgettext_lazy("condition", "is before"),
             "lte": pgettext_lazy("condition", "is on or before")},
}
WITHOUT_VALUE = ("answered", "not_answered")
COMPARING = ("eq", "gt", "gte", "lt", "lte")
#: Question types whose answers are listed: the condition picks one of them.
LISTED = ("choice", "multi_choice", "yes_no")
ORDERED = ("number", "date")
#: What an applicant's upload is cannot decide what else is asked (it may be kept from an
#: earlier try, so the form data does not show it).
NOT_A_SOURCE = ("file",)


def ops_for(kind):
    """The operators a condition on a question of type `kind` may use, in the order offered."""
    if kind in NOT_A_SOURCE:
        return []
    if kind in LISTED:
        return ["eq", *WITHOUT_VALUE]
    if kind in ORDERED:
        return [*COMPARING, *WITHOUT_VALUE]
    return list(WITHOUT_VALUE)


def op_label(kind, op):
    labels = OP_LABELS.get("choice" if kind == "yes_no" else kind, {})
    return labels.get(op) or OPS.get(op, op)


def problems(condition, source, where, option_values, label_of):
    """(part, message) for each thing wrong with `condition`; part is "field", "op" or
    "value". `source` is the earlier question's spec or None when there is no such question
    above; `label_of(name)` names a question of the form (for the message)."""
    field = condition.get("field")
    if source is None:
        if label_of(field) is None:  # removed, or never there
            return [("field", _("%(where)s: the question it depends on is not in the form; "
                                "choose one of the questions above it.") % {"where": where})]
        return [("field", _("%(where)s: it can only depend on a question above it; "
                            "“%(field)s” is not one.")
                 % {"where": where, "field": label_of(field)})]
    kind = source["type"]
    op = condition.get("op") or "eq"
    allowed = ops_for(kind)
    if not allowed:
        return [("field", _("%(where)s: it cannot depend on a file upload; choose another "
                            "question.") % {"where": where})]
    if op not in OPS:
        return [("op", _("%(where)s: unknown condition “%(op)s”.")
                 % {"where": where, "op": op})]
    if op not in allowed:
        if op == "eq":
            message = _("%(where)s: it can only depend on a choice or yes/no question, a "
                        "number or a date; for “%(field)s” choose “is answered” or “is not "
                        "answered”.")
        else:
            message = _("%(where)s: “%(op)s” compares numbers or dates; “%(field)s” is not "
                        "a number or date question.")
        return [("op", message % {"where": where, "field": source.get("label"),
                                  "op": OPS[op]})]
    if op in WITHOUT_VALUE:
        return []
    value = condition.get("value")
    if kind in LISTED and value not in option_values(source):
        return [("value", _("%(where)s: “%(value)s” is not an answer to “%(field)s”.")
                 % {"where": where, "value": value, "field": source.get("label")})]
    if kind == "number" and number(value) is None:
        return [("value", _("%(where)s: write the number to compare with, like 3 or 2.5.")
                 % {"where": where})]
    if kind == "date" and parse_date(value) is None:
        return [("value", _("%(where)s: write the date to compare with, like 31.03.2026.")
                 % {"where": where})]
    return []


def number(value):
    """A typed number ("3", "2,5", "1 000") as a Decimal, or None."""
    if isinstance(value, int | float | Decimal):
        return Decimal(str(value))
    text = str(value or "").replace("\u00a0", "").replace(" ", "").replace(",", ".")
    try:
        result = Decimal(text)
    except InvalidOperation:
        return None
    return result if result.is_finite() else None


def parse_date(value):
    """A date written 2026-03-31 (what a date input sends) or 31.03.2026, or None."""
    if isinstance(value, date):
        return value
    text = str(value or "").strip()
    for pattern in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    return None


def answered(raw):
    """Whether an answer as the form sent it says anything (composite answers, such as an
    address's lines, count when any part is filled)."""
    if isinstance(raw, list | tuple):
        return any(answered(part) for part in raw)
    if isinstance(raw, str):
        return bool(raw.strip())
    return raw is not None


def is_met(condition, source, raw):
    """Whether the condition holds for the earlier question's answer as the form sent it."""
    op = condition.get("op") or "eq"
    if op == "answered":
        return answered(raw)
    if op == "not_answered":
        return not answered(raw)
    value = condition.get("value")
    if source["type"] in ORDERED:
        read = number if source["type"] == "number" else parse_date
        left, right = read(raw if isinstance(raw, str) else ""), read(value)
        if left is None or right is None:
            return False
        return {"eq": left == right, "gt": left > right, "gte": left >= right,
                "lt": left < right, "lte": left <= right}.get(op, False)
    if op != "eq":
        return False
    if isinstance(raw, list | tuple):
        return value in raw
    return raw == value


def hint(condition, source, display):
    """The condition as the applicant reads it, next to the question it controls.
    `display(source, value)` shows an answer in words (Yes for yes)."""
    op = condition.get("op") or "eq"
    question = source.get("label", "")
    if op == "answered":
        return _("Answer only if you answered “%(question)s”.") % {"question": question}
    if op == "not_answered":
        return _("Answer only if you did not answer “%(question)s”.") % {"question": question}
    value = condition.get("value")
    if source["type"] in LISTED:
        return _("Answer only if you answered “%(a)s” to “%(b)s”.") % {
            "a": display(source, value), "b": question}
    if source["type"] == "date":
        parsed = parse_date(value)
        value = parsed.strftime("%d.%m.%Y") if parsed else value
    return _("Answer only if your answer to “%(question)s” %(condition)s %(value)s.") % {
        "question": question, "condition": op_label(source["type"], op), "value": value}
