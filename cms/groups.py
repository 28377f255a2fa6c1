"""Settings → Groups as staff read it: a group that stands behind one of dgbox's roles
("Case workers", Wagtail's "Editors" and "Moderators") is listed and titled by its role's
translated name (tenants/staff.py `group_label`; every other screen prints groups through
`str()`, which `show_groups_by_role` points there). Its stored name is what code and
workflows look it up by, so it is shown but cannot be changed here. Installed as
Wagtail's group viewset by `cms.apps.WagtailUsersConfig`.
"""

from django.utils.translation import gettext_lazy as _
from wagtail.admin.ui.tables import TitleColumn
from wagtail.users.forms import GroupForm
from wagtail.users.views import groups

from tenants import staff


class RoleGroupForm(GroupForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and staff.role_of_group(self.instance.name):
            field = self.fields["name"]
            field.disabled = True
            field.help_text = _(
                "Shown to staff as “%(label)s”. The role “%(role)s” finds its group by this "
                "name, so it cannot be changed.") % {
                    "label": staff.group_label(self.instance.name),
                    "role": staff.role_of_group(self.instance.name).label}


class IndexView(groups.IndexView):
    columns = [TitleColumn("name", label=_("Name"), accessor=str, sort_key="name",
                           url_name="wagtailusers_groups:edit")]


class GroupViewSet(groups.GroupViewSet):
    index_view_class = IndexView

    def get_form_class(self, for_update=False):
        return RoleGroupForm
