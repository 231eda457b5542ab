# The README's promise: `make demo` and `make test` work on a fresh machine with Python 3.11+.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-dev
# pytest workers: the CI machine has 2 cores.
JOBS   ?= auto

.PHONY: venv demo test lint bench bench-fleet bench-storm eval heldout yardsticks admit model package runbook system-deps clean mutation

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "Python 3.11+ is required (PYTHON=$(PYTHON))"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

# Browser and shell linters for the report/repro tests; best effort (tests skip with a
# clear message where they cannot be installed).
system-deps:
	@bash scripts/system-deps.sh

# Sample logs first (offline `investigate log`), then the AWS scenarios against an embedded moto.
demo: venv
	@mkdir -p reports/logs
	@for f in examples/*.log; do \
	  n=$$(basename $$f .log); \
	  $(VENV)/bin/investigate log $$f --format html --output reports/logs/$$n.html || exit 1; \
	  $(VENV)/bin/investigate log $$f --format json --output reports/logs/$$n.json || exit 1; \
	done
	@$(PY) -m investigator.demo.samples reports/logs
	$(PY) -m investigator.demo --out reports

test: venv system-deps
	$(PY) -m pytest -n $(JOBS) -p no:cacheprovider

lint: venv
	$(VENV)/bin/ruff check investigator tests bench scripts
	@if [ -f infra/template.yaml ]; then $(VENV)/bin/cfn-lint infra/template.yaml; fi
	@if command -v sam >/dev/null 2>&1 && [ -f infra/template.yaml ]; then \
	  sam validate --lint -t infra/template.yaml; fi

bench: venv
	$(PY) bench/bench_log.py
	@if [ -f bench/bench_aws.py ]; then $(PY) bench/bench_aws.py; fi

# `investigate fleet` grouping a 100,000-record index (target < 10 s).
bench-fleet: venv
	$(PY) bench/bench_fleet.py

# A failure storm through the real handler on moto behind AWS-shaped throttling (a few
# minutes): STORM_ARGS="--concurrency 50", "--sagemaker-rate 0.1", "--jobs 40 --storm-s 10".
bench-storm: venv
	$(PY) bench/bench_storm.py $(STORM_ARGS)

# ROOT=DIR scores another folder of <category>/*.log (e.g. a blind batch).
eval: venv
	$(PY) -m tests.corpus.evaluate $(if $(ROOT),--root $(ROOT))

# One line per held-out blind wave (tests/corpus-heldout/*, kept as scored) and the corpus:
# a change must keep the waves' right answers right.
heldout: venv
	$(PY) -m tests.corpus.evaluate --summary tests/corpus $(sort $(wildcard tests/corpus-heldout/*/))

# After a wave is scored: copy the excerpts the playbooks get right and the failing ones only
# the learned fallback answers into tests/corpus (tests/corpus/admit.py), then `make model`.
admit: venv
	$(PY) -m tests.corpus.admit $(WAVE)

# The playbooks beside a keyword grep and the learned model alone (tests/corpus/yardsticks.py).
yardsticks: venv
	$(PY) -m tests.corpus.yardsticks $(foreach r,$(ROOT),--root $(r))

# The learned fallback's weights, trained on tests/corpus (a test fails when they are stale).
model: venv
	OPENBLAS_NUM_THREADS=1 $(PY) -m tests.corpus.fallback_model
	$(PY) -m tests.corpus.fallback_model --cv

# Mutation score per core module (a measurement: not part of `make test` or CI).
mutation: venv
	$(PY) scripts/mutation.py $(MODULES)

package: venv
	bash scripts/package.sh

runbook: venv
	$(VENV)/bin/investigate runbook --output docs/runbook

clean:
	rm -rf $(VENV) dist build .pytest_cache bench/out mutants
