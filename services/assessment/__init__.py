"""The Digital Government Assessment (issue 17): the World Bank's eight-dimension maturity model,
shipped as data (`model/v<N>.json`, read by `framework`), answered by a tenant's staff in rounds
(`models`, `workflow`), scored by `scoring`, with indicators the platform can measure filled in
by `measures`. Approved results are copied to the public schema
(`tenants.models.AssessmentResult`) for the operator console's comparison. See
docs/assessment.md.

Public face: `framework.current()`, `workflow` (open, answer, submit, approve, return),
`scoring.score()`.
"""
