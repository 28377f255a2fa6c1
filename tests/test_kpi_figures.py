"""The KPI arithmetic (tenants/kpis/figures.py) on rows with known answers."""

import datetime
from decimal import Decimal
from types import SimpleNamespace

from django.utils import translation

from tenants.kpis import figures


def day(n):
    return datetime.date(2026, 11, n)


def test_sums_and_ratios_of_sums_not_averages_of_ratios():
    small = {"day": day(1), "cases_online": 1, "cases_office": 0}          # take-up 100%
    large = {"day": day(1), "cases_online": 10, "cases_office": 90}        # take-up 10%
    totals = figures.total([small, large])
    assert totals.cases == 101
    assert totals.take_up == 11 / 101  # not (1.0 + 0.1) / 2
    assert totals.channel_mix() == {"online": 11, "office": 90, "phone": 0, "post": 0}


def test_empty_totals_have_no_indicators_rather_than_zero():
    totals = figures.total([])
    assert (totals.take_up, totals.sla_compliance, totals.automation, totals.usefulness,
            totals.decision_time(0.5)) == (None, None, None, None, None)
    assert totals.funnel() == [("page_views", 0), ("forms_started", 0), ("submitted", 0),
                               ("decided", 0)]


def test_decision_time_quantiles_merge_exactly_across_rows():
    rows = [{"day": day(1), "decided": 3, "decision_days": {"1": 2, "10": 1}},
            {"day": day(2), "decided": 2, "decision_days": {"3": 1, "30": 1}}]
    totals = figures.total(rows)  # days: 1, 1, 3, 10, 30
    assert totals.decision_time(0.5) == 3
    assert totals.decision_time(0.9) == 30
    assert figures.histogram_quantile({5: 10}, 0.9) == 5
    assert figures.histogram_quantile({1: 9, 2: 1}, 0.9) == 1  # the 9th of 10 took 1 day


def test_gauges_take_the_latest_day_of_a_tenant_and_add_across_tenants():
    a = figures.total([{"day": day(2), "services_online": 4},
                       {"day": day(1), "services_online": 2}])
    assert a.gauges["services_online"] == 4
    b = figures.total([{"day": day(1), "services_online": 3}])
    a += b
    assert a.gauges["services_online"] == 7


def test_cost_and_savings_under_the_documents_model_and_a_changed_one():
    cases = {"online": 80, "phone": 10, "post": 5, "office": 5}
    cost, savings = figures.cost_and_savings(cases, None)
    assert cost == 80 * 1 + 10 * 20 + 5 * 30 + 5 * 50 == 680
    assert savings == 100 * 50 - 680
    cheaper_phone = SimpleNamespace(online=Decimal("1.5"), phone=Decimal(10), post=Decimal(30),
                                    office=Decimal(60))
    cost, savings = figures.cost_and_savings(cases, cheaper_phone)
    assert cost == Decimal("120") + 100 + 150 + 300
    assert savings == 6000 - cost


def test_small_numbers_are_suppressed_but_zero_is_published():
    assert [figures.suppress(n, 10) for n in (0, 1, 9, 10, 250)] == [0, None, None, 10, 250]


def test_rows_may_be_model_instances():
    row = SimpleNamespace(day=day(1), cases_post=2, feedback_useful=3, feedback_not_useful=1,
                          cost=Decimal(60), savings=Decimal(40))
    totals = figures.total([row])
    assert (totals.cases, totals.usefulness, totals.cost) == (2, 0.75, Decimal(60))


def test_charts_say_in_words_what_they_draw():
    from tenants.console import charts

    line = charts.line_chart(["1 Nov", "2 Nov", "3 Nov"],
                             [("Online", [0.5, None, 0.8]), ("Office", [None, None, None])],
                             title="Take-up", percent=True)
    # The summary's words are translated (Russian by default): it says the translations.
    said = {"from": translation.gettext("%(name)s from %(first)s to %(last)s"),
            "none": translation.gettext("%(name)s: no data")}
    assert 'role="img"' in line
    assert said["from"] % {"name": "Online", "first": "50%", "last": "80%"} in line
    assert said["none"] % {"name": "Office"} in line
    bars = charts.hbar_chart([("Views", 200), ("Started", 50)], title="Funnel",
                             highlight="Started")
    assert "Funnel: Views 200; Started 50." in bars and charts.SERIES[1][0] in bars
    radar = charts.radar_chart([("Leadership", 3), ("Users", None), ("Data", 5)],
                               title="Maturity", compare=[("Leadership", 2), ("Users", 1),
                                                          ("Data", 4)], compare_name="2025")
    # "not assessed" is translated (Russian by default): the summary says the translation.
    assert f"Users {translation.gettext('not assessed')}" in radar
    assert "2025: Leadership 2" in radar
    assert radar.count("<polygon") == 5 + 2  # five rings, two shapes
