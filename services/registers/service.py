"""Registers (services/registers/models.py): keys normalised the way forms normalise answers,
records replaced from a CSV file all or nothing, and the lookups that give automatic rules
`registers.<code>.found` and `registers.<code>.<field>` (services/rules/logic.py).

An import reads and checks the whole file first; any bad line refuses it with every bad
line's number and reason, and the register is left as it was. A good file replaces all the
register's records in one transaction (deleted, then copied in). Everything here
runs in the current tenant's schema: a tenant only ever sees its own registers.
"""

import csv
import io
import json
import re
import time
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import connection, models, transaction
from django.db.models import Case, OuterRef, Subquery, Value, When
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..forms import national_id
from .models import Register, RegisterRecord

MAX_BYTES = 20 * 1024 * 1024
MAX_ROWS = 200_000
MAX_ERRORS = 1000  # bad lines listed; the number of all bad lines is always given
MAX_TEXT = 1000
MAX_KEY = 200
BATCH = 5000
#: Question types whose answer can be the key of a register keyed by text.
TEXT_QUESTIONS = {"text", "choice", "email", "phone"}
TRUE = {"yes", "y", "true", "1", "да", "д"}
FALSE = {"no", "n", "false", "0", "нет", "н"}
RU_DATE = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


# --- Keys and values -------------------------------------------------------------------------


def normalise_key(kind, value):
    """The canonical key for `value` (digits of a SNILS or INN, checked; a text trimmed, its
    spaces collapsed and compared ignoring case). Raises ValidationError."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(_("The key is empty."))
    if kind in national_id.KINDS:
        return national_id.validate(kind, value)
    if kind != Register.KeyKind.TEXT:
        raise ValidationError(_("Unknown key type."))
    key = " ".join(value.split()).casefold()
    if len(key) > MAX_KEY:
        raise ValidationError(_("A key has at most %(max)s characters.") % {"max": MAX_KEY})
    return key


def parse_value(kind, text):
    """A CSV cell as the declared type stores it. Raises ValueError with the reason."""
    text = text.strip()
    if kind == "number":
        cleaned = text.replace("\u00a0", "").replace(" ", "")
        if "," in cleaned and "." not in cleaned:
            cleaned = cleaned.replace(",", ".")  # a decimal comma, as Russian spreadsheets write
        try:
            number = Decimal(cleaned)
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite():
            raise ValueError(_("“%(value)s” is not a number.") % {"value": text})
        if number.adjusted() > 15:
            raise ValueError(_("“%(value)s” is too large a number.") % {"value": text})
        return int(number) if number == number.to_integral_value() else float(number)
    if kind == "date":
        found = RU_DATE.match(text)
        try:
            if found:
                day, month, year = (int(part) for part in found.groups())
                return date(year, month, day).isoformat()
            if ISO_DATE.match(text):
                return date.fromisoformat(text).isoformat()
        except ValueError:
            pass
        raise ValueError(_("“%(value)s” is not a date: write 2026-03-31 or 31.03.2026.")
                         % {"value": text})
    if kind == "boolean":
        word = text.casefold()
        if word in TRUE:
            return True
        if word in FALSE:
            return False
        raise ValueError(_("“%(value)s” is not yes or no (write yes/no, да/нет, 1/0).")
                         % {"value": text})
    if len(text) > MAX_TEXT:
        raise ValueError(_("at most %(max)s characters.") % {"max": MAX_TEXT})
    return text


# --- Import ----------------------------------------------------------------------------------


@dataclass
class ImportResult:
    count: int
    replaced: int
    seconds: float


class ImportRefused(Exception):
    """The file was not imported: `errors` are (line or None, reason); `bad_lines` counts
    every bad line (only the first MAX_ERRORS are listed)."""

    def __init__(self, errors, bad_lines=0):
        super().__init__(errors)
        self.errors, self.bad_lines = errors, bad_lines

    def __str__(self):
        return "; ".join(f"{line}: {reason}" if line else str(reason)
                         for line, reason in self.errors[:5])


def _refuse(reason, line=None):
    return ImportRefused([(line, reason)], 1 if line else 0)


def read_rows(register, data, *, max_rows=MAX_ROWS):
    """Check a whole CSV file (bytes) against the register; returns [(key, data)] or raises
    ImportRefused listing every bad line."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise _refuse(_("This line is not UTF-8 text: save the file as “CSV UTF-8” and "
                        "import it again."), line) from exc
    if not text.strip():
        raise _refuse(_("The file is empty: its first line must name the columns."))
    declared = {f["name"]: f["type"] for f in register.declared_fields}
    expected = ", ".join(["key", *declared])
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [cell.strip().lower() for cell in next(reader)]
    except csv.Error as exc:
        raise _refuse(_("The first line cannot be read as CSV (%(error)s).")
                      % {"error": exc}, 1) from exc
    problems = []
    for name in dict.fromkeys(header):
        if header.count(name) > 1:
            problems.append(_("the column “%(name)s” appears twice.") % {"name": name})
        elif name != "key" and name not in declared:
            problems.append(_("unknown column “%(name)s”.") % {"name": name})
    missing = [name for name in ["key", *declared] if name not in header]
    if missing:
        problems.append(_("missing column(s): %(names)s.") % {"names": ", ".join(missing)})
    if problems:
        problems.append(_("This register's columns are: %(names)s.") % {"names": expected})
        raise ImportRefused([(1, " ".join(str(p) for p in problems))], 1)

    key_at = header.index("key")
    columns = [(index, name, declared[name]) for index, name in enumerate(header)
               if name != "key"]
    seen, rows, errors, bad_lines = {}, [], [], 0
    end = 1
    while True:
        start = end + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise ImportRefused([*errors, (start, _("This line cannot be read as CSV "
                                                     "(%(error)s).") % {"error": exc})],
                                bad_lines + 1) from exc
        end = reader.line_num
        if not any(cell.strip() for cell in row):
            continue  # blank lines are allowed anywhere
        if len(rows) + bad_lines >= max_rows:
            raise _refuse(_("The file has more than %(max)s records; at most %(max)s can be "
                            "imported at once.") % {"max": f"{max_rows:,}"})
        reasons = []
        if len(row) != len(header):
            reasons.append(_("it has %(n)s values but the first line names %(m)s columns "
                             "(a value with a “%(sep)s” must be in double quotes).")
                           % {"n": len(row), "m": len(header), "sep": delimiter})
        else:
            key = None
            try:
                key = normalise_key(register.key_kind, row[key_at])
            except ValidationError as exc:
                reason = " ".join(exc.messages)
                reasons.append(_("key “%(key)s”: %(reason)s")
                               % {"key": row[key_at].strip(), "reason": reason}
                               if row[key_at].strip() else reason)
            if key is not None and key in seen:
                reasons.append(_("the key %(key)s is already on line %(line)s.")
                               % {"key": key, "line": seen[key]})
            values = {}
            for index, name, kind in columns:
                if not row[index].strip():
                    continue  # an empty cell: the record has no value for this field
                try:
                    values[name] = parse_value(kind, row[index])
                except ValueError as exc:
                    reasons.append(f"{name}: {exc}")
            if key is not None and key not in seen:
                seen[key] = start
            if not reasons:
                rows.append((key, values))
        if reasons:
            bad_lines += 1
            if len(errors) < MAX_ERRORS:
                errors.append((start, " ".join(str(r) for r in reasons)))
    if errors:
        raise ImportRefused(errors, bad_lines)
    return rows


