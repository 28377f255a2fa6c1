"""Demo content for development, `make demo` and the tests: three demo tenants with services,
offices, news (demo/site.py) and online forms with a register (demo/forms.py), and the
`dgbox demo` command. Installed only by the dev and test settings: nothing in production
imports it."""
