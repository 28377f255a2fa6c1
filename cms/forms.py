"""The service page's editor form (cms.ServicePage.base_form_class).

The page's "Online application" tab holds its online form, a child row that a higher layer
(services/forms/models.py, OnlineService) defines and this app names only by its relation,
`online_services`; a page has at most one. This form checks the tab as a whole, at every
save (draft or not, so that no draft is made that could never be published):

- A page takes applications either here (its online form) or on another website
  (`apply_url`), never both: a citizen would see one button and not know which is meant.
- Its address, /<lang>/apply/<slug>/, is not another service page's in the same language.
- A save that leaves the page without its online form (deleted in the panel now, or in the
  draft being saved) asks the published row whether it may go: its `removal_refused()` says
  why not (cases were made with it). The editor reads the reason on the page instead of the
  publish failing later.
"""

from django.forms.formsets import DELETION_FIELD_NAME
from django.utils.translation import gettext_lazy as _
from wagtail.admin.forms import WagtailAdminPageForm

ONLINE_FORM = "online_services"


def _marked_deleted(form):
    field = form.fields.get(DELETION_FIELD_NAME)
    return field is not None and bool(field.to_python(form[DELETION_FIELD_NAME].data))


def rows_after_save(formset):
    """How many rows the page has once the form is saved: what it had (its latest revision;
    rows not posted stay, as modelcluster keeps them), less the posted rows marked deleted,
    plus new rows filled in (an added row left empty is not saved)."""
    posted = formset.initial_form_count()
    had = len(list(formset.get_queryset()))
    deleted = sum(1 for form in formset.forms[:posted] if _marked_deleted(form))
    added = sum(1 for form in formset.forms[posted:]
                if not _marked_deleted(form) and form.has_changed())
    return had - deleted + added


class ServicePageForm(WagtailAdminPageForm):
    def clean(self):
        cleaned = super().clean()
        online = self.formsets.get(ONLINE_FORM)
        if online is None:
            return cleaned
        remaining = rows_after_save(online)
        if cleaned.get("apply_url") and remaining:
            self.add_error("apply_url", _(
                "This page has an online form, so people apply here: clear this address, or "
                "remove the online form if another website takes the applications."))
        slug = cleaned.get("slug")
        if remaining and slug and self._address_taken(slug):
            self.add_error("slug", _(
                "Another service page in this language already takes applications at this "
                "address: choose another slug."))
        if not remaining and self.instance.pk and hasattr(online.model, "removal_refused"):
            published = online.model._default_manager.filter(
                **{online.fk.name: self.instance.pk})
            for row in published:
                if message := row.removal_refused():
                    self.add_error(None, message)
        return cleaned

    def _address_taken(self, slug):
        """Whether another page of this type and language takes applications at /apply/<slug>/
        (Wagtail keeps slugs unique among siblings only; the address needs them unique in a
        language, whichever catalogue the page is in)."""
        locale_id = self.instance.locale_id or getattr(self.parent_page, "locale_id", None)
        return (type(self.instance).objects
                .filter(slug=slug, locale_id=locale_id, **{f"{ONLINE_FORM}__isnull": False})
                .exclude(pk=self.instance.pk).exists())
