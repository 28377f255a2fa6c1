"""A tenant's KPIs (issue 17), in its own schema: daily snapshots per service and overall,
computed from its cases, page feedback and the funnel's counters, and the counters themselves.
The arithmetic is tenants/kpis/figures.py; the public copies for roll-ups are
`tenants.models.TenantKpi`.

Public face: `compute` (`compute_day(day)`: one day's snapshots and their public copies,
replacing what was stored; `cost_model_on`, `yesterday`), `counters` (the funnel's page views
and forms started on the request path, `collect_funnel`), `models` (KpiSnapshot,
FunnelCount), `tasks` (`kpis.collect_funnel`, `kpis.compute_day`). docs/kpis.md says what
each indicator means and how it is computed.
"""