def import_csv(register, upload, *, user=None, max_bytes=MAX_BYTES, max_rows=MAX_ROWS):
    """Replace all the register's records with those of a CSV upload (a file object).

    The header names `key` and each declared field, in any order; comma or semicolon
    separated, UTF-8 with or without a BOM. Raises ImportRefused (nothing changed)."""
    started = time.monotonic()
    size = getattr(upload, "size", None)
    if size is not None and size > max_bytes:
        raise _refuse(_("The file is %(size)s; at most %(max)s can be imported at once.")
                      % {"size": filesizeformat(size), "max": filesizeformat(max_bytes)})
    data = upload.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise _refuse(_("The file is larger than %(max)s; at most %(max)s can be imported at "
                        "once.") % {"max": filesizeformat(max_bytes)})
    rows = read_rows(register, data, max_rows=max_rows)
    replaced = replace_records(register, rows, user=user)
    return ImportResult(count=len(rows), replaced=replaced,
                        seconds=time.monotonic() - started)


@transaction.atomic
def replace_records(register, rows, *, user=None):
    """Put `rows` [(key, data)] in place of the register's records; returns how many were
    replaced. The register's row is locked, so two imports into it run one after the other.

    Rows go in with PostgreSQL's COPY (100,000 in under a second, where bulk_create takes
    about five), in the tenant's schema like every query of this connection."""
    locked = Register.objects.select_for_update().get(pk=register.pk)
    table = connection.ops.quote_name(RegisterRecord._meta.db_table)
    with connection.cursor() as cursor:
        # Raw SQL: nothing refers to records, and the ORM would fetch them all first to
        # send delete signals no one listens to.
        cursor.execute(f"DELETE FROM {table} WHERE register_id = %s", [locked.pk])  # noqa: S608 - names from the catalogue and our models, values as parameters # nosec B608
        replaced = cursor.rowcount
        copy = getattr(cursor.cursor, "copy", None)  # psycopg 3
        if copy is not None:
            with copy(f"COPY {table} (register_id, key, data) FROM STDIN") as target:
                for key, values in rows:
                    target.write_row((locked.pk, key, json.dumps(values, ensure_ascii=False)))
    if copy is None:
        for begin in range(0, len(rows), BATCH):
            RegisterRecord.objects.bulk_create(
                [RegisterRecord(register_id=locked.pk, key=key, data=values)
                 for key, values in rows[begin:begin + BATCH]])
    now = timezone.now()
    Register.objects.filter(pk=locked.pk).update(record_count=len(rows), imported_at=now,
                                                 imported_by=user)
    register.record_count, register.imported_at, register.imported_by = len(rows), now, user
    return replaced


