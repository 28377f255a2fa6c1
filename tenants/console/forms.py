"""The console's forms: launching a tenant, confirming an action.

The launch form checks only what a browser can get wrong in shape; every rule about names,
slugs, domains and parents is `tenants.launch.validate_launch()`'s, the same as the CLI's, and
its problems are shown next to their fields, each in the reader's language (`LAUNCH_MESSAGES`
by the problem's code, English from the launch service otherwise).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import authenticate
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from tenants.launch import LaunchError, LaunchRequest
from tenants.models import Tenant, TenantQuerySet

# The launch service's problems by code, as the console says them (params: see
# tenants/launch/provisioning.py, validate_launch).
LAUNCH_MESSAGES = {
    "name_required": _("Enter the name of the region or municipality."),
    "name_too_long": _("The name is too long: 200 characters at most."),
    "kind_unknown": _("Choose whether this is a region or a municipality."),
    "parent_unknown": _("Choose the region it belongs to from the list."),
    "parent_not_region": _("A municipality must belong to a region."),
    "parent_archived": _("The region %(parent)s is archived: choose another."),
    "parent_required": _("Choose the region this municipality belongs to."),
    "parent_of_region": _("A region belongs to no other region: leave the region empty."),
    "slug_empty": _("Enter a web address name, or a name with latin letters to make one "
                    "from."),
    "slug_invalid": _("“%(slug)s” cannot be a web address name: use 2 to 63 lowercase latin "
                      "letters, digits and single hyphens, starting with a letter."),
    "slug_reserved": _("“%(slug)s” is reserved by the platform: choose another."),
    "slug_taken": _("“%(slug)s” is already used by another region or municipality: choose "
                    "another."),
    "domain_invalid": _("“%(domain)s” is not a valid host name: lowercase letters, digits, "
                        "hyphens and dots, no port."),
    "domain_taken": _("The domain %(domain)s already serves another region or "
                      "municipality."),
    "email_invalid": _("Enter the administrator's e-mail address, like name@example.ru."),
    "language_unknown": _("Choose a language from the list."),
    "time_zone_unknown": _("“%(time_zone)s” is not a time zone: use a name like "
                           "Europe/Moscow."),
}
LAUNCH_FIELDS = ("name", "kind", "parent", "slug", "domain", "admin_email", "language",
                 "time_zone", "reference_prefix")


def say(error: ValidationError) -> str:
    """A launch problem in the reader's language."""
    template = LAUNCH_MESSAGES.get(error.code or "")
    if template is None:
        return str(error.message)  # already translated (reference prefixes) or unforeseen
    params = getattr(error, "launch_params", {}) or {}
    return str(template) % params if params else str(template)


class LaunchForm(forms.Form):
    """A region (operators only) or a municipality under a region the user may launch in."""

    name = forms.CharField(label=_("Name"), max_length=200, required=False,
                           help_text=_("As people know it, e.g. Рябиновка."))
    kind = forms.ChoiceField(label=_("Kind"), required=False, choices=[
        (Tenant.Kind.MUNICIPALITY.value, Tenant.Kind.MUNICIPALITY.label),
        (Tenant.Kind.REGION.value, Tenant.Kind.REGION.label)], widget=forms.RadioSelect)
    parent = forms.ChoiceField(label=_("Region it belongs to"), required=False,
                               help_text=_("For a municipality."))
    slug = forms.CharField(label=_("Web address name (optional)"), required=False,
                           max_length=63)
    admin_email = forms.CharField(
        label=_("First administrator's e-mail address"), required=False, max_length=254,
        help_text=_("They receive a link to set their password."))
    language = forms.ChoiceField(label=_("Language of the site"), choices=settings.LANGUAGES,
                                 initial=settings.LANGUAGE_CODE, required=False)
    time_zone = forms.CharField(label=_("Time zone"), initial=settings.TIME_ZONE,
                                required=False, max_length=64)
    reference_prefix = forms.CharField(
        label=_("Case reference prefix (optional)"), required=False, max_length=5,
        help_text=_("2 to 5 capital latin letters; made from the web address name when left "
                    "empty."))

    def __init__(self, *args: Any, regions: TenantQuerySet, may_launch_regions: bool,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["slug"].help_text = _(
            "Becomes the address slug.%(domain)s; made from the name when left empty."
        ) % {"domain": settings.BASE_DOMAIN}
        self.regions = list(regions.order_by("name"))
        self.may_launch_regions = may_launch_regions
        parent = self.fields["parent"]
        assert isinstance(parent, forms.ChoiceField)  # noqa: S101 - declared above
        parent.choices = [("", _("Choose a region")), *((r.slug, r.name) for r in self.regions)]
        if not may_launch_regions:
            # A regional administrator launches municipalities under their own region only.
            del self.fields["kind"]
            parent.choices = [(r.slug, r.name) for r in self.regions]
            parent.help_text = ""
        else:
            self.fields["kind"].initial = Tenant.Kind.MUNICIPALITY.value

    def launch_request(self) -> LaunchRequest:
        data = self.cleaned_data
        kind = data.get("kind") if self.may_launch_regions else Tenant.Kind.MUNICIPALITY
        return LaunchRequest(
            name=data.get("name") or "", kind=kind or "", admin_email=data.get("admin_email") or "",
            parent=(data.get("parent") or None) if kind == Tenant.Kind.MUNICIPALITY else None,
            slug=data.get("slug") or None, language=data.get("language") or None,
            time_zone=(data.get("time_zone") or "").strip() or None,
            reference_prefix=data.get("reference_prefix") or None)

    def add_launch_errors(self, exc: LaunchError) -> None:
        """Every problem of the launch service next to its field."""
        by_field: dict[str, list[ValidationError]] = (
            exc.error_dict if hasattr(exc, "error_dict") else {"": exc.error_list})
        for field_name, errors in by_field.items():
            target = field_name if field_name in self.fields else None
            if field_name == "domain":
                if "slug" in by_field:
                    continue  # a taken slug's default domain is taken too: said once
                target = "slug"  # the console's launches use the default domain
            for error in errors:
                self.add_error(target, say(error))


class ConfirmForm(forms.Form):
    """Confirms an action: the tenant's web address name typed again (archive) and, when the
    last password check is older than `DGBOX_CONSOLE_REAUTH_MINUTES`, the password."""

    confirm_slug = forms.CharField(label=_("Type the web address name to confirm"),
                                   required=False)
    password = forms.CharField(label=_("Your password"), required=False,
                               widget=forms.PasswordInput,
                               help_text=_("Asked again before an action that stops a site or "
                                           "an invitation."))

    def __init__(self, *args: Any, request: Any, slug: str, needs_slug: bool,
                 needs_password: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.request = request
        self.slug = slug
        self.needs_slug = needs_slug
        self.needs_password = needs_password
        if not needs_slug:
            del self.fields["confirm_slug"]
        else:
            self.fields["confirm_slug"].help_text = _("Type %(slug)s.") % {"slug": slug}
        if not needs_password:
            del self.fields["password"]

    def clean_confirm_slug(self) -> str:
        value = (self.cleaned_data.get("confirm_slug") or "").strip()
        if value != self.slug:
            raise ValidationError(_("Type %(slug)s exactly to confirm.") % {"slug": self.slug})
        return value

    def clean_password(self) -> str:
        value = self.cleaned_data.get("password") or ""
        user = self.request.user
        if not value:
            raise ValidationError(_("Enter your password."))
        if authenticate(self.request, username=user.get_username(), password=value) is None:
            raise ValidationError(_("The password is not right."))
        return value
