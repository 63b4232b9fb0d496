# Set-up and everyday commands. `make demo` and `make test` each do all of their own set-up.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
OUT ?= out

.PHONY: setup demo test test-fast bench clean-out

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml scripts/install-system-packages.sh
	bash scripts/install-system-packages.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

demo: setup
	$(BIN)/mifidelity process sample_audio --out $(OUT)
	@echo "Reports: $(abspath $(OUT))/<session>/report.html"

# The full suite: what CI runs (.ci/run).
test: setup
	$(BIN)/python -m pytest

# The everyday loop: every test not marked slow (each slow one takes more than about 5 s). Under 2 minutes.
test-fast: setup
	$(BIN)/python -m pytest -m "not slow" -q

# The speed regression check a maintainer runs before a release (docs/benchmarks.md): renders sessions of
# 10/30/60 minutes once (needs ../shared/data/annomi), then ASR alone against the whole pipeline; exits 1 if a
# target is missed. More: make bench BENCH_ARGS="--batch DIR --long FILE --transcripts DIR".
bench: setup
	$(BIN)/python benchmarks/speed.py --check $(BENCH_ARGS)

clean-out:
	rm -rf $(OUT)
