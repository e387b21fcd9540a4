# The two commands: `make demo` and `make test`. Everything else is a step of those two.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
STORE  ?= .scout/store/sample
WAREHOUSE ?= .scout/demo/warehouse.sqlite
SCALE  ?= 1
PORT   ?= 8888

# JupyterHub's proxy, from npm, for the hub end-to-end tests (tests/hub/): project-local, not committed
HUB_PROXY_DIR ?= .scout/hub-proxy
HUB_PROXY      = $(HUB_PROXY_DIR)/node_modules/.bin/configurable-http-proxy

.PHONY: demo test lint venv system-deps hub-deps labextension bench screenshots clean

# The editable install also builds the JupyterLab sidebar (labextension/) with the machine's node
# (hatch-jupyter-builder runs jlpm install + build:prod into scout_jupyter/labextension/), then links
# that build into the venv's labextensions folder: JupyterLab serves what `jlpm build:prod` writes.
# The build is redone when the sidebar's sources (TypeScript, CSS, settings schema) change.
LABEXT_BUILT   = scout_jupyter/labextension/static/style.js
LABEXT_SOURCES = labextension/package.json labextension/tsconfig.json labextension/install.json \
                 $(wildcard labextension/src/*.ts*) $(wildcard labextension/style/*.*) \
                 $(wildcard labextension/style/icons/*) $(wildcard labextension/schema/*)
NODE_HINT      = node not found: install Node.js 20 (make system-deps, or apt-get install -y nodejs) to build the JupyterLab sidebar
JLPM           = PATH=$(abspath $(VENV))/bin:$$PATH jlpm

$(VENV)/.installed: pyproject.toml
	@test -f $(LABEXT_BUILT) || command -v node >/dev/null || { echo "$(NODE_HINT)" >&2; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test]"
	PATH=$(abspath $(VENV))/bin:$$PATH $(VENV)/bin/jupyter-builder develop --overwrite .
	@touch $@

$(LABEXT_BUILT): $(LABEXT_SOURCES) | $(VENV)/.installed
	@command -v node >/dev/null || { echo "$(NODE_HINT)" >&2; exit 1; }
	cd labextension && $(JLPM) install && $(JLPM) build:prod
	@touch $@

venv: $(VENV)/.installed $(LABEXT_BUILT)

system-deps:
	@bash scripts/install-system-deps.sh

$(HUB_PROXY):
	@command -v npm >/dev/null || { echo "npm not found: install Node.js (apt-get install -y nodejs npm) for the JupyterHub tests" >&2; exit 1; }
	npm install --silent --no-audit --no-fund --prefix $(HUB_PROXY_DIR) configurable-http-proxy@5

hub-deps: $(HUB_PROXY)

# Lint first: a style or type slip fails in seconds, before the suite's minutes.
test: system-deps venv hub-deps lint
	$(PY) -m pytest

# The checks the code keeps (settings in pyproject.toml and labextension/package.json).
lint: venv
	$(VENV)/bin/ruff check scout_jupyter tests bench
	$(VENV)/bin/ruff format --check scout_jupyter tests bench
	$(VENV)/bin/mypy
	cd labextension && $(JLPM) lint:check

# The same two steps as Binder: scripts/demo-setup.sh (what binder/postBuild runs after installing),
# then the server under binder/start (the environment the extension needs).
demo: venv
	PATH="$(abspath $(VENV))/bin:$$PATH" SCOUT_DEMO_STORE="$(abspath $(STORE))" \
	    SCOUT_DEMO_WAREHOUSE="$(abspath $(WAREHOUSE))" SCOUT_DEMO_SCALE="$(SCALE)" bash scripts/demo-setup.sh
	PATH="$(abspath $(VENV))/bin:$$PATH" SCOUT_STORAGE_URL="$(abspath $(STORE))" \
	    exec binder/start jupyter lab --ip=127.0.0.1 --port=$(PORT) \
	    $(if $(filter 0,$(shell id -u)),--allow-root) --ServerApp.root_dir=$(CURDIR) \
	    --LabApp.default_url=/lab/tree/notebooks/quickstart.ipynb

# Rebuild the sidebar now, whatever the timestamps say.
labextension: $(VENV)/.installed
	cd labextension && $(JLPM) install && $(JLPM) build:prod

# The README's pictures: taken by the browser end-to-end tests, copied to docs/images/.
SHOTS = test-artifacts/screenshots
screenshots: system-deps venv
	rm -rf $(SHOTS)
	SCOUT_TEST_ARTIFACTS=$(SHOTS) $(PY) -m pytest -q -p no:cacheprovider tests/e2e/test_widgets_browser.py \
	    tests/e2e/test_sidebar_browser.py
	mkdir -p docs/images
	cp $(SHOTS)/widgets/browser-loaded.png docs/images/browser.png
	cp $(SHOTS)/widgets/dashboard.png docs/images/dashboard.png
	cp $(SHOTS)/sidebar/load-product-mix.png docs/images/sidebar.png

bench: venv
	$(PY) -m pip install -q -e ".[test,bench]"
	$(PY) -m bench --quick

clean:
	rm -rf $(VENV) .scout build dist *.egg-info scout_jupyter/labextension labextension/lib labextension/node_modules
