"""Online forms for the demo tenants (`dgbox demo`): three services a visitor can apply for."""

from django.db import transaction

from cms.models import ServicePage

from .blocks import stream_data_from_spec
from .models import OnlineService

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


@transaction.atomic
def populate(language):
    """Make the demo forms of this tenant (idempotent)."""
    made = 0
    for slug, spec in FORMS.get(language, FORMS["ru"]).items():
        page = ServicePage.objects.filter(slug=slug, locale__language_code=language).first()
        if page is None or OnlineService.objects.filter(page=page).exists():
            continue
        OnlineService.objects.create(page=page, form=stream_data_from_spec(spec))
        made += 1
    return made
