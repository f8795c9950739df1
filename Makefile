# One entry point for developers and CI. `make test` builds the virtual
# environment from the project's own files on first use, so a fresh clone with
# nothing but Python 3.11+ needs no other step.
PYTHON ?= python3
# no usage reports from the SAM CLI (and no network calls in CI)
export SAM_CLI_TELEMETRY := 0
VENV   := .venv
BIN    := $(VENV)/bin
PACKAGES := $(VENV)/.installed
STAMP  := $(VENV)/.paths
.PHONY: dev e2e demo soak
.PHONY: deploy-check

.PHONY: venv test lint format typecheck validate checkov unit integration migrate db-url db-stop openapi schema build clean bench-pool bench-webhook bench-outbound bench-inbound bench-timers bench-retention bench-stats bench-launch bench-events bench-gateway bench-coldstart bench-cost

# the virtual environment itself, once: the two below then install into it side by side
$(VENV)/pyvenv.cfg:
	$(PYTHON) -m venv $(VENV)

$(PACKAGES): requirements-dev.txt layers/shared/requirements.txt | $(VENV)/pyvenv.cfg
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

# the shared layer's package and the functions import as in Lambda and in tests; dev/
# holds the development tools (tether_dev: the local stack, the sandbox, the command
# line), which the layer never ships
$(STAMP): $(PACKAGES) Makefile
	printf '%s\n%s\n%s\n' "$(CURDIR)/layers/shared" "$(CURDIR)/dev" "$(CURDIR)" \
	  > "$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')/tether-project.pth"
	touch $@

venv: $(STAMP)

# Two rounds, each of jobs side by side, each job's output printed whole when it ends
# (--output-sync): the static checks with the unit tier (the two virtual environments
# they need are built side by side too), then the integration tier with the e2e tier,
# which mostly waits on its local stacks. Every job runs whatever another one found.
test:
	$(MAKE) --no-print-directory -j 5 --output-sync=target lint typecheck validate checkov unit
	$(MAKE) --no-print-directory -j 2 --output-sync=target integration e2e

