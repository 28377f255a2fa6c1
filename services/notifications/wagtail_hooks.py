"""Admin: editors customise notification templates; staff can look at (not edit) messages."""

from django.utils.translation import gettext_lazy as _
from wagtail.permission_policies import ModelPermissionPolicy
from wagtail.permissions import register_permission_policy
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import SnippetViewSet, SnippetViewSetGroup

from cms.viewsets import AddLabelMixin

from .models import Message, NotificationTemplate


class NotificationTemplateViewSet(AddLabelMixin, SnippetViewSet):
    model = NotificationTemplate
    add_item_label = _("Add notification template")
    icon = "mail"
    menu_label = _("Notification templates")
    list_display = ["__str__", "subject", "updated_at"]
    list_filter = ["key", "channel", "language"]
    copy_view_enabled = True


class ReadOnlyPermissionPolicy(ModelPermissionPolicy):
    """Messages are a record: they can be viewed with the "view" permission, never added,
    edited or deleted through the admin."""

    def user_has_permission(self, user, action):
        if action in ("add", "change", "delete"):
            return False
        return super().user_has_permission(user, action)


class MessageViewSet(SnippetViewSet):
    model = Message
    icon = "list-ul"
    menu_label = _("Messages")
    inspect_view_enabled = True
    copy_view_enabled = False
    list_display = ["__str__", "status", "topic", "attempts", "created_at", "sent_at"]
    list_filter = ["status", "channel", "key"]
    inspect_view_fields = ["channel", "recipient", "key", "language", "subject", "body", "topic",
                           "status", "attempts", "last_error", "provider_message_id",
                           "created_at", "sent_at", "next_attempt_at"]


class NotificationsViewSetGroup(SnippetViewSetGroup):
    menu_label = _("Notifications")
    menu_icon = "mail"
    menu_order = 300
    items = (NotificationTemplateViewSet, MessageViewSet)


register_permission_policy(Message, ReadOnlyPermissionPolicy(Message), exact_class=True)
register_snippet(NotificationsViewSetGroup)
