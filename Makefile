VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed

.PHONY: install test run train train-ner bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[model,train,api,test]'
	touch $(STAMP)

test: install
	$(PY) -m pytest -q

run: install
	$(VENV)/bin/nlp-guard serve

train: install
	$(PY) -m training.train

train-ner: install
	$(PY) -m training.train_ner

bench: install
	$(PY) bench/eval_model.py
	$(PY) bench/bench_guard.py
	$(PY) bench/bench_pii.py

clean:
	rm -rf $(VENV) build *.egg-info
