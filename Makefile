# Xiaoneng — the two commands a new user needs are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DATA ?= demo-data

.PHONY: demo test lint typecheck bench screenshots agent-binary system-deps venv clean translations catalogues

$(STAMP): setup.cfg pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "需要 Python 3.11 / Python 3.11 is required: apt-get install python3.11 python3.11-venv"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,video,reports,db,package]'
	@touch $(STAMP)

venv: $(STAMP) catalogues

# The UI's gettext catalogues (docs/ui.md): the .po files are edited and committed; the .mo files are
# build products, compiled whenever a .po is newer. `make translations` extracts the msgids of the
# templates and of hub/web (babel.cfg), adds new ones to every language and compiles.
TRANSLATIONS := hub/web/translations
CATALOGUES := $(patsubst %.po,%.mo,$(wildcard $(TRANSLATIONS)/*/LC_MESSAGES/messages.po))

$(TRANSLATIONS)/%/LC_MESSAGES/messages.mo: $(TRANSLATIONS)/%/LC_MESSAGES/messages.po | $(STAMP)
	$(BIN)/pybabel compile --domain messages --directory $(TRANSLATIONS) --locale $*

catalogues: $(CATALOGUES)

translations: $(STAMP)
	@mkdir -p build/i18n
	$(BIN)/pybabel extract --mapping-file babel.cfg --no-location --sort-output --width 120 \
		--project Xiaoneng --output-file build/i18n/messages.pot .
	$(BIN)/pybabel update --input-file build/i18n/messages.pot --output-dir $(TRANSLATIONS) \
		--no-fuzzy-matching --ignore-obsolete --ignore-pot-creation-date --width 120
	$(BIN)/pybabel compile --directory $(TRANSLATIONS) --statistics

# Debian packages the product runs on: the Mosquitto broker (and its password tool).
system-deps:
	@bash scripts/system-deps.sh

demo: $(STAMP) system-deps catalogues
	$(BIN)/python -m simulator.demo --data $(DEMO_DATA)

lint: $(STAMP)
	$(BIN)/ruff check shared commonio agent hub provisioning simulator tests bench deploy
	$(BIN)/lint-imports --config setup.cfg

typecheck: $(STAMP)
	$(BIN)/mypy --config-file setup.cfg

# XIAONENG_STRICT: a missing browser, tool or database server fails the suite instead of skipping.
test: $(STAMP) system-deps catalogues lint typecheck
	XIAONENG_STRICT=1 $(BIN)/python -m pytest -q $(PYTEST_ARGS)

# The one-file agent for hall machines without Python: dist/xiaoneng-agent (database capture) and
# dist/xiaoneng-agent-video (with cameras), each also as a tarball with install.sh and the systemd unit.
agent-binary: $(STAMP) system-deps
	$(BIN)/python deploy/agent/build.py --dist dist

# The documentation's pictures (docs/screenshots/), made by the browser tests; `make test` never writes them.
# `make screenshots SHOTS=tests/browser/test_enrol_page.py` refreshes only the pictures of the tests named.
SHOTS ?= tests/browser/test_live.py tests/browser/test_cards_words.py tests/video/test_wall_browser.py \
	tests/notify/test_inbox_browser.py tests/browser/test_help.py tests/browser/test_catalogue.py \
	tests/browser/test_enrol_page.py tests/browser/test_desk_browser.py
screenshots: $(STAMP) system-deps catalogues
	XN_SCREENSHOTS=$(CURDIR)/docs/screenshots XIAONENG_STRICT=1 $(BIN)/python -m pytest -q $(SHOTS)

bench: $(STAMP) system-deps catalogues
	$(BIN)/python bench/ingest.py --records 1000000 --json
	$(BIN)/python bench/chaos.py --cycles 9 --json
	$(BIN)/python bench/capture.py --json
	$(BIN)/python bench/clock.py --cases 1000000 --json
	$(BIN)/python bench/report.py --cases 100000 --month 2026-11 --json
	$(BIN)/python bench/demo.py --json
	$(BIN)/python bench/video.py --json
	$(BIN)/python bench/web.py --json
	$(BIN)/python bench/hostile.py --json
	$(BIN)/python bench/desk.py --entries 500 --threads 2 --json
	$(BIN)/python bench/notify.py --json
	$(BIN)/python bench/webserver.py --json
	$(BIN)/python bench/ledger.py --json
	$(BIN)/python bench/catalogue.py --cases 100000 --json
	$(BIN)/python bench/enrol.py --json
	$(BIN)/python bench/configpush.py --json

clean:
	rm -rf $(VENV) $(DEMO_DATA) *.egg-info
