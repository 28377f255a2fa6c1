"""`{name}` placeholders: parsing, checking and rendering.

Deliberately not Django templates nor str.format: a template is text with `{name}` slots and
nothing else (no attribute access, indexing, format specs or logic), so an editor can write
one safely and a typo is caught when the template is saved. `{{` and `}}` stand for literal
braces.
"""

import re

from django.utils.translation import gettext as _

from .choices import MessageKind

#: The placeholders each message kind may use. A caller of notify() supplies exactly these
#: (`tenant_name` is filled in from the current tenant when not given).
PLACEHOLDERS: dict[str, tuple[str, ...]] = {
    MessageKind.APPLICATION_RECEIVED: (
        "reference", "service", "url", "applicant_name", "tenant_name"),
    MessageKind.TRACKING_CODE: (
        "reference", "service", "code", "url", "applicant_name", "tenant_name"),
    MessageKind.STATUS_CHANGED: (
        "reference", "service", "status", "url", "applicant_name", "tenant_name"),
    MessageKind.MORE_INFORMATION_REQUESTED: (
        "reference", "service", "url", "applicant_name", "tenant_name"),
    MessageKind.DECISION_MADE: (
        "reference", "service", "status", "url", "applicant_name", "tenant_name"),
    MessageKind.PAYMENT_RECEIVED: (
        "reference", "service", "amount", "url", "applicant_name", "tenant_name"),
    # To staff, about several cases: `cases` is the list (reference, service, due date and
    # link per case), `references` the first few references, `url` the admin's case list.
    MessageKind.STAFF_ESCALATION: ("count", "references", "cases", "url", "tenant_name"),
    # To the tenant's administrators (services/webhooks/delivery.py): the API client, the
    # subscription's URL, the deliveries failed in a row, `url` its delivery log in the admin.
    MessageKind.WEBHOOK_DISABLED: ("client", "target_url", "failures", "url", "tenant_name"),
}

_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


class PlaceholderError(ValueError):
    """A template that cannot be used: a broken brace or a placeholder that is not allowed."""


def parse(text: str) -> list[tuple[str, str | None]]:
    """Split `text` into (literal, placeholder name or None) pieces; raise PlaceholderError on
    a lone brace or a slot that is not a plain name."""
    pieces: list[tuple[str, str | None]] = []
    position = 0
    for match in _TOKEN.finditer(text):
        literal = text[position:match.start()]
        token = match.group(0)
        position = match.end()
        if token in ("{{", "}}"):
            pieces.append((literal + token[0], None))
        elif token in ("{", "}"):
            raise PlaceholderError(_(
                "Unmatched “%(brace)s” at character %(position)s. Placeholders look like "
                "{reference}; write %(double)s for a literal brace."
            ) % {"brace": token, "position": match.start() + 1, "double": token * 2})
        else:
            name = match.group(1).strip()
            if not _NAME.match(name):
                raise PlaceholderError(_(
                    "“%(slot)s” is not a placeholder: use a plain name in braces, such as "
                    "{reference}."
                ) % {"slot": token})
            pieces.append((literal, name))
    pieces.append((text[position:], None))
    return pieces


def check(text: str, kind: str) -> None:
    """Raise PlaceholderError unless every placeholder in `text` is allowed for `kind`."""
    allowed = PLACEHOLDERS[kind]
    unknown = sorted({name for _literal, name in parse(text) if name and name not in allowed})
    if unknown:
        raise PlaceholderError(_(
            "Unknown placeholder %(unknown)s. This message can use: %(allowed)s."
        ) % {"unknown": ", ".join(f"{{{n}}}" for n in unknown),
             "allowed": ", ".join(f"{{{n}}}" for n in allowed)})


def render(text: str, context: dict[str, object]) -> str:
    """Fill the placeholders of `text` from `context` (values as text; None as empty)."""
    out = []
    for literal, name in parse(text):
        out.append(literal)
        if name is not None:
            value = context[name]
            out.append("" if value is None else str(value))
    return "".join(out)
