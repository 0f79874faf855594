# The two commands of the README: `make run` and `make test`.
# Both create the virtualenv when it is missing and reinstall only when pyproject.toml changed.
# `make run` installs what the portal needs; `make test` adds the test tools (pytest,
# Playwright, schemathesis, import-linter...), each behind a stamp of its own.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
BENCH_STAMP := $(VENV)/.installed-bench
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: run test bench bench-load bench-pages bench-report bench-drift bench-organizations bench-groups bench-chaos install install-test clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# A stamp is newer than pyproject.toml once its dependencies are installed.
# --no-compile: Python compiles a module when it is first imported; compiling all of botocore
# and moto up front took 119 s of a fresh install, 74 s without it, on a loaded 2-core machine.
PIP_INSTALL := $(PY) -m pip install --quiet --disable-pip-version-check --no-compile
$(STAMP): pyproject.toml | $(PY)
	$(PIP_INSTALL) -e .
	touch $@

$(TEST_STAMP): $(STAMP)
	$(PIP_INSTALL) -e '.[test]'
	touch $@

$(BENCH_STAMP): $(STAMP)
	$(PIP_INSTALL) -e '.[bench]'
	touch $@

install: $(STAMP)
install-test: $(TEST_STAMP)

# Development server with demo data, an embedded worker and beat, and a fake Identity
# Center unless AWS_ENDPOINT_URL is set. Ctrl+C stops everything.
run: export DEBUG ?= 1
# The demo users approve without enrolling MFA first; the printout says so.
run: export REQUIRE_MFA_FOR_APPROVERS ?= 0
run: install
	$(PY) manage.py migrate --noinput --verbosity 0
	$(PY) manage.py serve --seed-demo --host $(HOST) --port $(PORT)

# The architecture contract (docs/architecture.md), then every test, on SQLite unless
# DATABASE_URL says otherwise. pytest exits non-zero on failures and with 5 when it
# collected nothing: both fail the target.
test: install-test
	$(VENV)/bin/lint-imports
	$(PY) -m pytest $(PYTEST_ARGS)

# Bulk provisioning benchmark (README "Performance"). It prints figures; it asserts nothing.
# BENCH_ARGS="--redis redis://127.0.0.1:6379/15" uses the fleet-wide Redis limiter.
# BENCH_ARGS="--workers 2 --accounts 1000 --redis redis://127.0.0.1:6379/0" with
# DATABASE_URL=postgres://... runs real Celery workers sharing one moto server (bench/fleet.py).
bench: install
	$(PY) bench/assignments.py $(BENCH_ARGS)

# Load test (README "Performance"): people signing in, requesting, approving, reading the
# reports and exporting, with Locust, against the web service as docker-compose.yml runs it
# (gunicorn, 3 workers) on the organisation of bench/load_org.py (500,000 who-has-access
# rows). PostgreSQL: DATABASE_URL's server (a database of the run's own, dropped after);
# Redis: 127.0.0.1:6379/12 unless BENCH_ARGS="--redis URL". Prints figures.
bench-load: export DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/postgres
bench-load: $(BENCH_STAMP)
	$(PY) bench/load.py $(BENCH_ARGS)

# The same organisation's pages one request at a time against one gunicorn worker (docs/
# performance.md): CPU of the worker and of PostgreSQL per page, quiet enough to compare two
# versions of the code. Same PostgreSQL and Redis as bench-load. Prints figures.
bench-pages: export DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/postgres
bench-pages: $(BENCH_STAMP)
	$(PY) bench/pages.py $(BENCH_ARGS)

# Who-has-access CSV export of 500,000 rows through the real view (README "Performance"):
# on PostgreSQL with DATABASE_URL=postgres://..., else a temporary SQLite. Prints figures.
bench-report: install
	$(PY) bench/report_export.py $(BENCH_ARGS)

# Drift scan of 1,000 access groups, 10,000 users and 500 accounts in moto (README
# "Performance"): calls made against the fewest List pages that could answer. Prints figures.
bench-drift: install
	$(PY) bench/drift_scan.py $(BENCH_ARGS)

# Organizations sync: 5,000 accounts in 200 OUs, calls against the minimum pages, time at the rate.
bench-organizations: install
	$(PY) bench/organizations_sync.py $(BENCH_ARGS)

# Refresh of Identity Center groups for approvers and eligibility by group: 10,000 users in
# 500 groups in moto (README "Performance"): calls made against the fewest pages. Prints figures.
bench-groups: install
	$(PY) bench/group_sync.py $(BENCH_ARGS)

# 100 approvals provisioned while the worker is SIGKILLed every 10 s and 30 % of Identity
# Center calls fail (README "Performance"): the real stack on the machine's PostgreSQL and
# Redis (tests/system/harness.py), a database and key prefix of its own. Prints figures.
bench-chaos: install-test
	$(PY) bench/chaos.py $(BENCH_ARGS)

clean:
	rm -rf var/broker var/celerybeat-schedule* var/test-*.sqlite3
