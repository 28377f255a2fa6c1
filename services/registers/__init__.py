"""Registers a tenant holds (the once-only principle): authoritative lists imported from CSV
that services look applicants up in instead of asking for paper proof.

Public face: `service` (`import_csv`, `replace_records`, `check_lookups`, `look_up`),
`models` (Register, RegisterRecord, RegisterLookupBlock); `views` is the admin's import page.
"""
