"""Admin widgets the builders share (form conditions, automatic rules, workflow steps): lists
to choose from instead of codes to type.

Wagtail draws StreamField blocks in the browser (telepath), so these widgets have a browser
side, services/static/services/admin/builders.js: it fills each list from what the editor
has on the page at that moment (the questions above, the workflow's states), so a question
or a state added a moment ago is offered before anything is saved. What is posted is the
same value a typed code was (a question's id or name, a state code, a group name); the
server checks it like any other and explains what is wrong where it was chosen.

A value that is not among the choices (a group not made yet, a state since removed) is kept
and shown as such, never silently replaced by the first choice.
"""

from django import forms
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from wagtail.admin.telepath import register
from wagtail.admin.telepath.widgets import WidgetAdapter

#: Words the browser side shows; translated on the server.
STRINGS = {
    "choose": _("Choose…"),
    "missing": _("“%s” (not in the list)"),
    "no_group": _("“%s” (no such group yet)"),
    "no_state": _("“%s” (no such state)"),
    "ends": _("%s (ends the case)"),
    "yes": _("Yes"),
    "no": _("No"),
}


def strings(**extra):
    return {key: str(value) for key, value in {**STRINGS, **extra}.items()}


class ChooserSelect(forms.Select):
    """A list whose options the browser fills from a source on the page.

    `source` names it: "questions-above" (questions of the same form above this one),
    "states" (the workflow's states) or "" (the options given here, e.g. staff groups);
    `missing` is how a value not among them is shown ("missing", "no_group", "no_state"),
    `blank` what choosing nothing means (e.g. "Always ask"); `shown_when` = (sibling field,
    value): the list is only shown while that field of the same block has that value.
    The server accepts any value (the form field decides): the model's validation says what
    is wrong with it, in words.
    """

    def __init__(self, *, source="", missing="missing", blank=None, shown_when=None,
                 attrs=None, choices=()):
        super().__init__(attrs=attrs, choices=choices)
        self.source = source
        self.missing = missing
        self.blank = blank
        self.shown_when = shown_when

    def js_config(self):
        config = {"source": self.source, "missing": self.missing}
        if self.blank:
            config["blank"] = str(self.blank)
        if self.shown_when:
            config["shownWhen"] = list(self.shown_when)
        return config


class ChooserCheckboxes(forms.TextInput):
    """Several values from a source on the page, ticked in a list; posted as the
    comma-separated text a typed list was ("received, in_review")."""

    input_type = "hidden"

    def __init__(self, *, source, label, attrs=None):
        super().__init__(attrs=attrs)
        self.source = source
        self.label = label

    def value_from_datadict(self, data, files, name):
        # Ticked boxes post one value each (without JavaScript's help, or from a test, the
        # comma-separated text arrives as one value): both end up as the same text.
        values = data.getlist(name) if hasattr(data, "getlist") else [data.get(name)]
        return ", ".join(value for value in values if value)

    def js_config(self):
        return {"source": self.source, "missing": "no_state", "label": str(self.label)}


class AnswerInput(forms.TextInput):
    """The answer a condition compares with: a list of the chosen question's answers when it
    has some (choice, yes/no), a text box for a number or a date, nothing to fill for "is
    answered". `kinds` tells the browser which sibling inputs hold the question and the
    operator; `op_labels` and `ops` name and filter the operators by the question's type."""

    def __init__(self, *, question_field, op_field, ops, op_labels, source, attrs=None):
        super().__init__(attrs=attrs)
        self.question_field = question_field
        self.op_field = op_field
        self.ops = ops
        self.op_labels = op_labels
        self.source = source

    def js_config(self):
        return {"source": self.source, "questionField": self.question_field,
                "opField": self.op_field, "ops": self.ops,
                "opLabels": {kind: {op: str(label) for op, label in labels.items()}
                             for kind, labels in self.op_labels.items()}}


class BuilderWidgetAdapter(WidgetAdapter):
    """Packs a builder widget for the browser: its HTML, what fills it and its words."""

    def js_args(self, widget):
        return [widget.render("__NAME__", None, attrs={"id": "__ID__"}),
                {**widget.js_config(), "strings": strings()}]

    @cached_property
    def media(self):
        return super().media + forms.Media(js=["services/admin/builders.js"])


class ChooserSelectAdapter(BuilderWidgetAdapter):
    js_constructor = "dgbox.widgets.ChooserSelect"


class ChooserCheckboxesAdapter(BuilderWidgetAdapter):
    js_constructor = "dgbox.widgets.ChooserCheckboxes"


class AnswerInputAdapter(BuilderWidgetAdapter):
    js_constructor = "dgbox.widgets.AnswerInput"


register(ChooserSelectAdapter(), ChooserSelect)
register(ChooserCheckboxesAdapter(), ChooserCheckboxes)
register(AnswerInputAdapter(), AnswerInput)

