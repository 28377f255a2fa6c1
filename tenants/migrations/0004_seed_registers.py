"""Seed the national registers with the reference entries every tenant starts from."""

from django.db import migrations

LIFE_EVENTS = [
    ("birth", "Рождение ребёнка", "Having a baby", "citizen"),
    ("school", "Поступление в школу", "Starting school", "citizen"),
    ("moving", "Переезд", "Moving home", "citizen"),
    ("marriage", "Вступление в брак", "Getting married", "citizen"),
    ("housing", "Жильё и ЖКХ", "Housing and utilities", "citizen"),
    ("disability", "Инвалидность", "Living with a disability", "citizen"),
    ("retirement", "Выход на пенсию", "Retiring", "citizen"),
    ("bereavement", "Смерть близкого человека", "When someone dies", "citizen"),
    ("vehicle", "Автомобиль и дороги", "Driving and roads", "citizen"),
    ("low-income", "Малообеспеченная семья", "Low income support", "citizen"),
    ("start-business", "Открытие бизнеса", "Starting a business", "business"),
    ("building", "Строительство", "Building and land", "business"),
    ("trade", "Торговля и услуги", "Trading and services", "business"),
]
CATEGORIES = [
    ("civil-status", "Гражданское состояние", "Civil status"),
    ("social", "Социальная поддержка", "Social support"),
    ("education", "Образование", "Education"),
    ("housing", "Жилищные вопросы", "Housing"),
    ("land", "Земля и строительство", "Land and construction"),
    ("transport", "Транспорт", "Transport"),
    ("business", "Предпринимательство", "Business"),
    ("culture", "Культура и спорт", "Culture and sport"),
    ("environment", "Благоустройство и экология", "Environment"),
    ("documents", "Справки и документы", "Certificates and documents"),
]
TERRITORIES = [
    ("severnaya", "Северная область", "Northern Region", "region", None),
    ("yuzhnaya", "Южная область", "Southern Region", "region", None),
    ("ryabinovka", "Рябиновка", "Ryabinovka", "municipality", "severnaya"),
    ("zarechensk", "Зареченск", "Zarechensk", "municipality", "severnaya"),
    ("kamensk", "Каменск", "Kamensk", "municipality", "yuzhnaya"),
]


def seed(apps, schema_editor):
    LifeEvent = apps.get_model("tenants", "LifeEvent")
    ServiceCategory = apps.get_model("tenants", "ServiceCategory")
    Territory = apps.get_model("tenants", "Territory")
    for order, (code, ru, en, audience) in enumerate(LIFE_EVENTS):
        LifeEvent.objects.update_or_create(code=code, defaults={
            "name_ru": ru, "name_en": en, "audience": audience, "sort_order": order})
    for order, (code, ru, en) in enumerate(CATEGORIES):
        ServiceCategory.objects.update_or_create(code=code, defaults={
            "name_ru": ru, "name_en": en, "sort_order": order})
    for order, (code, ru, en, kind, parent) in enumerate(TERRITORIES):
        Territory.objects.update_or_create(code=code, defaults={
            "name_ru": ru, "name_en": en, "kind": kind, "sort_order": order,
            "parent": Territory.objects.get(code=parent) if parent else None})


class Migration(migrations.Migration):
    dependencies = [("tenants", "0003_national_registers")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
