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

.PHONY: install serve test test-fast bench bench-versus lint browser clean

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

# Virtuoso from Debian's packages, for the remote-store tests over a second engine (installed when
# missing and root; without it the suite runs over the embedded store and Oxigraph server only).
.PHONY: virtuoso
virtuoso:
	@command -v virtuoso-t >/dev/null 2>&1 && command -v isql-vt >/dev/null 2>&1 || \
	  { if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq virtuoso-opensource >/dev/null; \
	    else echo "virtuoso-t missing: the remote-store tests skip Virtuoso (install the Debian package virtuoso-opensource)"; fi; }

# The suite runs in one pytest worker per core, up to four (pytest-xdist; a worker that runs out of
# tests takes some from the other). On two cores it takes 380-460 s (the tests' own times add up to
# 730-880 s; Virtuoso's share ~1/4). TEST_JOBS=0 runs it in a single process.
TEST_JOBS ?= $(shell n=$$(nproc 2>/dev/null || echo 2); [ "$$n" -gt 4 ] && n=4; echo $$n)

test: install browser virtuoso
	$(VENV)/bin/ruff check kg cli service tests bench
	$(PY) -m pytest -p no:cacheprovider -n $(TEST_JOBS) --dist worksteal $(PYTEST_ARGS)

# The fast tier: lint, then the tests that start no server (tests/unit, the doctests among them).
test-fast: $(STAMP)
	$(VENV)/bin/ruff check kg cli service tests bench
	$(PY) -m pytest -p no:cacheprovider -q tests/unit $(PYTEST_ARGS)

bench: install virtuoso
	$(PY) -m bench $(BENCH_ARGS)
	$(PY) -m bench.soak --seconds 60 --clients 32

# This tree against an earlier revision, both beside Oxigraph server, in alternating rounds:
# make bench-versus REV=cdea206 (bench/versus.py).
bench-versus: install
	@test -n "$(REV)" || { echo "usage: make bench-versus REV=<commit>"; exit 2; }
	$(PY) -m bench.versus $(REV) $(BENCH_ARGS)

lint: install
	$(VENV)/bin/ruff check kg cli service tests bench

clean:
	rm -rf var/data var/npm $(VENDOR) .pytest_cache
