# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DB ?= sqlite:///data/sjr.db
export PYTHONDONTWRITEBYTECODE ?=
export MPLBACKEND := Agg

.PHONY: demo test lint bench serve lab setup clean-db help

help:
	@echo "make demo   - set up, build data/sjr.db from synthetic data if missing, run the main job"
	@echo "make test   - set up and run the whole test suite"
	@echo "make lint   - ruff and notebook output checks"
	@echo "make bench  - print speed and memory figures"
	@echo "make serve  - start the Voila dashboards on 127.0.0.1"
	@echo "make lab    - JupyterLab for the demo researcher, on the researcher quick start"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

setup: $(STAMP)

# `sjr demo-data` does nothing when the store already holds reviews, so this is safe to repeat.
# The demo's reports run as the demo programme-team user (see the README for the demo users).
demo: $(STAMP)
	@mkdir -p -m 700 data
	$(BIN)/sjr demo-data --db $(DB)
	SJR_USER=$${SJR_USER:-demo-programme} $(BIN)/sjr summary --db $(DB)
	SJR_USER=$${SJR_USER:-demo-programme} $(BIN)/sjr report all --db $(DB) --out reports

# Then every notebook under nbval, on a small demo store, as the user it is for
# (tests/notebooks/nbval_demo.py); nbval is registered only for that run. Two workers, a
# notebook each at a time: the national report alone is about a third of the run. The 25
# slowest tests are listed at the end, so a CI log says where its time went.
test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile --durations=25
	$(BIN)/python -m pytest -n 2 --dist loadfile -p nbval -p tests.notebooks.nbval_demo --nbval-lax notebooks/

lint: $(STAMP)
	$(BIN)/ruff check sjrlib data_access tests benchmarks
	$(BIN)/nbstripout --verify notebooks/*.ipynb

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

serve: $(STAMP)
	@mkdir -p -m 700 data
	$(BIN)/sjr demo-data --db $(DB)
	$(BIN)/sjr serve --db $(DB)

# The researcher's JupyterLab (README, step 5). A notebook runs in its own folder, so the store
# is given by its full path (a relative sqlite:/// URL is made absolute here); as root (a
# container), Jupyter refuses to start without --allow-root. The kernels' channels are
# encrypted with keys of their own (sjrlib.dashboards.serve.KERNEL_ENCRYPTION: otherwise any
# account on the machine reads a kernel's outputs from its IOPub port). LAB_ARGS: more options
# for `jupyter lab` (e.g. --no-browser --port 8890).
LAB_DB = $(if $(filter sqlite:////%,$(DB)),$(DB),$(patsubst sqlite:///%,sqlite:///$(CURDIR)/%,$(DB)))
lab: $(STAMP)
	@mkdir -p -m 700 data
	$(BIN)/sjr demo-data --db $(DB)
	SJR_USER=$${SJR_USER:-demo-researcher} SJR_DATABASE_URL='$(LAB_DB)' $(BIN)/jupyter lab \
	    --KernelManager.transport_encryption=required \
	    $$(test "$$(id -u)" = 0 && echo --allow-root) $(LAB_ARGS) notebooks/researcher_quickstart.ipynb

clean-db:
	rm -f data/sjr.db
