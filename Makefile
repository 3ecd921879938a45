# densviz: `make run` starts it, `make test` checks it. Both set up what is missing first.
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python

.PHONY: setup run test test-fast test-slow lint typecheck docker-lint format bench clean

setup:
	@./scripts/setup.sh

# The app at http://127.0.0.1:8501, served by `densviz app` as from an installed package (one torch
# thread per request: the server's cores are shared). It listens on this machine only;
# DENSVIZ_ADDRESS=0.0.0.0 make run serves the network too.
run: setup
	OMP_NUM_THREADS=1 $(BIN)/densviz app --port 8501

# Lint, types, then every test but the slow ones (minutes at most).
test: setup lint typecheck docker-lint test-fast

test-fast: setup
	$(PY) -m pytest -m "not slow" -q

# The slow cases (random configs against the real model at more sizes); CI runs them too.
test-slow: setup
	$(PY) -m pytest -m slow -q

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy

# No Docker engine runs here: the Dockerfile is linted, not built.
docker-lint: setup
	$(BIN)/hadolint Dockerfile

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: setup
	$(PY) benchmarks/bench_plan.py
	$(PY) benchmarks/bench_render.py
	$(PY) benchmarks/bench_app.py
	$(PY) benchmarks/bench_forward.py
	$(PY) benchmarks/bench_train.py
	$(PY) benchmarks/bench_fastest.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
