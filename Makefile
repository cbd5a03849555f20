# Two commands matter: `make book` and `make test`. Both create .venv when it is
# missing or older than requirements.txt / pyproject.toml.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
JB_FLAGS := -n -W --keep-going

# One BLAS thread per process: the test suite runs two workers on two cores, and the
# course's small matrices gain nothing from threads (multi-threaded OpenBLAS under
# contention was measured 10-30x slower; see benchmarks/results).
export OPENBLAS_NUM_THREADS ?= 1
export OMP_NUM_THREADS ?= 1
export MKL_NUM_THREADS ?= 1

.PHONY: book test lint exercises grade bench clean venv

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.11 or run 'make PYTHON=python3 ...'"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

# `assets` installs the pinned MathJax / mermaid / widget manager (package-lock.json) into
# node_modules; the build copies them into the site (tools/offline_assets.py), so maths,
# diagrams and widgets render with no network. Without npm: one line, CDN assets.
# tools/book_cache.py clears the page cache when lib/backprop (or requirements.txt) changed
# since the cache was filled: the cache keys pages on their own cells only.
book: $(STAMP) assets
	$(BIN)/python tools/book_cache.py _build
	$(BIN)/jupyter-book build . $(JB_FLAGS)
	@echo "Book built: _build/html/index.html"

assets: $(STAMP)
	@$(BIN)/python tools/offline_assets.py install

lint: $(STAMP)
	$(BIN)/ruff check lib tests tools benchmarks chapters appendix exercises/source
	$(BIN)/ruff format --check lib tests tools benchmarks

test: $(STAMP) lint
	$(BIN)/python -m pytest -n 2 --dist loadscope

# Regenerate the student notebooks (exercises/*.ipynb) and autograder zips from
# exercises/source/ with otter assign; commit the student notebooks afterwards.
exercises: $(STAMP)
	$(BIN)/python tools/exercises.py build

# Grade a folder of submissions (one sub-folder per student) into one CSV:
#   make grade SUBMISSIONS=path/to/submissions [GRADES=grades.csv] [GRADE_ARGS="..."]
# GRADE_ARGS passes options to tools/exercises.py grade, e.g. "--exercise 04_implementation"
# (rows "not submitted" for students without it), "--timeout 600 --cell-timeout 120".
GRADES ?= grades.csv
GRADE_ARGS ?=
grade: $(STAMP)
	@test -n "$(SUBMISSIONS)" || { echo "usage: make grade SUBMISSIONS=<folder> [GRADES=grades.csv]"; exit 2; }
	$(BIN)/python tools/exercises.py grade $(SUBMISSIONS) -o $(GRADES) $(GRADE_ARGS)

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf _build .pytest_cache .ruff_cache .hypothesis
