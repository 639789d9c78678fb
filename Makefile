# marta: two commands on a fresh machine -> `make demo`, `make test`.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
# One pytest worker per core; each worker keeps XLA to one thread (faster on 2 cores).
JOBS   ?= 2
export XLA_FLAGS ?= --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1

.PHONY: demo test test-slow lint bench bench-epymarl install clean

$(VENV)/bin/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) (Python >= 3.11) on PATH; set PYTHON=..."; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(STAMP): $(VENV)/bin/python pyproject.toml
	$(PY) -m pip install -q -e '.[dev]'
	$(PY) -m pip install -q --no-deps gym==0.26.2 ma-gym==0.0.14
	@rm -f $(VENV)/.installed-*; touch $@

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/marta demo --out runs/demo

test: $(STAMP)
	$(PY) -m pytest -q -n $(JOBS) --dist loadfile --durations=15

test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow

lint: $(STAMP)
	$(VENV)/bin/ruff check marta tests benchmarks examples
	$(VENV)/bin/ruff format --check marta tests benchmarks examples

# Jumanji's JAX LBF is compared from its own venv (its pins are not ours).
JUMANJI_VENV := .venv-jumanji
$(JUMANJI_VENV)/bin/python:
	$(PYTHON) -m venv $(JUMANJI_VENV)
	$(JUMANJI_VENV)/bin/pip install -q jumanji

# JaxMARL's Simple-Tag likewise (benchmarks/jaxmarl_simple_tag.py).
JAXMARL_VENV := .venv-jaxmarl
$(JAXMARL_VENV)/bin/python:
	$(PYTHON) -m venv $(JAXMARL_VENV)
	$(JAXMARL_VENV)/bin/pip install -q jaxmarl==0.2.0

# EPyMARL's QMIX on LBF 5x5-4p-1f, issue 4's training-throughput reference
# (benchmarks/epymarl_qmix.py). EPyMARL is not on PyPI: clone it and name the checkout,
#   git clone https://github.com/uoe-agents/epymarl
#   make bench-epymarl EPYMARL_DIR=epymarl [EPYMARL_STEPS=30000]
# Prints one JSON line (env steps/s after the first update, and including warm-up).
# CPU torch keeps the venv ~1 GB (set EPYMARL_TORCH=torch for any build); sacred needs
# pkg_resources, gone from setuptools>=81.
EPYMARL_VENV  := .venv-epymarl
EPYMARL_DIR   ?=
EPYMARL_STEPS ?= 30000
EPYMARL_TORCH ?= torch==2.13.0+cpu
$(EPYMARL_VENV)/bin/python:
	$(PYTHON) -m venv $(EPYMARL_VENV)
	$(EPYMARL_VENV)/bin/pip install -q '$(EPYMARL_TORCH)' sacred pyyaml gymnasium numpy \
		lbforaging==2.0.0 'setuptools<81'

bench-epymarl: $(EPYMARL_VENV)/bin/python
	@test -n "$(EPYMARL_DIR)" || { echo "set EPYMARL_DIR to an EPyMARL checkout (git clone https://github.com/uoe-agents/epymarl)"; exit 2; }
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(EPYMARL_VENV)/bin/python benchmarks/epymarl_qmix.py \
		--epymarl-dir $(EPYMARL_DIR) --steps $(EPYMARL_STEPS)

bench: $(STAMP) $(JUMANJI_VENV)/bin/python $(JAXMARL_VENV)/bin/python
	$(VENV)/bin/marta bench envs --jumanji-python $(JUMANJI_VENV)/bin/python \
		--jaxmarl-python $(JAXMARL_VENV)/bin/python --write BENCHMARKS.md

clean:
	rm -rf $(VENV) runs .pytest_cache
