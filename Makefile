# outsourcing-kg — the two commands of the quick start are `make serve` and `make test`.
# Every target bootstraps what it needs, idempotently: a second run only checks stamps.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
VENDOR := service/static/vendor
ASSETS := $(VENDOR)/.stamp
YASGUI_VERSION  := 4.6.2
SWAGGER_VERSION := 5

.PHONY: install serve test bench lint browser clean

install: $(STAMP) $(ASSETS)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# Front-end assets (YASGUI, Swagger UI) come from the npm registry at set-up time and are served by
# the service itself; they are never committed.
$(ASSETS): Makefile
	@if command -v npm >/dev/null 2>&1; then \
	  rm -rf var/npm && mkdir -p var/npm $(VENDOR) && \
	  npm install --silent --no-audit --no-fund --no-package-lock --prefix var/npm \
	    @zazuko/yasgui@$(YASGUI_VERSION) swagger-ui-dist@$(SWAGGER_VERSION) >/dev/null && \
	  cp var/npm/node_modules/@zazuko/yasgui/build/yasgui.min.js var/npm/node_modules/@zazuko/yasgui/build/yasgui.min.css $(VENDOR)/ && \
	  cp var/npm/node_modules/swagger-ui-dist/swagger-ui-bundle.js var/npm/node_modules/swagger-ui-dist/swagger-ui.css $(VENDOR)/ && \
	  touch $(ASSETS); \
	else echo "npm not found: the SPARQL editor and API docs pages will say their assets are missing"; fi

serve: install
	$(VENV)/bin/kg serve

# Headless Chromium from Debian's packages, for the page tests (installed when missing and root).
browser:
	@command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 || \
	  { if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	    else echo "chromium/chromedriver missing: browser tests will fail (install the Debian packages chromium chromium-driver)"; fi; }

test: install browser
	$(VENV)/bin/ruff check kg cli service tests bench
	$(PY) -m pytest -p no:cacheprovider $(PYTEST_ARGS)

bench: install
	$(PY) -m bench $(BENCH_ARGS)
	$(PY) -m bench.soak --seconds 60 --clients 32

lint: install
	$(VENV)/bin/ruff check kg cli service tests bench

clean:
	rm -rf var/data var/npm $(VENDOR) .pytest_cache
