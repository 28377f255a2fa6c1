"""Measuring digital government (issue 17): the arithmetic of the KPIs, shared by the tenant's
own snapshots (services/kpis/, in its schema) and the public roll-ups by level.

`figures` adds snapshot rows up (counts, decision-time histograms, costs) and derives the
indicators from the sums: take-up, SLA compliance, time to decision, automation, usefulness,
cost and saving under a channel cost model, small-number suppression for open data.
"""
