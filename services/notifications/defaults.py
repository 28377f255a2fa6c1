"""The texts every tenant starts with, for every message kind, channel and language.

A tenant overrides any of them with a NotificationTemplate (Wagtail snippet); the rest keep
using these. SMS texts stay short: one SMS part holds 70 Cyrillic characters (160 latin).
Keys are (kind, channel, language); values are (subject, body); SMS has no subject. A kind
sent on some channels only (choices.KIND_CHANNELS) has texts for those channels only.
"""

from .choices import Channel, MessageKind

K = MessageKind
EMAIL, SMS = Channel.EMAIL, Channel.SMS

DEFAULT_TEMPLATES: dict[tuple[str, str, str], tuple[str, str]] = {
    # --- application_received ------------------------------------------------------------
    (K.APPLICATION_RECEIVED, EMAIL, "ru"): (
        "Заявление {reference} получено",
        "Здравствуйте, {applicant_name}!\n\n"
        "Мы получили ваше заявление «{service}». Номер заявления: {reference}.\n\n"
        "Следить за ходом рассмотрения: {url}\n\n{tenant_name}",
    ),
    (K.APPLICATION_RECEIVED, EMAIL, "en"): (
        "Application {reference} received",
        "Hello {applicant_name},\n\n"
        "We have received your application for {service}. Your reference is {reference}.\n\n"
        "Follow its progress: {url}\n\n{tenant_name}",
    ),
    (K.APPLICATION_RECEIVED, SMS, "ru"): ("", "Заявление {reference} получено. {url}"),
    (K.APPLICATION_RECEIVED, SMS, "en"): ("", "Application {reference} received. {url}"),
    # --- tracking_code -------------------------------------------------------------------
    (K.TRACKING_CODE, EMAIL, "ru"): (
        "Код для отслеживания заявления {reference}",
        "Здравствуйте, {applicant_name}!\n\n"
        "Код для отслеживания заявления «{service}» ({reference}): {code}\n\n"
        "Введите его на странице {url}\n\n"
        "Никому не сообщайте этот код.\n\n{tenant_name}",
    ),
    (K.TRACKING_CODE, EMAIL, "en"): (
        "Tracking code for application {reference}",
        "Hello {applicant_name},\n\n"
        "Your code to track your application for {service} ({reference}) is {code}\n\n"
        "Enter it at {url}\n\n"
        "Do not share this code with anyone.\n\n{tenant_name}",
    ),
    (K.TRACKING_CODE, SMS, "ru"): (
        "", "Код {code} для заявления {reference}. Никому его не сообщайте."),
    (K.TRACKING_CODE, SMS, "en"): (
        "", "Code {code} for application {reference}. Do not share it."),
    # --- status_changed ------------------------------------------------------------------
    (K.STATUS_CHANGED, EMAIL, "ru"): (
        "Заявление {reference}: {status}",
        "Здравствуйте, {applicant_name}!\n\n"
        "Статус вашего заявления «{service}» ({reference}) изменился: {status}.\n\n"
        "Подробнее: {url}\n\n{tenant_name}",
    ),
    (K.STATUS_CHANGED, EMAIL, "en"): (
        "Application {reference}: {status}",
        "Hello {applicant_name},\n\n"
        "The status of your application for {service} ({reference}) has changed: "
        "{status}.\n\nDetails: {url}\n\n{tenant_name}",
    ),
    (K.STATUS_CHANGED, SMS, "ru"): ("", "Заявление {reference}: {status}. {url}"),
    (K.STATUS_CHANGED, SMS, "en"): ("", "Application {reference}: {status}. {url}"),
    # --- more_information_requested ------------------------------------------------------
    (K.MORE_INFORMATION_REQUESTED, EMAIL, "ru"): (
        "По заявлению {reference} нужны дополнительные сведения",
        "Здравствуйте, {applicant_name}!\n\n"
        "Чтобы продолжить рассмотрение заявления «{service}» ({reference}), нам нужны "
        "дополнительные сведения. Что нужно предоставить: {url}\n\n{tenant_name}",
    ),
    (K.MORE_INFORMATION_REQUESTED, EMAIL, "en"): (
        "More information needed for application {reference}",
        "Hello {applicant_name},\n\n"
        "To continue with your application for {service} ({reference}) we need more "
        "information from you. See what is needed: {url}\n\n{tenant_name}",
    ),
    (K.MORE_INFORMATION_REQUESTED, SMS, "ru"): (
        "", "По заявлению {reference} нужны сведения: {url}"),
    (K.MORE_INFORMATION_REQUESTED, SMS, "en"): (
        "", "More information needed for application {reference}: {url}"),
    # --- decision_made -------------------------------------------------------------------
    (K.DECISION_MADE, EMAIL, "ru"): (
        "Решение по заявлению {reference}",
        "Здравствуйте, {applicant_name}!\n\n"
        "По вашему заявлению «{service}» ({reference}) принято решение: {status}.\n\n"
        "Подробнее и документы: {url}\n\n{tenant_name}",
    ),
    (K.DECISION_MADE, EMAIL, "en"): (
        "Decision on application {reference}",
        "Hello {applicant_name},\n\n"
        "A decision has been made on your application for {service} ({reference}): "
        "{status}.\n\nDetails and documents: {url}\n\n{tenant_name}",
    ),
    (K.DECISION_MADE, SMS, "ru"): ("", "Решение по заявлению {reference}: {status}. {url}"),
    (K.DECISION_MADE, SMS, "en"): ("", "Decision on application {reference}: {status}. {url}"),
    # --- payment_received ----------------------------------------------------------------
    (K.PAYMENT_RECEIVED, EMAIL, "ru"): (
        "Оплата по заявлению {reference} получена",
        "Здравствуйте, {applicant_name}!\n\n"
        "Мы получили оплату {amount} по заявлению «{service}» ({reference}).\n\n"
        "Подробнее: {url}\n\n{tenant_name}",
    ),
    (K.PAYMENT_RECEIVED, EMAIL, "en"): (
        "Payment received for application {reference}",
        "Hello {applicant_name},\n\n"
        "We have received your payment of {amount} for your application for {service} "
        "({reference}).\n\nDetails: {url}\n\n{tenant_name}",
    ),
    (K.PAYMENT_RECEIVED, SMS, "ru"): ("", "Оплата {amount} по заявлению {reference} получена."),
    (K.PAYMENT_RECEIVED, SMS, "en"): ("", "Payment of {amount} received for {reference}."),
    # --- staff_escalation (to staff, e-mail only; never the applicants' details) -----------
    (K.STAFF_ESCALATION, EMAIL, "ru"): (
        "Сроки по заявлениям ({count}): {references}",
        "Сроки рассмотрения этих заявлений требуют внимания:\n\n{cases}\n\n"
        "Все заявления: {url}\n\n"
        "Письмо отправлено автоматически системой «{tenant_name}». Сведения о заявителях в "
        "письмо не включаются: откройте заявление по ссылке.",
    ),
    (K.STAFF_ESCALATION, EMAIL, "en"): (
        "Deadlines need attention ({count}): {references}",
        "The deadlines of these cases need your attention:\n\n{cases}\n\n"
        "All cases: {url}\n\n"
        "This message was sent automatically by {tenant_name}. Applicants' details are never "
        "included: open the case with the link.",
    ),
    # --- webhook_disabled (to administrators, e-mail only) ---------------------------------
    (K.WEBHOOK_DISABLED, EMAIL, "ru"): (
        "Веб-хук клиента API «{client}» отключён",
        "Доставки веб-хука клиента API «{client}» на адрес {target_url} не удались "
        "{failures} раз подряд, и подписка отключена: события по заявлениям туда больше не "
        "отправляются.\n\nЖурнал доставок, повторная отправка и включение подписки: {url}\n\n"
        "Письмо отправлено автоматически системой «{tenant_name}».",
    ),
    (K.WEBHOOK_DISABLED, EMAIL, "en"): (
        "Webhook of API client {client} disabled",
        "Deliveries of the webhook of API client {client} to {target_url} failed {failures} "
        "times in a row, so the subscription has been disabled: no case events are sent there "
        "any more.\n\nDelivery log, replay and re-enabling: {url}\n\n"
        "This message was sent automatically by {tenant_name}.",
    ),
}
