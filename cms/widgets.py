"""Admin widgets of the content models.

`RichTextArea`: Wagtail's Draftail editor draws its text box as a contenteditable
role="textbox" with no accessible name (the field's <label> points at a hidden input), which
screen readers announce as an unnamed edit box (WCAG 4.1.2; axe `aria-input-field-name`).
This one hands Draftail the id of the field's label (`<id>-label`, which Wagtail's field
template gives it) as `ariaLabelledBy`. Installed for every rich text field by
WAGTAILADMIN_RICH_TEXT_EDITORS (dgbox/settings/base.py).
"""

import json

from django.core.serializers.json import DjangoJSONEncoder
from wagtail.admin.rich_text import DraftailRichTextArea


class RichTextArea(DraftailRichTextArea):
    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        field_id = (attrs or {}).get("id")
        if field_id:
            options = {**self.options, "ariaLabelledBy": f"{field_id}-label"}
            context["widget"]["attrs"]["data-w-init-detail-value"] = json.dumps(
                options, cls=DjangoJSONEncoder)
        return context
