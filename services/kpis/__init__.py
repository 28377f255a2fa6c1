"""A tenant's KPIs (issue 17), in its own schema: daily snapshots per service and overall,
computed from its cases, page feedback and the funnel's counters, and the counters themselves.
The arithmetic is tenants/kpis/figures.py; the public copies for roll-ups are
`tenants.models.TenantKpi`."""
