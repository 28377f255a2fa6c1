"""Decision-time histograms merged inside PostgreSQL, one query whatever the number of rows:
the tenant's KPI dashboard merges its snapshots' per page (services/kpis/dashboard.py), the
roll-ups their public copies' per tenant (rollup.py). Both keep the histogram in a JSON
column `decision_days` ({"days": cases}, tenants.models.KpiFigures).

The rows are the caller's queryset, read as a derived table that PostgreSQL folds into the
outer query (the plan is the one of its WHERE written inline). Keys and values are read only
when they are whole numbers that fit (at most 6 and 12 digits: a million days, a trillion
cases); anything else, which no KPI job writes, is left out rather than failing the page.
"""

from collections import Counter
from typing import Any

from django.db import connections
from django.db.models import F, QuerySet


def merged_by(rows: QuerySet[Any], key: str) -> dict[Any, Counter[int]]:
    """{value of `key`: Counter(days: cases)}: the `decision_days` histograms of `rows` added
    up per value of the column `key` (e.g. "page_id", "tenant_id"). Keys with no histogram
    entry are absent."""
    rows_sql, params = (rows.order_by().values(bucket=F(key), histogram=F("decision_days"))
                        .query.sql_with_params())
    # The SQL is the queryset's own, compiled by Django; its values are bound parameters.
    sql = (
        "SELECT r.bucket, d.key, SUM(d.value::bigint) "  # noqa: S608 # nosec B608
        f"FROM ({rows_sql}) r CROSS JOIN LATERAL jsonb_each_text(r.histogram) d "
        "WHERE d.key ~ '^[0-9]{1,6}$' AND d.value ~ '^[0-9]{1,12}$' GROUP BY 1, 2")
    merged: dict[Any, Counter[int]] = {}
    with connections[rows.db].cursor() as cursor:
        cursor.execute(sql, params)
        for bucket, days, cases in cursor.fetchall():
            merged.setdefault(bucket, Counter())[int(days)] += int(cases)
    return merged
