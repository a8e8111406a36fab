# The two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-reliability lint bench clean assets translations

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# GOV.UK Frontend from npm (package-lock.json pins it); the apps serve it from node_modules.
NODE_STAMP := node_modules/.installed
# The councils' stylesheet: GOV.UK Frontend's Sass with the settings for services not on GOV.UK
# (system fonts, no crown), compiled by npm's `sass`. Build output, git-ignored: never edit it.
COUNCILS_CSS := broker/web/static/councils.min.css
# Welsh messages: the .po is committed, the .mo is compiled here (git-ignored).
CATALOGUES := broker/web/translations
MO := $(CATALOGUES)/cy/LC_MESSAGES/messages.mo

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $(NODE_STAMP)

$(MO): $(CATALOGUES)/cy/LC_MESSAGES/messages.po $(STAMP)
	$(BIN)/pybabel compile --statistics -d $(CATALOGUES)

$(COUNCILS_CSS): broker/web/styles/councils.scss $(NODE_STAMP)
	node_modules/.bin/sass --load-path=node_modules --style=compressed --no-source-map $< $@

assets: $(NODE_STAMP) $(MO) $(COUNCILS_CSS)

# After changing a text: re-extract, merge into the .po, translate the new entries, then `make`.
translations: $(STAMP)
	$(BIN)/pybabel extract --no-location --sort-output -k _l -F babel.cfg -o $(CATALOGUES)/messages.pot .
	$(BIN)/pybabel update --no-fuzzy-matching -i $(CATALOGUES)/messages.pot -d $(CATALOGUES)

demo: $(STAMP) assets
	$(BIN)/broker demo

test: $(STAMP) assets
	scripts/ensure-chromium
	scripts/with-test-services $(BIN)/python -m pytest $(PYTEST_ARGS)

# Faults, concurrency, hostile input and rate limits alone (also part of `make test`).
test-reliability: $(STAMP) assets
	scripts/with-test-services $(BIN)/python -m pytest tests/reliability $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check broker tests

clean:
	rm -rf $(VENV) var build *.egg-info node_modules test-artifacts $(MO) $(COUNCILS_CSS)

# Benchmarks: never part of `make test`. See benchmarks/README.md for the figures and commands.
bench: $(STAMP) assets
	$(BIN)/python -m benchmarks.signin $(BENCH_ARGS)
