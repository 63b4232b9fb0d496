# Set-up and everyday commands. `make demo` and `make test` each do all of their own set-up.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
OUT ?= out

.PHONY: setup demo test clean-out

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

test: setup
	$(BIN)/python -m pytest

clean-out:
	rm -rf $(OUT)
