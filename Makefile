# Entry points: `make templates` and `make test` work on a fresh machine with Python 3 and make.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: templates test lint clean help

help:
	@echo "make templates  render every stack to templates/ (creates .venv on first use)"
	@echo "make test       run the test suite (unit tests, cfn-lint, deploy tests on a local server)"
	@echo "make lint       cfn-lint (with informational rules) on every template"
	@echo "make clean      remove virtual environments and build output"

# The project's virtual environment, rebuilt when setup.py changes.
$(STAMP): setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

templates: $(STAMP)
	$(BIN)/cfn-delivery templates

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/cfn-lint --include-checks I -- templates/*.yaml

clean:
	rm -rf $(VENV) .venv-* build dist *.egg-info .pytest_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
