# Two commands for a fresh Linux machine with Python 3.11: `make demo` and `make test`.
# Both create .venv on first use and install what they need (torch pinned in
# requirements-dev.txt for this dev/CI path only).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# JSON, cards and the README hold non-ASCII names (Grøvik, Jünger): never depend on the locale
export PYTHONUTF8 := 1

.PHONY: demo test install weights benchmark clean

$(STAMP): pyproject.toml requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -r requirements-dev.txt
	$(BIN)/pip install -q --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/braintumorai demo --out demo_output

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 Testing

benchmark: $(STAMP)
	$(BIN)/braintumorai benchmark --out benchmark.json

weights: $(STAMP)
	$(BIN)/python -m BrainTumorAILib.demo_weights --out Resources/models
	$(BIN)/python -m BrainTumorAILib.quality.reference --models Resources/models --cases 12

clean:
	rm -rf demo_output benchmark.json .pytest_cache
