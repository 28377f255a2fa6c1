"""Online forms for the demo tenants (`dgbox demo`): three services a visitor can apply for,
and a register of large families the kindergarten service checks the child against."""

from django.db import transaction

from cms.models import ServicePage
from services.forms.blocks import stream_data_from_spec
from services.forms.models import OnlineService
from services.registers.models import Register
from services.registers.service import replace_records

FORMS = {
    "ru": {
        "kindergarten-place": [
            {"type": "text", "name": "child_name", "label": "Имя и фамилия ребёнка"},
            {"type": "date", "name": "child_birth", "label": "Дата рождения ребёнка",
             "when": "past"},
            {"type": "national_id", "name": "child_snils", "label": "СНИЛС ребёнка",
             "id_kind": "snils", "help_text": "11 цифр, например 112-233-445 95"},
            {"type": "choice", "name": "group", "label": "Группа",
             "choices": ["Полного дня", "Кратковременного пребывания"]},
            {"type": "yes_no", "name": "priority", "label": "Есть право на льготу?"},
            {"type": "file", "name": "priority_proof", "label": "Документ о праве на льготу",
             "file_kinds": ["pdf", "jpeg", "png"], "max_size_mb": 10,
             "show_if": {"field": "priority", "value": "yes"}},
            {"type": "address", "name": "home", "label": "Адрес проживания"},
        ],
        "building-permit": [
            {"type": "text", "name": "object_name", "label": "Что вы строите",
             "max_length": 200},
            {"type": "address", "name": "site", "label": "Адрес участка"},
            {"type": "number", "name": "floors", "label": "Этажность", "min_value": "1",
             "max_value": "30"},
            {"type": "file", "name": "project", "label": "Проектная документация (PDF)",
             "file_kinds": ["pdf"], "max_size_mb": 20},
        ],
        "street-trading": [
            {"type": "national_id", "name": "inn", "label": "ИНН предпринимателя",
             "id_kind": "inn_person"},
            {"type": "multi_choice", "name": "goods", "label": "Что вы будете продавать",
             "choices": ["Овощи и фрукты", "Напитки", "Цветы", "Выпечка"], "max_selections": 3},
            {"type": "date", "name": "start", "label": "С какой даты", "when": "future"},
            {"type": "long_text", "name": "notes", "label": "Пожелания к месту",
             "required": False, "max_length": 1000},
        ],
    },
}
FORMS["en"] = {
    "building-permit": [
        {"type": "text", "name": "object_name", "label": "What you are building"},
        {"type": "address", "name": "site", "label": "Address of the plot"},
        {"type": "file", "name": "project", "label": "Project documents (PDF)",
         "file_kinds": ["pdf"], "max_size_mb": 20},
    ],
}
#: A register (services/registers/service.py) and what a service does with it: a child of a large
#: family (the example SNILS of the form's hint is one) goes to the priority queue's staff.
REGISTERS = {
    "ru": [{"code": "large_families", "name": "Многодетные семьи", "key_kind": "snils",
            "description": "Дети из многодетных семей (СНИЛС ребёнка), по данным соцзащиты.",
            "fields": [{"name": "children", "type": "number"},
                       {"name": "certificate_until", "type": "date"}],
            "records": [("11223344595", {"children": 3, "certificate_until": "2028-06-30"}),
                        ("12345678964", {"children": 4, "certificate_until": "2027-01-31"}),
                        ("23456789099", {"children": 5})]}],
}
LOOKUPS = {
    "kindergarten-place": {
        "register_lookups": [{"register": "large_families", "question": "child_snils"}],
        "rules": [{"name": "Многодетная семья — в льготную очередь",
                   "when": {"and": [{"var": "registers.large_families.found"},
                                    {">=": [{"var": "registers.large_families.children"}, 3]}]},
                   "then": "route", "group": "Льготная очередь"}],
    },
}


@transaction.atomic
def populate(language):
    """Make the demo forms and registers of this tenant (idempotent)."""
    for spec in REGISTERS.get(language, []):
        register, created = Register.objects.get_or_create(code=spec["code"], defaults={
            "name": spec["name"], "key_kind": spec["key_kind"],
            "description": spec["description"],
            "fields": [{"type": "field", "value": f} for f in spec["fields"]]})
        if created:
            replace_records(register, spec["records"])
    codes = set(Register.objects.values_list("code", flat=True))
    made = 0
    for slug, spec in FORMS.get(language, FORMS["ru"]).items():
        page = ServicePage.objects.filter(slug=slug, locale__language_code=language).first()
        if page is None or OnlineService.objects.filter(page=page).exists():
            continue
        extra = {}
        if slug in LOOKUPS and {lookup["register"] for lookup in
                                LOOKUPS[slug]["register_lookups"]} <= codes:
            extra = {"rules": LOOKUPS[slug]["rules"], "register_lookups": [
                {"type": "lookup", "value": lookup}
                for lookup in LOOKUPS[slug]["register_lookups"]]}
        service = OnlineService(page=page, form=stream_data_from_spec(spec), **extra)
        if extra:
            service.full_clean()  # the lookups and rules are checked like an editor's
        # As an editor does it: the form is part of the page, published in a new revision.
        page.online_services = [service]
        page.save_revision().publish()
        made += 1
    return made
