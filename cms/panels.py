"""Panels the content models share.

`InlinePanel` is Wagtail's, with one difference: the child rows' forms are built on the child
model's own `base_form_class` when it has one (Wagtail uses it for a top-level model only).
A page's children defined by a higher layer (the service page's online form, services/) then
bring their own editor form, and this app never imports it.
"""

from wagtail.admin.panels import InlinePanel as WagtailInlinePanel
from wagtail.admin.panels import get_form_for_model


class InlinePanel(WagtailInlinePanel):
    def get_form_options(self):
        options = super().get_form_options()
        model = self.db_field.related_model
        form_class = getattr(model, "base_form_class", None)
        if form_class is None:
            return options
        formset = options["formsets"][self.relation_name]
        deferred = self.child_edit_handler.get_form_options().get("defer_required_on_fields")
        meta = {"defer_required_on_fields": deferred} if deferred else {}
        formset["form"] = get_form_for_model(model, form_class=form_class, **meta)
        return options
