# The two commands: `make demo` and `make test`. Everything else is a step of those two.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
STORE  ?= .scout/store/sample
PORT   ?= 8888

.PHONY: demo test venv system-deps labextension bench clean

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test]"
	@touch $@

venv: $(VENV)/.installed

system-deps:
	@bash scripts/install-system-deps.sh

test: venv system-deps
	$(PY) -m pytest

demo: venv
	$(VENV)/bin/scout demo --store $(STORE)
	SCOUT_STORAGE_URL=$(abspath $(STORE)) $(VENV)/bin/jupyter lab --ip=127.0.0.1 --port=$(PORT) \
	    $(if $(filter 0,$(shell id -u)),--allow-root) --ServerApp.root_dir=$(CURDIR) \
	    --LabApp.default_url=/lab/tree/notebooks/quickstart.ipynb

bench: venv
	$(PY) -m bench --quick

clean:
	rm -rf $(VENV) .scout build dist *.egg-info
