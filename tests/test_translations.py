"""The Russian admin is finished and stays so (issue 12): the catalogue has no empty or fuzzy
entry and holds every string the code marks, the committed .mo is the compiled .po, every
label, help text and choice of dgbox's models and blocks reads in Russian, the add buttons are
grammatical, and no admin page sends the browser to gravatar.com."""

import ast
import gettext
import shutil
from pathlib import Path

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection, models
from django.test import override_settings
from django.utils import translation
from django_tenants.utils import tenant_context
from wagtail import blocks
from wagtail.fields import StreamField
from wagtail.models import Site

from .factories import OnlineServiceFactory

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "dgbox" / "locale" / "ru" / "LC_MESSAGES" / "django.po"
COMPILED = CATALOGUE.with_suffix(".mo")
#: Where the interface strings are (`make messages` scans the same, skipping the rest).
SCANNED = ["dgbox", "cms", "services", "tenants", "infra", "demo"]
#: dgbox's own apps, by label.
DGBOX_APPS = {"cms", "services", "notifications", "tenants"}
#: Words that are the same in Russian: brand names, acronyms, languages named in themselves.
SAME_IN_RUSSIAN = {"VK", "Telegram", "SQL", "SHA-256", "SMS", "PDF", "JPEG", "PNG", "Русский",
                   "English"}
NORTH = {"HTTP_HOST": "north.localhost"}


# --- the catalogue --------------------------------------------------------------------------
def read_po(path):
    """[{"ctxt", "id", "plural", "str": [..], "flags": {..}}] (a small reader: no comments
    kept)."""
    entries, entry, field = [], None, None
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if not line.strip():
            if entry is not None:
                entries.append(entry)
            entry, field = None, None
            continue
        if entry is None:
            entry = {"ctxt": None, "id": "", "plural": None, "str": {}, "flags": set()}
        if line.startswith("#,"):
            entry["flags"] |= {flag.strip() for flag in line[2:].split(",")}
        elif line.startswith("#~"):
            entry["flags"].add("obsolete")
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            value = ast.literal_eval(line)
            if field[0] == "str":
                entry["str"][field[1]] += value
            else:
                entry[field[0]] += value
        else:
            keyword, _space, value = line.partition(" ")
            value = ast.literal_eval(value)
            if keyword == "msgctxt":
                field, entry["ctxt"] = ("ctxt",), value
            elif keyword == "msgid":
                field, entry["id"] = ("id",), value
            elif keyword == "msgid_plural":
                field, entry["plural"] = ("plural",), value
            else:
                index = int(keyword[7:-1]) if keyword.startswith("msgstr[") else 0
                field, entry["str"][index] = ("str", index), value
    return entries


def key(entry):
    return (entry["ctxt"] or "") + "\x04" + entry["id"]


def test_the_catalogue_has_no_empty_or_fuzzy_entry():
    entries = read_po(CATALOGUE)
    assert len(entries) > 900
    problems = [(entry["ctxt"], entry["id"], sorted(entry["flags"])) for entry in entries
                if {"fuzzy", "obsolete"} & entry["flags"]
                or (entry["id"] and not all(entry["str"].values()))
                or (entry["plural"] and len(entry["str"]) != 3)]
    assert problems == [], "translate these in dgbox/locale/ru/LC_MESSAGES/django.po"


def test_the_committed_mo_is_the_compiled_catalogue():
    with COMPILED.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    stale = []
    for entry in read_po(CATALOGUE):
        if not entry["id"]:
            continue
        msgid = (f"{entry['ctxt']}\x04" if entry["ctxt"] else "") + entry["id"]
        if entry["plural"]:
            got = [compiled.ngettext(msgid, entry["plural"], n) for n in (1, 2, 5)]
            want = [entry["str"][i] for i in (0, 1, 2)]
        else:
            got, want = compiled.gettext(msgid), entry["str"][0]
        if got != want:
            stale.append(entry["id"])
    assert stale == [], "run `make messages` (compilemessages) and commit django.mo"


@pytest.mark.skipif(shutil.which("xgettext") is None,
                    reason="needs GNU gettext (apt-get install gettext)")
def test_every_marked_string_is_in_the_catalogue(tmp_path, monkeypatch):
    """A fresh extraction of the code finds nothing the committed catalogue lacks. It runs on
    a copy of the sources: makemessages writes into every locale folder it walks past."""
    for name in SCANNED:
        shutil.copytree(ROOT / name, tmp_path / "src" / name, ignore=shutil.ignore_patterns(
            "locale", "__pycache__", "static", "node_modules"))
    monkeypatch.chdir(tmp_path / "src")
    with override_settings(LOCALE_PATHS=[tmp_path / "locale"]):
        call_command("makemessages", locale=["ru"], no_location=True, verbosity=0)
    assert not (ROOT / "dgbox" / "locale" / "ru" / "LC_MESSAGES" / "django.pot").exists()
    extracted = {key(e) for e in read_po(tmp_path / "locale" / "ru" / "LC_MESSAGES" /
                                         "django.po") if e["id"]}
    assert len(extracted) > 900
    committed = {key(e) for e in read_po(CATALOGUE) if e["id"] and "obsolete" not in e["flags"]}
    missing = sorted(k.replace("\x04", " | ") for k in extracted - committed)
    assert missing == [], "run `make messages` and translate the new entries"


# --- models and blocks -------------------------------------------------------------------------
def _third_party_fields(model):
    """Names of fields a model gets from other projects' abstract models (Wagtail's
    TranslatableMixin and Orderable, django-tenants' mixins): their authors label those."""
    names = set()
    for base in model.__mro__[1:]:
        meta = getattr(base, "_meta", None)
        if meta is not None and meta.abstract and \
                base.__module__.split(".")[0] not in {"cms", "services", "tenants"}:
            names |= {field.name for field in meta.local_fields}
    return names


