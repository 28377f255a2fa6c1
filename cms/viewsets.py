"""Admin viewset helpers shared by the tenant apps (cms, services, notifications)."""


class AddLabelMixin:
    """A snippet viewset that names its add button as a whole phrase.

    Wagtail writes the button as "Add %(model_name)s", which in Russian leaves the model's
    name in the nominative where the accusative belongs ("Добавить онлайн-услуга"). A phrase
    translated whole ("Добавить онлайн-услугу") reads right in every language.
    """

    #: e.g. _("Add online service"); None keeps Wagtail's own label.
    add_item_label = None

    def get_index_view_kwargs(self, **kwargs):
        view_kwargs = super().get_index_view_kwargs(**kwargs)
        if self.add_item_label:
            view_kwargs["add_item_label"] = self.add_item_label
        return view_kwargs
