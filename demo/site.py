"""Realistic demo content for `dgbox demo`: a dozen services, offices, news, a step-by-step,
a guide, an alert and footer links, in the tenant's default language."""

import datetime
import random
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from wagtail.models import Locale, Site

from cms.models import (
    AlertBanner,
    FooterLink,
    GuidePage,
    HomePage,
    NewsIndexPage,
    NewsPage,
    OfficeIndexPage,
    OfficePage,
    OpeningException,
    OpeningHours,
    ServiceChannel,
    ServiceIndexPage,
    ServicePage,
    Step,
    StepByStepPage,
)

# slug, category, life events, cost kind, fee, days, (ru title, ru summary), (en title, en summary)
SERVICES = [
    ("birth-registration", "civil-status", ["birth"], "free", None, 1,
     ("Регистрация рождения ребёнка", "Получите свидетельство о рождении ребёнка."),
     ("Register a birth", "Get a birth certificate for your child.")),
    ("child-benefit", "social", ["birth", "low-income"], "free", None, 10,
     ("Единовременное пособие при рождении ребёнка", "Выплата одному из родителей."),
     ("One-off payment for a new baby", "A payment to one of the parents.")),
    ("kindergarten-place", "education", ["birth", "school"], "free", None, 7,
     ("Запись в детский сад", "Поставьте ребёнка в очередь на место в детском саду."),
     ("Apply for a kindergarten place", "Put your child on the waiting list for a place.")),
    ("school-enrolment", "education", ["school"], "free", None, 7,
     ("Зачисление в первый класс", "Подайте заявление о приёме ребёнка в школу."),
     ("Enrol a child in first grade", "Apply for a school place for your child.")),
    ("residence-registration", "documents", ["moving"], "free", None, 3,
     ("Регистрация по месту жительства", "Зарегистрируйтесь по новому адресу."),
     ("Register your address", "Register at your new home address.")),
    ("family-certificate", "documents", ["moving", "housing"], "free", None, 2,
     ("Справка о составе семьи", "Справка для субсидий, льгот и сделок с жильём."),
     ("Household composition certificate", "A certificate for benefits and housing deals.")),
    ("housing-subsidy", "housing", ["housing", "low-income"], "free", None, 10,
     ("Субсидия на оплату ЖКУ", "Компенсация части платы за жильё и коммунальные услуги."),
     ("Help with utility bills", "Part of your rent and utility bills paid back.")),
    ("building-permit", "land", ["building"], "free", None, 5,
     ("Разрешение на строительство", "Разрешение на строительство или реконструкцию."),
     ("Building permit", "Permission to build or rebuild.")),
    ("land-plot-scheme", "land", ["building"], "free", None, 14,
     ("Схема расположения земельного участка", "Утверждение схемы на кадастровом плане."),
     ("Land plot layout approval", "Approval of a plot layout on the cadastral map.")),
    ("street-trading", "business", ["start-business", "trade"], "fixed", Decimal("1500.00"), 15,
     ("Место для нестационарной торговли", "Разрешение на киоск или павильон."),
     ("Street trading pitch", "Permission for a kiosk or stall.")),
    ("marriage-registration", "civil-status", ["marriage"], "fixed", Decimal("350.00"), 30,
     ("Регистрация брака", "Подайте заявление и выберите дату регистрации."),
     ("Register a marriage", "Apply and choose a date for the ceremony.")),
    ("burial-plot", "social", ["bereavement"], "free", None, 1,
     ("Предоставление места для захоронения", "Место на муниципальном кладбище."),
     ("Burial plot", "A plot in a municipal cemetery.")),
]

