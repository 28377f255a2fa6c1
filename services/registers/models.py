"""Registers a tenant holds (once-only principle): authoritative lists such as large families,
disability status, land plots or licensed traders, imported from CSV by staff and read by
services' automatic rules instead of asking applicants for paper proof."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import connection, models
from django.utils.translation import gettext_lazy as _
from django_tenants.utils import get_public_schema_name
from wagtail import blocks
from wagtail.fields import StreamField

from ..forms import spec as formspec

#: Checks run before a changed register is saved, each (register) -> [problems]: what the
#: change would break in the layers above (services/forms adds one for the online services
#: that look the register up).
change_checks = []

FIELD_TYPES = {"text": _("Text"), "number": _("Number"), "date": _("Date"),
               "boolean": _("Yes or no")}
#: Names a declared field may not take: `found` is what rules read for "in the register",
#: `key` is the CSV column of the key.
RESERVED_FIELDS = {"found", "key"}
MAX_FIELDS = 30
CODE_HELP = _("Letters a-z, digits and _, starting with a letter. Rules read "
              "registers.<code>.found and registers.<code>.<field>; it cannot be changed "
              "once the register is saved.")


class RegisterFieldBlock(blocks.StructBlock):
    """One declared column of a register: its name (a CSV header and a rule variable) and the
    type its values are checked and stored as."""

    name = blocks.RegexBlock(
        regex=formspec.NAME_RE.pattern, max_length=40, label=_("Field name"),
        help_text=_("The CSV column and what rules read: letters a-z, digits and _."),
        error_messages={"invalid": _("Use only a-z, 0-9 and _, starting with a letter.")})
    type = blocks.ChoiceBlock(choices=list(FIELD_TYPES.items()), default="text",
                              label=_("Type"))

    class Meta:
        icon = "list-ul"
        label = _("Field")


def register_choices():
    """The tenant's registers for the lookup chooser of an online service (none outside a
    tenant's schema, e.g. when migrations are made)."""
    if getattr(connection, "schema_name", None) in (None, get_public_schema_name()):
        return []
    return [(code, f"{name} ({code})")
            for code, name in Register.objects.values_list("code", "name")]


class RegisterLookupBlock(blocks.StructBlock):
    """Which register a service looks up with which question's answer."""

    register = blocks.ChoiceBlock(choices=register_choices, label=_("Register"))
    question = blocks.RegexBlock(
        regex=formspec.NAME_RE.pattern, max_length=40, label=_("Looked up with the question"),
        help_text=_("Field name of the question whose answer is the register's key."),
        error_messages={"invalid": _("Use only a-z, 0-9 and _, starting with a letter.")})

    class Meta:
        icon = "table"
        label = _("Register lookup")


class Register(models.Model):
    """An authoritative list the tenant keeps, one record per key (a SNILS, an INN or a text
    such as a cadastral number), with the fields its editors declared.

    Records are only ever replaced as a whole by an import (services/registers/service.py); rules
    of the services that look the register up read `registers.<code>.found` and
    `registers.<code>.<field>`, and every automatic decision records what they read and when
    the register was last imported.
    """

    class KeyKind(models.TextChoices):
        SNILS = "snils", _("SNILS (personal insurance number)")
        INN_PERSON = "inn_person", _("INN of a person (12 digits)")
        INN_COMPANY = "inn_company", _("INN of an organisation (10 digits)")
        TEXT = "text", _("Text (compared ignoring case and extra spaces)")

    code = models.CharField(
        max_length=40, unique=True, verbose_name=_("code"), help_text=CODE_HELP,
        validators=[RegexValidator(formspec.NAME_RE.pattern,
                                   _("Use only a-z, 0-9 and _, starting with a letter."))])
    name = models.CharField(max_length=200, verbose_name=_("name"))
    description = models.TextField(blank=True, verbose_name=_("description"),
                                   help_text=_("Where the data comes from, who keeps it."))
    key_kind = models.CharField(max_length=16, choices=KeyKind.choices,
                                default=KeyKind.SNILS, verbose_name=_("key"),
                                help_text=_("What identifies a record (the CSV column key)."))
    fields = StreamField([("field", RegisterFieldBlock())], blank=True,
                         verbose_name=_("fields"),
                         help_text=_("The columns each record has besides its key."))
    record_count = models.PositiveIntegerField(default=0, editable=False,
                                               verbose_name=_("records"))
    imported_at = models.DateTimeField(null=True, blank=True, editable=False,
                                       verbose_name=_("last imported"))
    imported_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    editable=False, on_delete=models.SET_NULL,
                                    related_name="+", verbose_name=_("imported by"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated"))

    class Meta:
        verbose_name = _("register")
        verbose_name_plural = _("registers")
        ordering = ["name"]

    def __str__(self):
        return self.name

    @property
    def declared_fields(self):
        """[{"name", "type"}] in the order the editors declared them."""
        return [{"name": child.value["name"], "type": child.value["type"]}
                for child in self.fields if child.value.get("name")]

    def clean(self):
        super().clean()
        problems = []
        names = [f["name"] for f in self.declared_fields]
        for name in sorted({n for n in names if names.count(n) > 1}):
            problems.append(_("The field “%(name)s” is declared twice.") % {"name": name})
        for name in sorted(RESERVED_FIELDS & set(names)):
            problems.append(_("“%(name)s” cannot be a field name: rules and imports use it "
                              "already. Choose another name.") % {"name": name})
        if len(names) > MAX_FIELDS:
            problems.append(_("At most %(max)s fields.") % {"max": MAX_FIELDS})
        if problems:
            raise ValidationError({"fields": problems})
        if self.pk:
            # Not tied to one field: the key kind or a removed field may be the cause.
            problems = [problem for check in change_checks for problem in check(self)]
            if problems:
                raise ValidationError(problems)


class RegisterRecord(models.Model):
    """One entry of a register: its normalised key and the declared fields' values (JSON,
    typed: numbers as numbers, dates as ISO strings, yes/no as booleans)."""

    # The unique index (register, key) serves lookups and deletes by register; no index of
    # its own on the foreign key, which would only slow imports down.
    register = models.ForeignKey(Register, on_delete=models.CASCADE, related_name="records",
                                 db_index=False, verbose_name=_("register"))
    key = models.CharField(max_length=200, verbose_name=_("key"))
    data = models.JSONField(default=dict, verbose_name=_("data"))

    class Meta:
        verbose_name = _("register record")
        verbose_name_plural = _("register records")
        constraints = [models.UniqueConstraint(fields=["register", "key"],
                                               name="register_record_unique")]

    def __str__(self):
        return f"{self.register_id}:{self.key}"
