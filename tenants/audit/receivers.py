"""Receivers that turn Django's signals into audit events: sign-in, failed sign-in, sign-out,
users created, (de)activated or made administrators, group and permission changes; and, when
those apps are installed, django-axes lockouts and django-otp devices added or removed.

A failed sign-in names the account when the user name typed is one of this schema's accounts;
otherwise only a keyed hash and the length of what was typed are kept (it may be a password
typed into the wrong field, or a citizen's name).
"""

import importlib
from typing import Any

from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save
from django.http import HttpRequest

from .context import Actor, user_actor
from .models import Kind
from .service import keyed_hash, record

WATCHED_FLAGS = ("is_active", "is_superuser", "is_staff")


def on_signed_in(sender: Any, request: HttpRequest, user: Any, **_kwargs: Any) -> None:
    actor = user_actor(user)
    record(Kind.SIGN_IN, actor.display, obj=user, actor=actor, request=request)


def on_signed_out(sender: Any, request: HttpRequest, user: Any, **_kwargs: Any) -> None:
    if user is None:  # signing out without a session
        return
    actor = user_actor(user)
    record(Kind.SIGN_OUT, actor.display, obj=user, actor=actor, request=request)


def on_sign_in_failed(sender: Any, credentials: dict[str, Any],
                      request: HttpRequest | None = None, **_kwargs: Any) -> None:
    user_model = get_user_model()
    typed = str(credentials.get(user_model.USERNAME_FIELD) or credentials.get("username") or "")
    account = (user_model._default_manager
               .filter(**{f"{user_model.USERNAME_FIELD}__iexact": typed}).first()
               if typed else None)
    if account is not None:
        target = user_actor(account)
        record(Kind.SIGN_IN_FAILED, target.display, obj=account, actor=Actor(None, ""),
               request=request, details={"account": target.id})
    else:
        record(Kind.SIGN_IN_FAILED, "", actor=Actor(None, ""), request=request,
               details={"username_hash": keyed_hash(typed), "username_length": len(typed)})


def on_locked_out(sender: Any, request: HttpRequest | None = None, username: str = "",
                  ip_address: str = "", **_kwargs: Any) -> None:
    """django-axes' `user_locked_out`: the account (or a keyed hash of an unknown name)."""
    user_model = get_user_model()
    account = (user_model._default_manager
               .filter(**{f"{user_model.USERNAME_FIELD}__iexact": username}).first()
               if username else None)
    if account is not None:
        record(Kind.LOCKED_OUT, user_actor(account).display, obj=account,
               actor=Actor(None, ""), request=request)
    else:
        record(Kind.LOCKED_OUT, "", actor=Actor(None, ""), request=request,
               details={"username_hash": keyed_hash(username or ""),
                        "username_length": len(username or "")})


def two_factor_added(user: Any, device_type: str, device_name: str = "") -> None:
    """A second-factor device was enrolled (confirmed) for `user`."""
    record(Kind.TWO_FACTOR_ADDED, user_actor(user).display, obj=user,
           details={"device": device_type, "name": device_name[:100]})


def two_factor_removed(user: Any, device_type: str, device_name: str = "") -> None:
    record(Kind.TWO_FACTOR_REMOVED, user_actor(user).display, obj=user,
           details={"device": device_type, "name": device_name[:100]})


def on_device_pre_save(sender: Any, instance: Any, **_kwargs: Any) -> None:
    previous = sender._default_manager.filter(pk=instance.pk).values("confirmed").first()
    instance._audit_was_confirmed = bool(previous and previous["confirmed"])


def on_device_saved(sender: Any, instance: Any, **_kwargs: Any) -> None:
    """django-otp: a device counts as enrolled once confirmed."""
    if getattr(instance, "confirmed", True) and not getattr(instance, "_audit_was_confirmed",
                                                            False):
        two_factor_added(instance.user, sender._meta.label_lower, instance.name or "")


def on_device_deleted(sender: Any, instance: Any, **_kwargs: Any) -> None:
    two_factor_removed(instance.user, sender._meta.label_lower, instance.name or "")


def on_user_pre_save(sender: Any, instance: Any, update_fields: Any = None,
                     **_kwargs: Any) -> None:
    if instance.pk is None or (update_fields is not None
                               and not set(update_fields) & set(WATCHED_FLAGS)):
        return
    instance._audit_before = (sender._default_manager.filter(pk=instance.pk)
                              .values(*WATCHED_FLAGS).first())


def on_user_saved(sender: Any, instance: Any, created: bool, **_kwargs: Any) -> None:
    target = user_actor(instance).display
    if created:
        record(Kind.USER_CREATED, target, obj=instance,
               details={flag: getattr(instance, flag) for flag in WATCHED_FLAGS})
        return
    before = getattr(instance, "_audit_before", None)
    instance._audit_before = None
    if not before:
        return
    if before["is_active"] != instance.is_active:
        kind = Kind.USER_ACTIVATED if instance.is_active else Kind.USER_DEACTIVATED
        record(kind, target, obj=instance)
    changed = {flag: instance_value for flag in ("is_superuser", "is_staff")
               if (instance_value := getattr(instance, flag)) != before[flag]}
    if changed:
        record(Kind.USER_ROLE_CHANGED, target, obj=instance, details=changed)