# pytest-xdist workers. The integration and e2e tiers wait on PostgreSQL, sockets and
# the local stack much of their time, so they take a worker more than there are cores
# (at least 2, at most 6); a test file stays in one worker (--dist loadfile), so a
# module's fixtures, e.g. e2e's local stack, are made once. The unit tier is all CPU and
# shares the cores with the static checks in `make test`: in this process on up to two
# cores, else a worker per core (at most 4), test by test.
# TEST_WORKERS=0 (UNIT_WORKERS=0) runs a tier in this process, as plain pytest does.
CORES := $(shell nproc 2>/dev/null || echo 2)
TEST_WORKERS ?= $(shell n=$$(( $(CORES) + 1 )); [ $$n -gt 6 ] && n=6; echo $$n)
UNIT_WORKERS ?= $(shell n=$(CORES); [ $$n -gt 4 ] && n=4; [ $$n -le 2 ] && n=0; echo $$n)
PYTEST := $(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: $(STAMP)
	$(BIN)/mypy

validate: $(STAMP)
	$(BIN)/sam validate --lint
	$(BIN)/cfn-lint infra/database.yaml

# Static analysis of template.yaml, offline. Each finding is fixed, or skipped in the
# resource's Metadata (checkov: skip) with its reason.
CHECKOV_STAMP := $(VENV)/checkov/.installed
$(CHECKOV_STAMP): requirements-checkov.txt | $(VENV)/pyvenv.cfg
	$(PYTHON) -m venv $(VENV)/checkov
	$(VENV)/checkov/bin/python -m pip install --quiet -r requirements-checkov.txt
	touch $@

checkov: $(CHECKOV_STAMP)
	BC_SKIP_MAPPING=TRUE $(VENV)/checkov/bin/checkov --file template.yaml \
	  --framework cloudformation --skip-download --compact --quiet

unit: $(STAMP)
	$(BIN)/pytest -n $(UNIT_WORKERS) --dist load tests/unit -q

integration: $(STAMP)
	$(PYTEST) tests/integration -q

# The local stack in a subprocess on free ports, driven over HTTP: a stack per test file.
e2e: $(STAMP)
	$(PYTEST) tests/e2e -q

# The whole system on this machine (README, "Run it locally"); Ctrl-C stops it.
# Options after ARGS=, e.g. make dev ARGS="--port 8080 --sandbox-failure-rate 0.1"
dev: $(STAMP)
	$(BIN)/python -m tether_dev dev $(ARGS)

# The demo scenario over HTTP against the running stack (or one it starts and stops).
demo: $(STAMP)
	$(BIN)/python -m tether_dev demo

# Apply pending migrations to DATABASE_URL, or to the embedded PostgreSQL when unset.
migrate: $(STAMP)
	$(BIN)/python -m tether_dev migrate

# Print the admin URL of the database in use (starts the embedded one if needed).
db-url: $(STAMP)
	$(BIN)/python -m tether_dev db-url

# Regenerate openapi.json from the API's routes (a test fails while it is stale).
openapi: $(STAMP)
	$(BIN)/python -c 'from tether.api.resolver import openapi_json; print(openapi_json())' > openapi.json

# Regenerate schema.sql from a database migrated from nothing (a test fails while it is stale).
schema: $(STAMP)
	POWERTOOLS_LOG_LEVEL=WARNING $(BIN)/python -m tether_dev schema

# Stop the embedded PostgreSQL (it otherwise keeps running between runs).
db-stop: $(STAMP)
	$(BIN)/python -m tether_dev db-stop

# The emulator's own virtual environment on Python 3.12, the Lambda runtime's: it runs
# the functions on its interpreter, and it pins a botocore of its own.
MINISTACK_VENV  := .venv-ministack
MINISTACK_STAMP := $(MINISTACK_VENV)/.installed
PYTHON312 ?= python3.12
$(MINISTACK_STAMP): requirements-ministack.txt
	@if ! $(PYTHON312) --version >/dev/null 2>&1 && command -v pyenv >/dev/null 2>&1; then \
	  export PYENV_VERSION="$$(pyenv versions --bare | grep -E '^3\.12' | tail -n 1)"; \
	fi; \
	$(PYTHON312) -m venv $(MINISTACK_VENV)
	$(MINISTACK_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(MINISTACK_VENV)/bin/python -m pip install --quiet -r requirements-ministack.txt
	touch $@

# template.yaml built for this machine, deployed into the ministack emulator, its
# routes and stack events checked, the demo run through its API Gateway (README, "Deploy").
deploy-check: $(STAMP) $(MINISTACK_STAMP)
	@if ! python3.12 --version >/dev/null 2>&1 && command -v pyenv >/dev/null 2>&1; then \
	  export PYENV_VERSION="$$(pyenv versions --bare | grep -E '^3\.12' | tail -n 1)"; \
	fi; \
	$(BIN)/python -m tether_dev deploy-check

# `sam build` needs python3.12 (the Lambda runtime) on PATH; under pyenv, pick its 3.12.
build: $(STAMP)
	@if ! python3.12 --version >/dev/null 2>&1 && command -v pyenv >/dev/null 2>&1; then \
	  export PYENV_VERSION="$$(pyenv versions --bare | grep -E '^3\.12' | tail -n 1)"; \
	fi; \
	$(BIN)/sam build

# Benchmarks: not part of `make test`; each prints its figures and last a JSON line of
# them, nothing else (tests/unit/test_bench_targets.py, tests/integration/
# test_bench_output.py). They run as the local stage (`local:` secrets, the sandbox),
# with WARNING logs and no EMF; ARGS passes a bench's options (ARGS=--help).
bench-pool: $(STAMP)
	TETHER_STAGE=local POWERTOOLS_LOG_LEVEL=WARNING POWERTOOLS_METRICS_DISABLED=true $(BIN)/python bench/pool.py $(ARGS)

# Latency, throughput and import time of the webhook function (not part of `make test`);
# the handler's own log lines and EMF, paid for as in Lambda, go to a file.
bench-webhook: $(STAMP)
	TETHER_STAGE=local POWERTOOLS_LOG_LEVEL=WARNING $(BIN)/python bench/webhook.py $(ARGS)

# Sends through the outbound function against the sandbox provider (4 containers).
bench-outbound: $(STAMP)
	TETHER_STAGE=local POWERTOOLS_LOG_LEVEL=WARNING POWERTOOLS_METRICS_DISABLED=true $(BIN)/python bench/outbound.py $(ARGS)

# Inbound matching on 1,000,000 leads beside seed 000's algorithm.
bench-inbound: $(STAMP)
	TETHER_STAGE=local POWERTOOLS_LOG_LEVEL=WARNING POWERTOOLS_METRICS_DISABLED=true $(BIN)/python bench/inbound.py $(ARGS)

clean:
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache $(MINISTACK_VENV)

# 100,000 due timers worked through by the timers function (moto SQS in process).
bench-timers: $(STAMP)
	TETHER_STAGE=local POWERTOOLS_LOG_LEVEL=WARNING POWERTOOLS_METRICS_DISABLED=true $(BIN)/python bench/timers.py $(ARGS)

# The retention purge's rate (rows/s), and that it leaves nothing past a window.
bench-retention: $(STAMP)
	TETHER_STAGE=local POWERTOOLS_LOG_LEVEL=WARNING POWERTOOLS_METRICS_DISABLED=true $(BIN)/python bench/retention.py $(ARGS)

# The two stats reads at 1,000,000 messages (bench/stats.py): p50/p99, last line JSON.
bench-stats: $(STAMP)
	TETHER_STAGE=local POWERTOOLS_LOG_LEVEL=WARNING POWERTOOLS_METRICS_DISABLED=true $(BIN)/python bench/stats.py $(ARGS)

# 100,000 leads from one launch request (local gateway) to every first send queued, the
# launch function fed by LaunchQueue's local poller (one consumer)
bench-launch: $(STAMP)
	TETHER_STAGE=local POWERTOOLS_LOG_LEVEL=WARNING POWERTOOLS_METRICS_DISABLED=true $(BIN)/python bench/launch.py $(ARGS)

# A reply's bell over the WebSocket (push p50/p99) and events/s from the outbox to a
# webhook receiver, on the local stack (bench/events.py); last line JSON.
bench-events: $(STAMP)
	TETHER_STAGE=local POWERTOOLS_LOG_LEVEL=WARNING POWERTOOLS_METRICS_DISABLED=true $(BIN)/python bench/events.py $(ARGS)

# A request's time through the local gateway (bench/gateway.py): a cached-key GET and a
# 401 over one keep-alive connection, p50/p90/p99; last line JSON.
bench-gateway: $(STAMP)
	TETHER_STAGE=local POWERTOOLS_LOG_LEVEL=WARNING POWERTOOLS_METRICS_DISABLED=true $(BIN)/python bench/gateway.py $(ARGS)

# What a message sent (by a launch, by the API) and a message received costs: each
# function's invocations, wall and CPU time, database round trips, SQS/DynamoDB/EventBridge
# requests, measured on the local stack in process; then $ per million messages and the
# concurrency at 100 million a day (bench/cost.py, prices in bench/cost_model.py); last
# line JSON. ARGS="--leads 50" for a shorter run.
bench-cost: $(STAMP)
	TETHER_STAGE=local POWERTOOLS_LOG_LEVEL=WARNING POWERTOOLS_METRICS_DISABLED=true $(BIN)/python bench/cost.py $(ARGS)

# The whole system under many faults at once (dev/tether_dev/soak): two tenants, 5,000
# leads, kill -9 of the functions, PostgreSQL restarts, provider and SQS faults; last
# line JSON (lost, doubled, stuck all 0). SEED=n repeats a run; about 15 minutes.
SEED ?=
soak: $(STAMP)
	TETHER_STAGE=local POWERTOOLS_LOG_LEVEL=WARNING POWERTOOLS_METRICS_DISABLED=true \
	  $(BIN)/python -m tether_dev soak $(if $(SEED),--seed $(SEED)) $(ARGS)

# Every function's import plus first invocation in fresh processes, medians, with the
# -X importtime top ten (bench/coldstart.py); last line JSON. ARGS="--built" measures
# what `sam build` ships, on the emulator's Python 3.12 (the Lambda runtime's).
bench-coldstart: $(STAMP) $(if $(findstring --built,$(ARGS)),$(MINISTACK_STAMP))
	@if ! python3.12 --version >/dev/null 2>&1 && command -v pyenv >/dev/null 2>&1; then \
	  export PYENV_VERSION="$$(pyenv versions --bare | grep -E '^3\.12' | tail -n 1)"; \
	fi; \
	POWERTOOLS_METRICS_DISABLED=true $(BIN)/python bench/coldstart.py $(ARGS)
