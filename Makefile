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
# The stylesheets and the script the pages link to (scripts/build-assets.mjs): the councils' Sass
# (GOV.UK Frontend's, only the components used, system fonts, no crown) by npm's `sass`, the few
# GOV.UK Frontend components' JavaScript by npm's `esbuild`, each fingerprinted and precompressed
# (gzip, brotli) with a manifest.json. Build output, git-ignored: never edit it.
STATIC := broker/web/static
ASSETS_MANIFEST := $(STATIC)/manifest.json
# Welsh messages: the .po is committed, the .mo is compiled here (git-ignored).
CATALOGUES := broker/web/translations
MO := $(CATALOGUES)/cy/LC_MESSAGES/messages.mo

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $(NODE_STAMP)

$(MO): $(CATALOGUES)/cy/LC_MESSAGES/messages.po $(STAMP)
	$(BIN)/pybabel compile --statistics -d $(CATALOGUES)

$(ASSETS_MANIFEST): scripts/build-assets.mjs broker/web/styles/councils.scss \
		broker/web/scripts/govuk-components.mjs $(NODE_STAMP)
	node scripts/build-assets.mjs $(STATIC)

assets: $(NODE_STAMP) $(MO) $(ASSETS_MANIFEST)

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
	rm -rf $(VENV) var build *.egg-info node_modules test-artifacts $(MO) $(STATIC)

# Benchmarks: never part of `make test`. See benchmarks/README.md for the figures and commands.
bench: $(STAMP) assets
	$(BIN)/python -m benchmarks.page_weight
	$(BIN)/python -m benchmarks.signin $(BENCH_ARGS)