def _labels(model):
    """Every label, help text and choice of a dgbox model, in the active language."""
    meta = model._meta
    found = {"verbose_name": str(meta.verbose_name),
             "verbose_name_plural": str(meta.verbose_name_plural)}
    skipped = _third_party_fields(model)
    for field in meta.get_fields():
        if not field.concrete or field.auto_created or field.name in skipped or \
                field.model._meta.app_label not in DGBOX_APPS or \
                (field.primary_key and field.name == "id"):
            continue
        found[f"{field.name}.verbose_name"] = str(field.verbose_name)
        if field.help_text:
            found[f"{field.name}.help_text"] = str(field.help_text)
        for value, label in field.flatchoices or ():
            found[f"{field.name}.choice[{value}]"] = str(label)
    return found


def dgbox_models():
    return [m for m in apps.get_models() if m._meta.app_label in DGBOX_APPS]


def untranslated(english, russian):
    return sorted(name for name, text in english.items()
                  if text and text == russian.get(name) and text not in SAME_IN_RUSSIAN)


@pytest.mark.parametrize("model", dgbox_models(), ids=lambda m: m._meta.label)
def test_every_model_label_reads_in_russian(model):
    with translation.override("en"):
        english = _labels(model)
    with translation.override("ru"):
        russian = _labels(model)
    assert untranslated(english, russian) == []


def _walk(block, path):
    yield path, block
    for name, child in (getattr(block, "child_blocks", None) or {}).items():
        yield from _walk(child, f"{path}.{name}")
    if isinstance(block, blocks.ListBlock):
        yield from _walk(block.child_block, f"{path}[]")


def _block_labels(field):
    found = {}
    for path, block in _walk(field.stream_block, field.name):
        found[f"{path} label"] = str(block.label or "")
        found[f"{path} help"] = str(getattr(block.meta, "help_text", "") or "")
        if isinstance(block, blocks.ChoiceBlock | blocks.MultipleChoiceBlock):
            for value, label in block.field.choices:
                if value != "":  # the "---------" of an empty choice
                    found[f"{path} choice[{value}]"] = str(label)
    return found


STREAM_FIELDS = [field for model in dgbox_models() for field in model._meta.get_fields()
                 if isinstance(field, StreamField) and field.model is model]


@pytest.mark.parametrize("field", STREAM_FIELDS, ids=lambda f: f"{f.model.__name__}.{f.name}")
def test_every_block_label_reads_in_russian(field):
    with translation.override("en"):
        english = _block_labels(field)
    with translation.override("ru"):
        russian = _block_labels(field)
    assert untranslated(english, russian) == []


def test_a_label_left_in_english_is_caught():
    class Loose(models.Model):
        summary = models.TextField()

        class Meta:
            app_label = "cms"

        def __str__(self):
            return self.summary

    try:
        with translation.override("en"):
            english = _labels(Loose)
        with translation.override("ru"):
            russian = _labels(Loose)
        assert "summary.verbose_name" in untranslated(english, russian)
    finally:
        apps.all_models["cms"].pop("loose", None)
        apps.clear_cache()


# --- the admin, as a Russian editor sees it -------------------------------------------------
@pytest.fixture
def russian_admin(client, tenant_a):
    from wagtail.users.models import UserProfile

    with tenant_context(tenant_a):
        admin = get_user_model().objects.get(email="admin@north.example")
        profile = UserProfile.get_for_user(admin)
        profile.preferred_language = "ru"
        profile.save()
        client.force_login(admin)
        site = Site.objects.get(is_default_site=True)
        from cms.models import OfficePage, ServicePage

        OnlineServiceFactory()  # the online services list then has a row, and its columns
        urls = {"branding": f"/admin/settings/cms/brandingsettings/{site.pk}/",
                "service": f"/admin/pages/{ServicePage.objects.first().pk}/edit/",
                "office": f"/admin/pages/{OfficePage.objects.first().pk}/edit/"}
    connection.set_schema_to_public()
    return client, urls


def page(client, url):
    response = client.get(url, **NORTH)
    assert response.status_code == 200, url
    return response.content.decode()


def test_admin_forms_the_issue_named_are_russian(russian_admin):
    client, urls = russian_admin
    branding = page(client, urls["branding"])
    for russian in ("Название сайта", "Логотип", "Герб", "Основной цвет",
                    "Электронная почта для связи", "Телефон для связи"):
        assert russian in branding, russian
    for english in (">Site name", ">Logo", ">Coat of arms", ">Primary colour",
                    ">Contact email", ">Contact phone"):
        assert english not in branding, english
    service = page(client, urls["service"])
    for russian in ("Краткое описание", "Способ", "Подробности", "Телефон"):
        assert russian in service, russian
    office = page(client, urls["office"])
    assert "День недели" in office and "Открывается" in office
    # Online services are added on their service pages; the list is read-only.
    services = page(client, "/admin/online-services/")
    for russian in ("Онлайн-услуги", "Страница услуги", "Получено заявлений"):
        assert russian in services, russian
    assert "Добавить онлайн-услуга" not in services
    assert "Добавить ссылку в подвал" in page(client, "/admin/snippets/cms/footerlink/")


def test_no_admin_page_asks_gravatar_for_an_avatar(russian_admin, settings):
    assert settings.WAGTAIL_GRAVATAR_PROVIDER_URL is None
    client, urls = russian_admin
    for url in ("/admin/", "/admin/account/", "/admin/users/", urls["service"]):
        assert "gravatar" not in page(client, url).lower(), url
