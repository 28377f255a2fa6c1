"""The online form's editor in the service page's "Online application" tab: the form each
child row is edited with (`OnlineService.base_form_class`, honoured by cms/panels.py) and the
read-only view of its automatic rules as saved."""

import json

from wagtail.admin.forms import WagtailAdminModelForm
from wagtail.admin.panels import Panel

from ..rules.blocks import RulesBuilderFormMixin


class OnlineServiceForm(RulesBuilderFormMixin, WagtailAdminModelForm):
    """The online form's rows: automatic rules edited with the rules builder."""


class RulesJsonPanel(Panel):
    """Read-only: the automatic rules as saved, the JSON Logic the case engine runs."""

    class BoundPanel(Panel.BoundPanel):
        template_name = "services/admin/rules_json.html"

        def is_shown(self):
            return bool(self.instance and self.instance.pk and self.instance.rules)

        def get_context_data(self, parent_context=None):
            context = super().get_context_data(parent_context)
            context["rules_json"] = json.dumps(self.instance.rules, ensure_ascii=False,
                                               indent=2)
            return context
