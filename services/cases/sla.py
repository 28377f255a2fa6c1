"""Deadlines in working days.

Clock rules (docs/cases.md): the deadline is the service's working days counted from the day
after submission; Saturdays, Sundays and the dates in DGBOX_HOLIDAYS do not count. The clock
stops while the case waits for the applicant (a state whose clock is "paused", e.g. "more
information requested") and the deadline moves by the working days it waited. A case is
"nearing" its deadline when NEARING_DAYS working days or fewer remain, "overdue" after it.
"""

from datetime import date, timedelta

from django.conf import settings

NEARING_DAYS = 2


def holidays():
    return {date.fromisoformat(d) for d in getattr(settings, "DGBOX_HOLIDAYS", [])}


def is_working_day(day, off=None):
    off = holidays() if off is None else off
    return day.weekday() < 5 and day not in off


def add_working_days(start, days, off=None):
    """The date `days` working days after `start` (start itself not counted)."""
    off = holidays() if off is None else off
    day = start
    remaining = days
    while remaining > 0:
        day += timedelta(days=1)
        if is_working_day(day, off):
            remaining -= 1
    return day


def working_days_between(start, end, off=None):
    """Working days after `start` up to and including `end` (0 if end <= start)."""
    off = holidays() if off is None else off
    count = 0
    day = start
    while day < end:
        day += timedelta(days=1)
        if is_working_day(day, off):
            count += 1
    return count


def flag(due, today, off=None):
    if due is None:
        return ""
    if today > due:
        return "overdue"
    if working_days_between(today, due, off) <= NEARING_DAYS:
        return "nearing"
    return ""
