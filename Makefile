# Thongthin: two commands for a newcomer.
#   make run    start the whole platform with demo data (Ctrl-C stops it)
#   make test   check the layers and lint, then every test: unit, interface, integration (real RabbitMQ,
#               SQLite, PostgreSQL), end to end, reliability
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
export AMQP_URI ?= amqp://guest:guest@127.0.0.1:5672/
# make test runs test modules on this many pytest-xdist workers: most of an end-to-end test waits on
# processes and the broker, so workers overlap their waits even on two busy cores
TEST_WORKERS ?= 3

.PHONY: run test test-unit test-integration test-e2e test-reliability venv system-deps-run system-deps-test migrate schemas lock clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || { \
	  echo "python venv module missing: installing python3-venv"; \
	  apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null && $(PYTHON) -m venv $(VENV); }
	$(PY) -m pip install -q --upgrade "pip>=23"
	$(PY) -m pip install -q -r requirements.lock
	$(PY) -m pip install -q --no-deps -e .
	@touch $@

system-deps-run:
	@scripts/install-system-deps.sh run

system-deps-test:
	@scripts/install-system-deps.sh test

run: venv system-deps-run
	@scripts/ensure-rabbitmq.sh
	@$(PY) -m devtools.run; status=$$?; scripts/stop-rabbitmq.sh; exit $$status

migrate: venv
	$(PY) -m shared.migrate

# The build checks the layers and the code first: lint-imports (no service imports another, shared imports
# no service, domains and the kernel are pure: [tool.importlinter]) and ruff ([tool.ruff]), then the tiers.
LINT = $(VENV)/bin/lint-imports && $(VENV)/bin/ruff check .
test: venv system-deps-test
	$(LINT) && $(PY) -m pytest -n $(TEST_WORKERS) --durations=20 tests/unit tests/interface tests/integration tests/e2e tests/reliability

test-unit: venv
	$(LINT) && $(PY) -m pytest tests/unit tests/interface

test-integration: venv system-deps-test
	$(PY) -m pytest tests/integration

test-e2e: venv system-deps-test
	$(PY) -m pytest tests/e2e

# Faults injected into the running platform under load (issue #9): prints RELIABILITY lines.
test-reliability: venv system-deps-test
	$(PY) -m pytest tests/reliability

# The whole platform at the national registry's scale, against the raw broker (bench/RESULTS.md):
#   make bench    make bench DB=postgres    make bench SCALE=0.1
.PHONY: bench
DB ?= sqlite
SCALE ?= 1.0
bench: venv system-deps-test
	$(PY) -m bench.parsers
	$(PY) -m bench.run --db $(DB) --scale $(SCALE)

# Regenerate the JSON Schemas of the event contracts after changing shared/contracts/events.py.
schemas: venv
	$(PY) -m shared.contracts.schema_export

# Re-pin every dependency after changing pyproject.toml.
lock: venv
	$(PY) -m pip freeze --exclude-editable | grep -v '^thongthin' > requirements.lock

clean:
	rm -rf var .pytest_cache