def _permission_names(pks: Any) -> list[str]:
    return sorted(f"{app}.{codename}" for app, codename in Permission.objects.filter(
        pk__in=pks).values_list("content_type__app_label", "codename"))


def on_user_groups_changed(sender: Any, instance: Any, action: str, reverse: bool,
                           pk_set: set[Any] | None, **_kwargs: Any) -> None:
    """user.groups.add/remove/set/clear, and group.user_set.* the other way round."""
    if action == "pre_clear":
        if reverse:
            instance._audit_cleared = list(instance.user_set.values_list("pk", flat=True))
        else:
            instance._audit_cleared = list(instance.groups.values_list("pk", flat=True))
        return
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    pks = set(pk_set or getattr(instance, "_audit_cleared", []) or [])
    if not pks:
        return
    change = "added" if action == "post_add" else "removed"
    user_model = get_user_model()
    if reverse:  # instance is a group, pks are users
        for user in user_model._default_manager.filter(pk__in=pks):
            record(Kind.USER_GROUPS_CHANGED, user_actor(user).display, obj=user,
                   details={change: [instance.name]})
    else:
        names = sorted(Group.objects.filter(pk__in=pks).values_list("name", flat=True))
        record(Kind.USER_GROUPS_CHANGED, user_actor(instance).display, obj=instance,
               details={change: names})


def _on_permissions_changed(kind: Kind, instance: Any, action: str, reverse: bool,
                            pk_set: set[Any] | None, label: str, related: str) -> None:
    if action == "pre_clear":
        instance._audit_cleared = list(getattr(instance, related).values_list("pk", flat=True))
        return
    if action not in ("post_add", "post_remove", "post_clear") or reverse:
        return  # permission.group_set / permission.user_set: not used by the admin
    pks = set(pk_set or getattr(instance, "_audit_cleared", []) or [])
    if pks:
        change = "added" if action == "post_add" else "removed"
        record(kind, label, obj=instance, details={change: _permission_names(pks)})


def on_user_permissions_changed(sender: Any, instance: Any, action: str, reverse: bool,
                                pk_set: set[Any] | None, **_kwargs: Any) -> None:
    if reverse:
        return
    _on_permissions_changed(Kind.USER_PERMISSIONS_CHANGED, instance, action, reverse, pk_set,
                            user_actor(instance).display, "user_permissions")


def on_group_permissions_changed(sender: Any, instance: Any, action: str, reverse: bool,
                                 pk_set: set[Any] | None, **_kwargs: Any) -> None:
    if reverse:
        return
    _on_permissions_changed(Kind.GROUP_PERMISSIONS_CHANGED, instance, action, reverse, pk_set,
                            instance.name, "permissions")


def connect() -> None:
    """Connect every receiver (AuditConfig.ready()); lockouts and 2FA devices only when
    django-axes or django-otp is installed."""
    user_logged_in.connect(on_signed_in, dispatch_uid="audit-sign-in")
    user_logged_out.connect(on_signed_out, dispatch_uid="audit-sign-out")
    user_login_failed.connect(on_sign_in_failed, dispatch_uid="audit-sign-in-failed")
    user_model = get_user_model()
    pre_save.connect(on_user_pre_save, sender=user_model, dispatch_uid="audit-user-pre")
    post_save.connect(on_user_saved, sender=user_model, dispatch_uid="audit-user")
    m2m_changed.connect(on_user_groups_changed, sender=user_model.groups.through,
                        dispatch_uid="audit-user-groups")
    m2m_changed.connect(on_user_permissions_changed, sender=user_model.user_permissions.through,
                        dispatch_uid="audit-user-permissions")
    m2m_changed.connect(on_group_permissions_changed, sender=Group.permissions.through,
                        dispatch_uid="audit-group-permissions")
    if apps.is_installed("axes"):
        signals = importlib.import_module("axes.signals")
        signals.user_locked_out.connect(on_locked_out, dispatch_uid="audit-locked-out")
    if apps.is_installed("django_otp"):
        device = importlib.import_module("django_otp.models").Device
        for model in apps.get_models():
            if issubclass(model, device):
                pre_save.connect(on_device_pre_save, sender=model,
                                 dispatch_uid=f"audit-2fa-pre-{model._meta.label_lower}")
                post_save.connect(on_device_saved, sender=model,
                                  dispatch_uid=f"audit-2fa-{model._meta.label_lower}")
                post_delete.connect(on_device_deleted, sender=model,
                                    dispatch_uid=f"audit-2fa-gone-{model._meta.label_lower}")
