# sigma-exec: `make run` and `make test` each do all of their own set-up, idempotently.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
REDIS_PORT ?= 6399
STAMP := $(VENV)/.installed

.PHONY: run test setup system engine images images-python redis bench soak lint compose-test bench-verdicts nodes

run: setup engine images-python
	$(BIN)/sigma-exec run examples/sample_project --language python --changes examples/sample_changes.json

test: setup engine images redis
	SIGMA_TEST_REDIS_URL=redis://127.0.0.1:$(REDIS_PORT)/0 $(BIN)/python -m pytest -q -p no:cacheprovider --durations=25

setup: system $(STAMP)

system:
	@bash scripts/ensure-system.sh

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[queue,dev]'
	@touch $(STAMP)

engine:
	@bash scripts/ensure-engine.sh

images-python: setup engine
	$(BIN)/sigma-exec images build --language python

images: setup engine
	$(BIN)/sigma-exec images build

redis: system
	@bash scripts/ensure-redis.sh $(REDIS_PORT) .run

bench: setup engine images redis
	SIGMA_TEST_REDIS_URL=redis://127.0.0.1:$(REDIS_PORT)/0 $(BIN)/python -m bench

# only the verdict section (every language's sample: pipeline vs its native commands), merged into latest.json
bench-verdicts: setup engine images redis
	SIGMA_TEST_REDIS_URL=redis://127.0.0.1:$(REDIS_PORT)/0 $(BIN)/python -m bench.verdicts

soak: setup engine images redis
	SIGMA_FAULTS_RESTART_DOCKERD=1 SIGMA_TEST_REDIS_URL=redis://127.0.0.1:$(REDIS_PORT)/0 $(BIN)/python -m pytest -q -p no:cacheprovider tests/faults

lint: setup
	$(BIN)/ruff check sigma_exec tasks tests bench
	$(BIN)/ruff format --check sigma_exec tasks tests bench

# two engines: node loss at every stage and images through a registry (make test runs the short variant)
nodes: setup engine images-python redis
	SIGMA_NODES_FULL=1 SIGMA_TEST_REDIS_URL=redis://127.0.0.1:$(REDIS_PORT)/0 $(BIN)/python -m pytest -q -p no:cacheprovider tests/pipeline/test_node_loss.py

# docker-compose brought up for real with images built here (no registry), a proposal through it, torn down.
compose-test: setup engine images-python
	SIGMA_COMPOSE_TEST=1 $(BIN)/python -m pytest -q -p no:cacheprovider tests/deploy