# --- Lookups of online services --------------------------------------------------------------


def question_fits(kind, question):
    """Whether a question's answer can be the key of a register of this key kind."""
    if kind in national_id.KINDS:
        return question["type"] == "national_id" and question.get("id_kind") == kind
    return question["type"] in TEXT_QUESTIONS


def known_registers():
    """{code: (key kind, [field names])} of the tenant's registers."""
    return {r.code: (r.key_kind, [f["name"] for f in r.declared_fields])
            for r in Register.objects.all()}


def validate_lookups(lookups, spec, known=None):
    """Check a service's register lookups against its form; returns {code: [field names]}
    of the registers looked up (what its rules may read). Raises ValidationError."""
    found, errors = check_lookups(lookups, spec, known)
    if errors:
        raise ValidationError(errors)
    return found


def check_lookups(lookups, spec, known=None):
    """({code: [field names]} of the existing registers looked up, [problems])."""
    known = known_registers() if known is None else known
    questions = {f["name"]: f for f in spec}
    errors, found = [], {}
    if lookups and "registers" in questions:
        errors.append(_("A question has the field name “registers”, which rules use for "
                        "register lookups: rename the question."))
    for position, lookup in enumerate(lookups, start=1):
        where = _("Lookup %(n)s") % {"n": position}
        code, name = lookup.get("register"), lookup.get("question")
        if code not in known:
            errors.append(_("%(where)s: there is no register “%(code)s”.")
                          % {"where": where, "code": code or ""})
            continue
        if code in found:
            errors.append(_("%(where)s: the register “%(code)s” is already looked up; look "
                            "each register up once.") % {"where": where, "code": code})
            continue
        kind, fields = known[code]
        found[code] = fields
        question = questions.get(name)
        if question is None:
            errors.append(_("%(where)s: “%(name)s” is not a question of this form.")
                          % {"where": where, "name": name or ""})
        elif not question_fits(kind, question):
            wanted = (national_id.KINDS[kind] if kind in national_id.KINDS
                      else _("a text, choice, e-mail or phone question"))
            errors.append(_("%(where)s: the register “%(code)s” is keyed by %(kind)s, so the "
                            "question “%(name)s” must ask for %(wanted)s.")
                          % {"where": where, "code": code, "name": name,
                             "kind": Register.KeyKind(kind).label, "wanted": wanted})
    return found, errors


def look_up(lookups, answers):
    """What a case's lookups find, in one query whatever their number.

    Returns (values, sources): values[code] is {"found": bool, <field>: value...} (what rules
    read), or None when the register no longer exists; sources[code] is {"register", "key",
    "imported_at", "records"}, recorded with a decision so a reviewer sees which data the
    rule saw even after the register changes."""
    wanted = {lookup["register"]: answers.get(lookup["question"]) for lookup in lookups}
    if not wanted:
        return {}, {}
    # The key's normal form depends on the register's key kind, known only in the query:
    # give each (register, kind) the key the answer normalises to under that kind.
    whens = []
    for code, answer in wanted.items():
        for kind in Register.KeyKind.values:
            try:
                key = normalise_key(kind, answer)
            except ValidationError:
                continue
            whens.append(When(code=code, key_kind=kind, then=Value(key)))
    rows = (Register.objects.filter(code__in=wanted)
            .annotate(lookup_key=Case(*whens, default=Value(None),
                                      output_field=models.CharField()))
            .annotate(record=Subquery(
                RegisterRecord.objects.filter(register=OuterRef("pk"), key=OuterRef("lookup_key"))
                .values("data")[:1], output_field=models.JSONField()))
            .values_list("code", "name", "imported_at", "record_count", "lookup_key", "record"))
    values, sources = dict.fromkeys(wanted), {}
    for code, name, imported_at, count, key, record in rows:
        values[code] = {**(record or {}), "found": record is not None}
        sources[code] = {"register": name, "key": key, "records": count,
                         "imported_at": _iso(imported_at)}
    return values, sources


def _iso(moment):
    return moment.isoformat() if isinstance(moment, datetime) else None
