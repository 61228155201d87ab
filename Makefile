# Entry points: `make templates` and `make test` work on a fresh machine with Python 3 and make.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: templates diff test lint scanners clean help deploy localstack-venv localstack bench

help:
	@echo "make templates  render every stack and parameter file from delivery.yaml (APP=<name>: one application)"
	@echo "make diff       what the change does to each stack vs HEAD (BASE=rev, ENV=env, FAIL_ON=flags)"
	@echo "make test       run the test suite (unit tests, cfn-lint, deploy tests on a local server)"
	@echo "make lint       security gate: cfn-lint (+ own rules), checkov, cfripper, IAM least privilege"
	@echo "make scanners   build the scanners' own environments (.venv-checkov, .venv-scanners)"
	@echo "make deploy     deploy through change sets: ENV=<env> STACK=<stack> (or ALL=1 / STACK=all), ARGS='--dry-run ...'"
	@echo "make integ      real-account end-to-end check in a SANDBOX account (docs/integ.md); ARGS='--approve ...'"
	@echo "make localstack run the local CloudFormation server of the tests on 127.0.0.1 until Ctrl-C"
	@echo "make bench      render timings vs the import floor and every template's margin to its limits (docs/benchmarks.md)"
	@echo "make clean      remove virtual environments and build output"

# The project's virtual environment, rebuilt when setup.py changes.
$(STAMP): setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

# `make templates` renders every stack and parameter file from delivery.yaml; APP=<name> only that
# application's stacks; MODEL=<path> another model file.
templates: $(STAMP)
	$(BIN)/cfn-delivery $(if $(MODEL),--model $(MODEL)) templates $(if $(APP),--app $(APP))

# Review a change: `make diff` (against HEAD), BASE=<rev>, or ENV=<env> [STACK=<stack>] against
# the deployed stacks; FORMAT=markdown|json, FAIL_ON=data-loss,iam-broadening for a CI gate.
diff: $(STAMP)
	$(BIN)/cfn-delivery diff $(if $(BASE),--base $(BASE)) $(if $(ENV),--env $(ENV)) \
	  $(if $(STACK),--stack $(STACK)) $(if $(FORMAT),--format $(FORMAT)) $(if $(FAIL_ON),--fail-on $(FAIL_ON))

# LocalStack (the deploy tests' CloudFormation server) in its own venv: a no-op when up to date.
localstack-venv:
	bash scripts/localstack_venv.sh

# The tests' local CloudFormation server, for trying a deploy locally (placeholders for ECS, CodeDeploy,
# Beanstalk and load balancers: see docs/operations.md).
localstack: $(STAMP) localstack-venv
	$(BIN)/cfn-delivery local-server

test: $(STAMP) localstack-venv
	$(BIN)/python -m pytest

# Deploy through reviewed change sets: `make deploy ENV=dev STACK=foundation`, `make deploy ENV=dev ALL=1`;
# extra flags in ARGS (e.g. ARGS="--dry-run", ARGS="--yes --region eu-west-1").
deploy: $(STAMP)
	@test -n "$(ENV)" || { echo "usage: make deploy ENV=<env> STACK=<stack>|ALL=1 [ARGS='--dry-run ...']" >&2; exit 2; }
	@test -n "$(STACK)$(ALL)" || { echo "usage: make deploy ENV=<env> STACK=<stack>|ALL=1 [ARGS='--dry-run ...']" >&2; exit 2; }
	$(BIN)/python scripts/deploy.py --env $(ENV) $(if $(ALL),--all,--stack $(STACK)) $(ARGS)

# Real-account end-to-end check (docs/integ.md): asks for the account id; without AWS credentials
# it prints a message and exits 0. ARGS="--approve", ARGS="--teardown-only", ARGS="--env tools --env staging".
.PHONY: integ
integ: $(STAMP)
	$(BIN)/cfn-delivery integ $(ARGS)

# Scanners get their own environments (checkov pins an old boto3 and policy_sentry), rebuilt
# when their requirements file changes.
CHECKOV_STAMP  := .venv-checkov/.installed-stamp
SCANNERS_STAMP := .venv-scanners/.installed-stamp

$(CHECKOV_STAMP): requirements-checkov.txt
	$(PYTHON) -m venv .venv-checkov
	.venv-checkov/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	touch $(CHECKOV_STAMP)

$(SCANNERS_STAMP): requirements-scanners.txt
	$(PYTHON) -m venv .venv-scanners
	.venv-scanners/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-scanners.txt
	touch $(SCANNERS_STAMP)

scanners: $(CHECKOV_STAMP) $(SCANNERS_STAMP)

# The security gate over templates/*.yaml; exits non-zero on any finding (tests/test_security_gate.py runs it too).
lint: $(STAMP) scanners
	$(BIN)/python -m generator.lint

# Benchmark (bench/bench.py): cold render vs import floor, template budgets; writes docs/benchmarks.md.
bench: $(STAMP)
	$(BIN)/python bench/bench.py $(ARGS)

clean:
	rm -rf $(VENV) .venv-* build dist *.egg-info .pytest_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
