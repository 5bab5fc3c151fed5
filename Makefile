# Embudo — `make run` starts the whole stack, `make test` runs every check. Both set up what is missing.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYENV_ROOT ?= $(shell pyenv root 2>/dev/null || echo $$HOME/.pyenv)
PY311 ?= $(firstword $(wildcard $(PYENV_ROOT)/versions/3.11.*/bin/python3.11) $(shell command -v python3.11))
PY310 ?= $(firstword $(wildcard $(PYENV_ROOT)/versions/3.10.*/bin/python3.10) $(shell command -v python3.10))

VENV := .venv
RASA_VENV := .venv-rasa
RASA := $(RASA_VENV)/bin/rasa
MODEL := models/embudo.tar.gz
TRAINING_INPUTS := config.yml domain.yml $(wildcard data/*.yml) $(wildcard nlu_components/*.py)
APP_CODE := crm_core actions bot

# The embedded defaults: SQLite under var/, everything on localhost. Override in the environment or .env.
export EMBUDO_DATABASE_URL ?= sqlite:///var/embudo.db
export EMBUDO_ACTION_ENDPOINT ?= http://localhost:5055/webhook
export EMBUDO_TRACKER_DIALECT ?= sqlite
export EMBUDO_TRACKER_DB ?= var/rasa_tracker.db
export EMBUDO_EVENTS_URL ?= sqlite:///$(EMBUDO_TRACKER_DB)
# Pages allowed to open the chat: EMBUDO_WIDGET_ORIGINS (the Procfile defaults it to any, `*`), or
# space-separated origins such as https://www.example.com; EMBUDO_ALLOWED_ORIGINS is its older name.
# Rasa's HTTP API (conversations, the model) always asks for a token: any web page may open the chat, so
# none may call the API. Unless one is set (environment or .env), each `make run` makes its own.
ifeq ($(EMBUDO_RASA_API_TOKEN)$(shell grep -s '^EMBUDO_RASA_API_TOKEN=.' .env),)
export EMBUDO_RASA_API_TOKEN := $(shell od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
endif
# The Telegram gateway's own Rasa channel (the only way into telegram-… conversations) asks for this one.
ifeq ($(EMBUDO_GATEWAY_TOKEN)$(shell grep -s '^EMBUDO_GATEWAY_TOKEN=.' .env),)
export EMBUDO_GATEWAY_TOKEN := $(shell od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
endif
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
export RASA_TELEMETRY_ENABLED := false
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help setup run test audit audit-if-reachable lint unit unit-postgres unit-both validate rasa-test integration test-faults browser bench bench-crm bench-baseline bench-profile load eval eval-cv eval-dialogue probe model migrate lock clean test-scale scale-engines redis-engine

help:
	@echo "make run    set up what is missing, then start Rasa (:5005), actions (:5055) and the web app (:8000)"
	@echo "make test   set up what is missing, then run every check (lint, unit, Rasa, integration)"
	@echo "make bench  measure the full stack, side by side with a bare rasa init bot, and the CRM at 1,000,000 leads"
	@echo "make load   100 visitors at a human pace for 2 minutes, over REST and socket.io, then a bare rasa init bot under the same load (LOAD_ARGS=\"--seconds 30 --no-baseline\")"
	@echo "make test-faults  kill and lock the real processes; prints what was lost (all 0)"
	@echo "make test-scale   two Rasa / action / web / notifier processes on PostgreSQL, Redis and nginx, 50 conversations"

$(VENV)/.installed: requirements/app.lock pyproject.toml
	@test -n "$(PY311)" || { echo "Python 3.11 not found: install it (e.g. 'pyenv install 3.11') or set PY311=/path/to/python3.11"; exit 1; }
	test -x $(VENV)/bin/python || $(PY311) -m venv $(VENV)
	$(VENV)/bin/pip install -q -r requirements/app.lock
	$(VENV)/bin/pip install -q --no-deps -e .
	touch $@

$(RASA_VENV)/.installed: requirements/rasa-py310.lock
	@test -n "$(PY310)" || { echo "Python 3.10 not found (Rasa 3.6 needs it): 'pyenv install 3.10.13' or set PY310=/path/to/python3.10"; exit 1; }
	test -x $(RASA_VENV)/bin/python || $(PY310) -m venv $(RASA_VENV)
	$(RASA_VENV)/bin/pip install -q -r requirements/rasa-py310.lock
	touch $@

setup: $(VENV)/.installed $(RASA_VENV)/.installed

# Retrain only when the training data, the domain or the config changed.
$(MODEL): $(RASA_VENV)/.installed $(TRAINING_INPUTS)
	@mkdir -p models
	$(RASA) train --fixed-model-name embudo --out models

model: $(MODEL)

migrate: $(VENV)/.installed
	@mkdir -p var
	$(VENV)/bin/embudo db upgrade

run: setup $(MODEL) migrate
	@echo ""
	@echo "  Embudo is starting (the Rasa server needs about 40 s to load its model):"
	@echo "    demo page and chat   http://localhost:8000/"
	@echo "    health               http://localhost:8000/healthz"
	@echo "    console (reps/admins) http://localhost:8000/console   first admin: .venv/bin/embudo admin create --email you@example.com"
	@echo "    Rasa REST channel    http://localhost:5005/webhooks/rest/webhook"
	@echo "    action server        http://localhost:5055/health"
	@echo "  Then: .venv/bin/embudo leads list     Ctrl-C stops everything."
	@echo ""
	@processes="rasa actions web transcripts notifier"; \
	if [ -n "$$EMBUDO_TELEGRAM_TOKEN" ] || grep -qs '^EMBUDO_TELEGRAM_TOKEN=.' .env; then \
		processes="$$processes telegram"; echo "  Telegram gateway: on (long polling unless EMBUDO_TELEGRAM_WEBHOOK_URL is set)"; \
	else echo "  Telegram gateway: off (set EMBUDO_TELEGRAM_TOKEN to start it)"; fi; \
	$(VENV)/bin/honcho start -f Procfile $$processes

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy $(APP_CODE)
	$(VENV)/bin/lint-imports

unit: $(VENV)/.installed redis-engine
	$(VENV)/bin/pytest -q tests/unit

# The same unit suite on a throwaway local PostgreSQL server (installed from Debian's packages if missing).
unit-postgres: $(VENV)/.installed redis-engine
	scripts/with-postgres $(VENV)/bin/pytest -q tests/unit

validate: $(RASA_VENV)/.installed
	$(RASA) data validate --fail-on-warnings

rasa-test: $(MODEL)
	$(RASA) test core --e2e --stories tests/test_stories.yml --model $(MODEL) \
		--fail-on-prediction-errors --out var/rasa-test-results

# The shared chat rates' unit tests (tests/unit/test_chat_rates_shared.py) start Debian's redis-server.
redis-engine:
	@command -v redis-server >/dev/null || { \
		echo "Installing Debian's redis-server for the unit tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; } || { \
		echo "Could not install redis-server: run 'sudo apt-get install redis-server'"; exit 1; }

# Browser tests drive Debian's Chromium (Playwright's own browser download is not used).
browser:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || { \
		echo "Installing Debian's chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || { \
		echo "Could not install chromium: run 'sudo apt-get install chromium' or set EMBUDO_CHROMIUM"; exit 1; }

integration: setup $(MODEL) browser
	$(VENV)/bin/pytest -q tests/integration

# Faults injected into the real processes (tests/faults/): each prints what it lost (all 0) and the replies.
test-faults: setup $(MODEL)
	$(VENV)/bin/pytest -q tests/faults

# The scale-out topology (tests/scale/): PostgreSQL (scripts/with-postgres), Redis and nginx from Debian's
# packages, two of each of our processes; 50 conversations alternating between the Rasa replicas. Part of
# `make bench` (1–7 minutes on 2 cores; `make test` is already over its 40 minutes).
# Smaller: make test-scale EMBUDO_SCALE_CONVERSATIONS=6
scale-engines:
	@command -v redis-server >/dev/null && { command -v nginx >/dev/null || test -x /usr/sbin/nginx; } || { \
		echo "Installing Debian's redis-server and nginx for the scale test"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server nginx >/dev/null; } || { \
		echo "Could not install redis-server and nginx: run 'sudo apt-get install redis-server nginx'"; exit 1; }

test-scale: setup $(MODEL) scale-engines
	scripts/with-postgres $(VENV)/bin/pytest -q -s tests/scale

# The SQLite and PostgreSQL unit runs share nothing (each test has its own database and temporary folder), so
# `make test` runs them side by side: on 2 cores that takes about as long as the PostgreSQL run alone.
# -O prints each run's output whole when it ends.
unit-both: $(VENV)/.installed
	$(MAKE) --no-print-directory -j2 -O unit unit-postgres

test: setup lint audit-if-reachable validate unit-both $(MODEL) rasa-test integration

# pip-audit on .venv and .venv-rasa; the accepted advisories are in requirements/audit-accepted.txt (README:
# Known advisories). It needs PyPI's vulnerability data: `make audit` fails when that cannot be reached,
# `make test` prints "pip-audit NOT RUN ... NOTHING WAS AUDITED" and goes on (and prints, without failing,
# advisories not accepted yet: `make audit` fails on them).
audit: setup
	$(VENV)/bin/python scripts/audit.py

audit-if-reachable: setup
	$(VENV)/bin/python scripts/audit.py --if-reachable

bench: setup $(MODEL) browser bench-crm
	$(VENV)/bin/python bench/stack.py
	$(MAKE) -s bench-baseline
	$(VENV)/bin/python bench/channels.py
	$(VENV)/bin/python bench/takeover.py
	$(MAKE) -s test-faults
	$(MAKE) -s test-scale

# NLU evaluation on a held-out 20% split of each language (intent macro-F1, entity F1).
eval: setup
	$(VENV)/bin/python bench/nlu_eval.py

# Choosing NLU data without the held-out part: 5-fold cross-validation of the intent classifier on `make eval`'s
# training part. Compare new examples with and without: make eval-cv CV_ARGS="--new FILE" (--misses INTENT lists misses).
eval-cv: $(RASA_VENV)/.installed
	$(RASA_VENV)/bin/python bench/nlu_cv.py $(CV_ARGS) 2>/dev/null

# The buying-intent probe (bench/probes/, never trained on): buying requests of every kind and near-misses,
# parsed by the trained model; per category, with every miss.
probe: $(RASA_VENV)/.installed $(MODEL)
	$(RASA_VENV)/bin/python bench/probe_buying.py $(MODEL) 2>/dev/null | grep -v '^20[0-9][0-9]-'

# The dialogue benchmark: simulated visitors (bench/personas/) chat with the real stack over REST; then the
# external dev set, when it is there, as a separate report. Fails below 95 % of personas exactly right.
DEVSET := ../shared/conversation-devset/personas.json
eval-dialogue: setup $(MODEL)
	$(VENV)/bin/python bench/dialogue_eval.py --personas bench/personas $(if $(wildcard $(DEVSET)),--personas $(DEVSET))

# The full stack and a bare `rasa init` bot (trained once into var/bare-rasa/) under the same turns, and the ratios.
bench-baseline: setup $(MODEL)
	$(VENV)/bin/python bench/bare_rasa.py

# Where a turn's time goes: py-spy on the Rasa and action servers during 10 concurrent conversations.
bench-profile: setup $(MODEL)
	$(VENV)/bin/python bench/profile_turns.py

# 100 conversations at once, one message every 2-5 s each, for 2 minutes: throughput, p50/p95/p99, errors, leads.
# Shorter: make load LOAD_ARGS="--seconds 30 --conversations 20"
load: setup $(MODEL)
	$(VENV)/bin/python bench/load.py $(LOAD_ARGS)

# 1,000,000 leads and 100,000 deals on SQLite and on a throw-away PostgreSQL: KPI, list page, routing.
bench-crm: $(VENV)/.installed
	scripts/with-postgres $(VENV)/bin/python bench/crm.py

# Re-resolve the app environment's pins from requirements/app.in.
lock:
	rm -rf /tmp/embudo-lock && $(PY311) -m venv /tmp/embudo-lock
	/tmp/embudo-lock/bin/pip install -q -r requirements/app.in
	(echo "# Resolved from requirements/app.in for Python 3.11 by 'make lock'. Do not edit by hand."; \
		/tmp/embudo-lock/bin/pip freeze --exclude embudo) > requirements/app.lock

clean:
	rm -rf $(VENV) $(RASA_VENV) models/*.tar.gz var .mypy_cache .ruff_cache .pytest_cache