TEXT = {
    "ru": {
        "who": "<p>Жители муниципального образования и их законные представители.</p>",
        "docs": [("Паспорт гражданина РФ", "", True), ("СНИЛС", "", False),
                 ("Заявление", "заполняется онлайн или в офисе", False)],
        "legal": "<p>Федеральный закон от 27.07.2010 № 210-ФЗ «Об организации предоставления "
                 "государственных и муниципальных услуг».</p>",
        "online": "Заполните заявление на сайте и приложите скан-копии документов.",
        "office": "Приходите в МФЦ с оригиналами документов, без записи.",
        "phone": "Консультация по телефону единой справочной службы.",
        "post": "Отправьте заявление и копии документов заказным письмом.",
        "fee_note": "Госпошлина оплачивается до подачи заявления.",
        "offices": [
            ("mfc-centre", "МФЦ «Мои документы», центральный офис", "ул. Ленина, 1",
             "Пандус, тактильная плитка, туалет для маломобильных граждан."),
            ("mfc-north", "МФЦ «Мои документы», Северный район", "ул. Садовая, 15",
             "Вход с уровня тротуара, индукционная петля."),
        ],
        "news": [
            ("new-kindergarten", "Открыт новый детский сад на 220 мест",
             "Запись в детский сад теперь доступна онлайн круглосуточно."),
            ("mfc-saturday", "МФЦ работают по субботам",
             "С декабря центральный офис принимает заявителей по субботам с 10 до 16."),
            ("budget-hearings", "Публичные слушания по бюджету",
             "Приглашаем жителей обсудить проект бюджета на следующий год."),
        ],
        "alert": ("Изменение графика работы МФЦ",
                  "31 декабря офисы работают до 14:00, 1–8 января закрыты."),
        "footer": [("Обратная связь", "contact"), ("Офисы", "offices")],
        "step_title": "Рождение ребёнка: пошаговая инструкция",
        "step_summary": "Что сделать после рождения ребёнка и в каком порядке.",
        "steps": [("Зарегистрируйте рождение", "birth-registration"),
                  ("Оформите пособие", "child-benefit"),
                  ("Запишите ребёнка в детский сад", "kindergarten-place")],
        "guide_title": "Как получить услугу онлайн",
        "guide_summary": "Подача заявления с телефона за несколько минут.",
        "holiday": "Новогодние праздники",
    },
    "en": {
        "who": "<p>Residents of the municipality and their legal representatives.</p>",
        "docs": [("Passport", "", True), ("Insurance number (SNILS)", "", False),
                 ("Application", "filled in online or at the office", False)],
        "legal": "<p>Federal Law No. 210-FZ of 27 July 2010 on the provision of state and "
                 "municipal services.</p>",
        "online": "Fill in the application on this site and attach scans of your documents.",
        "office": "Come to a one-stop centre with the original documents; no appointment.",
        "phone": "Advice from the single help line.",
        "post": "Send the application and copies of the documents by registered post.",
        "fee_note": "Pay the state fee before you apply.",
        "offices": [
            ("mfc-centre", "One-stop service centre, town centre", "1 Lenin Street",
             "Ramp, tactile paving, accessible toilet."),
            ("mfc-north", "One-stop service centre, North district", "15 Garden Street",
             "Step-free entrance, hearing loop."),
        ],
        "news": [
            ("new-kindergarten", "New kindergarten with 220 places opens",
             "You can now apply for a kindergarten place online at any time."),
            ("mfc-saturday", "Service centres open on Saturdays",
             "From December the central office is open on Saturdays from 10:00 to 16:00."),
            ("budget-hearings", "Public hearings on the budget",
             "Residents are invited to discuss next year's draft budget."),
        ],
        "alert": ("Holiday opening hours",
                  "On 31 December offices close at 14:00 and are closed 1-8 January."),
        "footer": [("Feedback", "contact"), ("Offices", "offices")],
        "step_title": "Having a baby: step by step",
        "step_summary": "What to do after your child is born, and in which order.",
        "steps": [("Register the birth", "birth-registration"),
                  ("Claim the payment", "child-benefit"),
                  ("Apply for a kindergarten place", "kindergarten-place")],
        "guide_title": "How to use a service online",
        "guide_summary": "Apply from your phone in a few minutes.",
        "holiday": "New Year holidays",
    },
}


