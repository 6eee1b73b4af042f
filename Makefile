# normviz — two commands do everything: `make lab` and `make test`.
# Both create .venv when it is missing, install what they need once, and reuse it afterwards.

PYTHON     ?= python3
VENV       ?= .venv
BIN        := $(VENV)/bin
PY         := $(BIN)/python
# torch is pinned and installed first, as a CPU build: tools/install_torch.py takes a locally offered CPU
# wheel, else on Linux PyTorch's CPU index (PyPI's Linux wheel is a CUDA build of several GB). TORCH_INDEX
# overrides the index.
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX ?=
LAB_ARGS   ?=
NOTEBOOKS  := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))
PYTEST_NB  := --nbval --nbval-sanitize-with tools/nbval_sanitize.cfg --nbval-current-env -p no:randomly

.DEFAULT_GOAL := help
.PHONY: help lab test lint unit nbval notebooks experiments bench slides html widgets7 offline binder portable clean

help:
	@echo "make lab        set up .venv (once) and open JupyterLab on notebooks/00_start_here.ipynb"
	@echo "make test       set up .venv with test extras (once), then ruff, package tests, strict nbval"
	@echo "make notebooks  re-execute every notebook in place, top to bottom in a fresh kernel"
	@echo "make experiments  regenerate the cached training runs shipped in normviz/results"
	@echo "make bench      run every benchmark and print one table"
	@echo "make slides     build a reveal.js deck per notebook into slides/ (works offline once built)"
	@echo "make html       build static HTML pages into _site/ (each explorer as its saved figure)"
	@echo "make widgets7   run the widget tests again with ipywidgets 7.7.1 (what Colab ships)"
	@echo "make binder     check the Binder environment (environment.yml + postBuild) in a clean venv"
	@echo "make offline    run the package tests and nbval in a network namespace with only loopback"
	@echo "make portable   the notebooks and the cache checks again with torch's vector kernels off (another CPU's rounding)"

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# Installs torch first and on its own, so that no other package drags in a CUDA build.
$(VENV)/.torch: | $(PY)
	@TORCH_INDEX="$(TORCH_INDEX)" $(PY) tools/install_torch.py "$(TORCH_SPEC)"
	@touch $@

$(VENV)/.lab: pyproject.toml $(VENV)/.torch
	$(PY) -m pip install -q -e ".[lab,interactive]"
	@touch $@

$(VENV)/.test: pyproject.toml $(VENV)/.torch
	$(PY) -m pip install -q -e ".[lab,interactive,test]"
	@touch $@

lab: $(VENV)/.lab
	$(BIN)/jupyter lab --ServerApp.root_dir=notebooks \
	  --LabApp.default_url=/lab/tree/00_start_here.ipynb $(LAB_ARGS)

lint: $(VENV)/.test
	$(BIN)/ruff check normviz tests tools benchmarks notebooks

unit: $(VENV)/.test
	$(PY) -m pytest -q tests normviz

nbval: $(VENV)/.test
	$(PY) -m pytest -q $(PYTEST_NB) $(NOTEBOOKS)

test: lint unit nbval

notebooks: $(VENV)/.test
	$(PY) tools/nbsrc.py build
	$(PY) tools/nbsrc.py execute $(NOTEBOOKS)

# Every cached run behind the sliders, from scratch: the main sweeps, notebook 07's small-batch sweep
# (weight norm, batch renorm) and notebook 03's recurrent-net sweeps. Re-run `make notebooks` afterwards.
experiments: $(VENV)/.test
	$(PY) -m normviz.experiments regenerate
	$(PY) -m normviz.modern regenerate
	$(PY) -m normviz.sequence regenerate

bench: $(VENV)/.test
	$(PY) benchmarks/run_all.py

slides: $(VENV)/.test
	$(PY) tools/build_slides.py

html: $(VENV)/.test
	$(PY) tools/build_html.py

# Colab ships ipywidgets 7.7: the widget tests must pass there too, in a venv of their own.
VENV7 := .venv-widgets7
WIDGET_TESTS ?= tests --ignore tests/test_browser.py -k "explorer or widget or cube" -W "ignore::DeprecationWarning"
$(VENV7)/.ok: pyproject.toml
	$(PYTHON) -m venv $(VENV7)
	TORCH_INDEX="$(TORCH_INDEX)" $(VENV7)/bin/python tools/install_torch.py "$(TORCH_SPEC)"
	$(VENV7)/bin/python -m pip install -q "ipywidgets==7.7.1" numpy "matplotlib>=3.7" scikit-learn \
	  "pytest>=7" "hypothesis>=6" ipykernel
	$(VENV7)/bin/python -m pip install -q --no-deps -e .
	@touch $@

widgets7: $(VENV7)/.ok
	$(VENV7)/bin/python -c "import ipywidgets; print('ipywidgets', ipywidgets.__version__)"
	$(VENV7)/bin/python -m pytest -q -p no:cacheprovider $(WIDGET_TESTS)

# Binder builds environment.yml with conda, then runs postBuild. No conda channel is reachable here, so the same
# package set is installed with pip into a clean venv, postBuild runs, and the notebooks are checked there.
VENVB := .venv-binder
$(VENVB)/.ok: environment.yml postBuild
	$(PYTHON) -m venv $(VENVB)
	TORCH_INDEX="$(TORCH_INDEX)" $(VENVB)/bin/python tools/install_torch.py "$(TORCH_SPEC)"
	$(VENVB)/bin/python -m pip install -q $$($(PYTHON) tools/envfile.py | tr '\n' ' ') "pytest>=7" "nbval>=0.11"
	PATH="$(CURDIR)/$(VENVB)/bin:$$PATH" bash postBuild
	@touch $@

binder: $(VENVB)/.ok
	$(VENVB)/bin/python -m pytest -q -p no:cacheprovider $(PYTEST_NB) $(NOTEBOOKS)

# Everything must work with the network cut off: re-run the suite where only loopback exists.
offline: $(VENV)/.test
	@unshare -n true 2>/dev/null || { echo "offline: cannot create a network namespace here (needs root and unshare)"; exit 1; }
	unshare -n sh -c 'ip link set lo up && $(MAKE) --no-print-directory unit nbval'

# Another CPU rounds differently (AVX2 or AVX-512, NEON on Apple silicon): re-run the notebooks and the cache
# regeneration with torch's vector kernels and MKL's and oneDNN's wide instructions switched off, so that an
# output that depends on the last bit fails here rather than on a learner's or CI's machine.
PORTABLE_ENV := ATEN_CPU_CAPABILITY=default MKL_ENABLE_INSTRUCTIONS=SSE4_2 ONEDNN_MAX_CPU_ISA=SSE41
portable: $(VENV)/.test
	$(PORTABLE_ENV) $(PY) -c "import torch; print('torch CPU capability:', torch.backends.cpu.get_cpu_capability())"
	$(PORTABLE_ENV) $(PY) -m pytest -q -p no:cacheprovider tests/test_experiments.py tests/test_modern.py \
	  tests/test_sequence.py tests/test_lrn.py $(PYTEST_NB) $(NOTEBOOKS)

clean:
	rm -rf $(VENV) $(VENV7) $(VENVB) .pytest_cache .ruff_cache slides _site artifacts
