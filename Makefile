# Where CNNs Look: the two commands a learner needs.
#   make lab   create .venv on first use, then start JupyterLab on notebooks/
#   make test  create .venv on first use, then run the unit tests and every notebook: in JupyterLab and
#              headless Chromium where Chromium is installed (outputs checked by nbval's comparison),
#              else by nbval
#              (on JOBS=2 parallel workers)
#   make nbval run nbval alone on every notebook, the solutions in notebooks/solutions/ too (a kernel, no browser)
#   make book  build the course's static site into build/book/ from the committed notebooks (not re-run; offline)

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SANITIZE := tests/nbval_sanitize.cfg
PORT ?= 8888
# make test runs on JOBS pytest-xdist workers (each lesson and test on one of them, the cores shared).
JOBS ?= 2
# Jupyter refuses to run as root unless told; containers and CI often are root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: lab test nbval book venv clean-venv

venv: $(STAMP)

$(STAMP): requirements-lock.txt pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "Python >= 3.10 is needed, this is " + sys.version.split()[0]' \
		|| { echo "error: set PYTHON to a Python 3.10+ interpreter, e.g. make PYTHON=python3.11 test"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade --quiet pip
	$(BIN)/python -m pip install --quiet -r requirements-lock.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@$(BIN)/python scripts/check_torch.py || { \
		echo ""; \
		echo "error: torch and torchvision in $(VENV) do not work together (see the message above)."; \
		echo "They must be one matching pair from one index, as pinned in requirements-lock.txt."; \
		echo "Fix: rm -rf $(VENV) and run make again; if pip keeps picking another torch, check"; \
		echo "'pip config list' for a constraint or find-links that offers a different torch build."; \
		exit 1; }
	@touch $(STAMP)

lab: $(STAMP)
	@echo "Starting JupyterLab on notebooks/; open the http://127.0.0.1 URL printed below (Ctrl-C to stop)."
	$(BIN)/jupyter lab --no-browser --ip=127.0.0.1 --port=$(PORT) --notebook-dir=notebooks \
		--LabApp.extension_manager=readonly $(ROOT_FLAG)

test: $(STAMP)
	$(BIN)/python -m pytest -rs --durations=15 -n $(JOBS) --dist loadgroup tests notebooks --nbval-lax --nbval-current-env --nbval-sanitize-with $(SANITIZE)

nbval: $(STAMP)
	$(BIN)/python -m pytest -rs notebooks --nbval-lax --nbval-current-env --nbval-sanitize-with $(SANITIZE)

book: $(STAMP)
	$(BIN)/python book/build.py --out build/book

clean-venv:
	rm -rf $(VENV)
