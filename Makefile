# skewless — `make help` lists the targets. Everything runs inside ./.venv, created on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
export TZ := UTC

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  make %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e ".[dev,spark,postgres,server]"
	@touch $(STAMP)

.PHONY: venv
venv: $(STAMP) ## Create ./.venv with the package and its dev tools

.PHONY: demo
demo: $(STAMP) ## Build the example features on DuckDB, load them into Redis, serve vectors and a training set
	$(PY) examples/payments/demo.py

.PHONY: test
test: $(STAMP) java ## Run every test: dbt integration tests (DuckDB, PostgreSQL, Spark) and pytest
	$(PY) -m pytest -n 2 --dist loadgroup python_runtime/tests

# The Spark suite (dbt-spark session mode, in-process Spark 4) needs Java >= 17, found as pyspark
# finds it: $JAVA_HOME/bin/java, else `java` on PATH. Under CI=true a missing Java fails `make test`;
# on a laptop the Spark tests skip with the same message.
JAVA_BIN = $(if $(JAVA_HOME),$(JAVA_HOME)/bin/java,java)
.PHONY: java
java: ## Check that Java >= 17 is there for the Spark suite (and say how to install it)
	@v=$$($(JAVA_BIN) -version 2>&1 | awk -F'"' '/version/ {print $$2; exit}' | sed 's/^1\.//' | cut -d. -f1); \
	if [ -z "$$v" ] || [ "$$v" -lt 17 ] 2>/dev/null; then \
	  msg="the Spark suite needs Java >= 17 (found: $${v:-none}); install it with: sudo apt-get install openjdk-17-jre-headless (or set JAVA_HOME)"; \
	  case "$${CI:-}" in true|1|yes) echo "error: $$msg" >&2; exit 1;; \
	    *) echo "warning: $$msg — the Spark tests will be skipped" >&2;; esac; \
	else echo "java $$v: the Spark suite will run"; fi

.PHONY: lint
lint: $(STAMP) ## ruff (lint + format check) and mypy on python_runtime/
	$(VENV)/bin/ruff check python_runtime bench examples
	$(VENV)/bin/ruff format --check python_runtime bench examples
	$(VENV)/bin/mypy

.PHONY: bench
bench: $(STAMP) bench-peers ## Run the benchmarks (peers included) and rewrite bench/RESULTS.md
	$(PY) bench/run.py

# The peers the benchmarks compare against (issue 12: Feast's Python feature server) get their own
# virtualenv, pinned by bench/peers-constraints.txt: nothing of theirs ever enters .venv.
PEERS_VENV := bench/.peers-venv
PEERS_STAMP := $(PEERS_VENV)/.installed-stamp
FEAST_VERSION := 0.67.0

$(PEERS_STAMP): bench/peers-constraints.txt
	@test -x $(PEERS_VENV)/bin/python || $(PYTHON) -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(PEERS_VENV)/bin/python -m pip install --quiet -c bench/peers-constraints.txt "feast[redis]==$(FEAST_VERSION)"
	@touch $(PEERS_STAMP)

.PHONY: bench-peers
bench-peers: $(PEERS_STAMP) ## Install the benchmark peer (Feast, pinned) in bench/.peers-venv, never in .venv

.PHONY: lock
lock: $(STAMP) ## Rewrite constraints.txt from the versions installed in .venv (after an upgrade)
	@{ echo "# Exact versions of every dependency, as tested (make lock regenerates it from .venv)."; \
	   echo "# Installed with \`pip install -c constraints.txt -e .[dev]\`, so a fresh machine resolves the same set."; \
	   $(PY) -m pip freeze --exclude-editable | grep -v '^skewless'; } > constraints.txt

.PHONY: fixtures
fixtures: $(STAMP) ## Regenerate the committed dbt manifest fixtures
	$(PY) python_runtime/tests/fixtures/regenerate.py

.PHONY: casemap
casemap: $(STAMP) ## Regenerate DuckDB's case-mapping table (after a DuckDB upgrade)
	$(PY) scripts/gen_casemap.py

.PHONY: clean
clean: ## Remove build output (keeps .venv)
	rm -rf target dbt_packages logs integration_tests/{target,dbt_packages,logs} examples/*/{target,dbt_packages,logs,data,.user.yml} examples/*/*.duckdb bench/.data