@transaction.atomic
def populate(language: str) -> dict:
    """Fill the current tenant's site (call inside its schema). Idempotent: does nothing if the
    catalogue already has services."""
    home = HomePage.objects.get(pk=Site.objects.get(is_default_site=True).root_page_id)
    locale = Locale.objects.get(language_code=language)
    index = ServiceIndexPage.objects.descendant_of(home).get()
    if ServicePage.objects.child_of(index).exists():
        return {"created": 0}
    text = TEXT[language]
    rng = random.Random(home.title)  # noqa: S311 - same demo map pins for a tenant every time
    services = {}
    for slug, category, events, cost, fee, days, ru, en in SERVICES:
        title, summary = ru if language == "ru" else en
        page = ServicePage(
            title=title, slug=slug, locale=locale, summary=summary, who_can_apply=text["who"],
            documents=[("document", {"name": n, "note": note, "original": original})
                       for n, note, original in text["docs"]],
            cost_kind=cost, cost_amount=fee, cost_details=text["fee_note"] if fee else "",
            processing_days=days, legal_basis=text["legal"], category=category,
            life_events=events, apply_url="",
        )
        page.channels = [ServiceChannel(kind="online", details=text["online"]),
                         ServiceChannel(kind="office", details=text["office"]),
                         ServiceChannel(kind="phone", details=text["phone"],
                                        phone="+7 800 100-00-00")]
        index.add_child(instance=page)
        services[slug] = page

    offices_index = OfficeIndexPage.objects.descendant_of(home).get()
    for slug, title, address, access in text["offices"]:
        office = OfficePage(
            title=title, slug=slug, locale=locale, address=address, phone="+7 800 100-00-00",
            latitude=Decimal("59.93") + Decimal(rng.randint(0, 99)) / 1000,
            longitude=Decimal("30.31") + Decimal(rng.randint(0, 99)) / 1000,
            accessibility=access,
        )
        office.hours = [OpeningHours(weekday=d, opens=datetime.time(9), closes=datetime.time(18))
                        for d in range(5)]
        next_holiday = datetime.date(timezone.now().year + 1, 1, 1)
        office.exceptions = [OpeningException(date=next_holiday, closed=True,
                                              note=text["holiday"])]
        offices_index.add_child(instance=office)
        office.services.set(list(services.values())[:8])
        office.save_revision().publish()

    news_index = NewsIndexPage.objects.descendant_of(home).get()
    for age, (slug, title, summary) in enumerate(text["news"]):
        news_index.add_child(instance=NewsPage(
            title=title, slug=slug, locale=locale, summary=summary, body=f"<p>{summary}</p>",
            date=timezone.localdate() - datetime.timedelta(days=3 * age)))

    step_page = StepByStepPage(title=text["step_title"], slug="having-a-baby", locale=locale,
                               summary=text["step_summary"])
    step_page.steps = [Step(title=title, body=f"<p>{services[slug].summary}</p>",
                            link=services[slug]) for title, slug in text["steps"]]
    home.add_child(instance=step_page)
    home.add_child(instance=GuidePage(
        title=text["guide_title"], slug="apply-online", locale=locale,
        summary=text["guide_summary"],
        body=[("paragraph", f"<p>{text['online']}</p>"), ("inset", text["fee_note"])]))

    title, message = text["alert"]
    AlertBanner.objects.create(title=title, message=message, level="warning", locale=locale,
                               starts_at=timezone.now() - datetime.timedelta(days=1),
                               ends_at=timezone.now() + datetime.timedelta(days=30))
    for order, (link_title, path) in enumerate(text["footer"]):
        FooterLink.objects.create(title=link_title, url=f"/{language}/{path}/", sort_order=order,
                                  locale=locale)
    home.top_tasks = [("task", services[s]) for s in
                      ("kindergarten-place", "residence-registration", "housing-subsidy",
                       "building-permit", "birth-registration", "family-certificate")]
    home.save_revision().publish()
    return {"created": len(services)}
