# familyalliance: `make run` serves the app, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app familyalliance
PORT ?= 5000
DEMO_EMAIL := demo@example.org
PO_FILES := $(wildcard familyalliance/translations/*/LC_MESSAGES/messages.po)
MO_FILES := $(PO_FILES:.po=.mo)

.PHONY: run test test-core test-postgres lint messages screenshots clean

# The virtualenv is rebuilt when the project's dependencies change.
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

$(MO_FILES) &: $(PO_FILES) $(VENV)/.installed
	$(BIN)/pybabel compile --statistics -d familyalliance/translations

run: $(VENV)/.installed $(MO_FILES)
	$(FLASK) db upgrade && $(FLASK) refresh-summaries
	@if [ ! -f instance/demo-login.txt ]; then \
	  pw=$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(12))'); \
	  $(FLASK) create-user $(DEMO_EMAIL) --password "$$pw" --role team_lead --team "Demo team" && \
	  $(FLASK) demo --owner $(DEMO_EMAIL) && \
	  printf 'Demo login: %s  password: %s\n' "$(DEMO_EMAIL)" "$$pw" > instance/demo-login.txt; \
	fi
	@cat instance/demo-login.txt
	$(FLASK) run --host 127.0.0.1 --port $(PORT)

# SQLite, nothing else running: the tests that need Redis and PostgreSQL (shared_state) are left to test-postgres.
test: $(VENV)/.installed $(MO_FILES)
	$(BIN)/pytest -m "not shared_state" $(PYTEST_ARGS)

# The pure tier alone: seconds, no app and no database.
test-core: $(VENV)/.installed
	$(BIN)/pytest tests/core $(PYTEST_ARGS)

# The same suite against PostgreSQL (the machine's by default), with the shared_state tests on Redis
# (two app servers on one database and one Redis; database 15 of the machine's Redis by default).
TEST_POSTGRES_URL ?= postgresql://postgres@127.0.0.1:5432/test
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
test-postgres: $(VENV)/.installed $(MO_FILES)
	TEST_DATABASE_URL=$(TEST_POSTGRES_URL) TEST_REDIS_URL=$(TEST_REDIS_URL) $(BIN)/pytest $(PYTEST_ARGS)

# ruff, and import-linter for the layers (core, store, services, web and cli; docs/architecture.md).
lint: $(VENV)/.installed
	$(BIN)/ruff check familyalliance tests scripts bench
	$(BIN)/ruff format --check familyalliance tests scripts bench
	$(BIN)/lint-imports

# Re-extract the messages after changing texts, then translate the new ones in the nl catalog.
messages: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k _l -k N_ -o familyalliance/translations/messages.pot .
	$(BIN)/pybabel update --ignore-obsolete -i familyalliance/translations/messages.pot -d familyalliance/translations --width 100

screenshots: $(VENV)/.installed $(MO_FILES)
	$(BIN)/python scripts/screenshots.py docs/screenshots
	$(BIN)/python scripts/screenshots_questionnaire.py docs/screenshots
	$(BIN)/python scripts/screenshots_grids.py docs/screenshots
	$(BIN)/python scripts/screenshots_two_factor.py docs/screenshots

clean:
	rm -rf $(VENV) $(MO_FILES) .pytest_cache
