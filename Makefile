VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed

.PHONY: install test run train teacher student distill harden recalibrate train-ner bench clean

# The 12-layer teacher lives outside models/: models/ ships the distilled student.
TEACHER := training/.work/teacher
# the commit whose models/nlp_guard-zh holds teacher 0.4.0, the one the shipped student was distilled from
TEACHER_COMMIT := 502335b
# the commit whose models/nlp_guard-zh holds student 0.5.0, the one 0.6.0 was hardened from
STUDENT_COMMIT := 69e0fa3
STUDENT_EXPORT := training/.work/student-0.5.0

install: $(STAMP)

$(STAMP): pyproject.toml setup.py
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[model,train,api,live,test]'
	touch $(STAMP)

test: install
	$(PY) -m pytest -q

run: install
	$(VENV)/bin/nlp-guard serve

train: install
	$(PY) -m training.train --out_dir $(TEACHER)

teacher:
	mkdir -p $(TEACHER)
	for f in model.onnx tokenizer.json config.json metrics.json MODEL_CARD.md; do \
	  git show $(TEACHER_COMMIT):models/nlp_guard-zh/$$f > $(TEACHER)/$$f || exit 1; done

distill: install
	test -f $(TEACHER)/model.onnx || $(MAKE) teacher
	$(PY) -m training.transfer
	$(PY) -m training.distill --teacher $(TEACHER) --epochs 1.96
	$(PY) -m training.ship_student --teacher $(TEACHER)

# 0.5.0 from git history, read back from its int8 export into training/.work/student (its fp16 weights are gone)
student: install
	mkdir -p $(STUDENT_EXPORT)
	for f in model.onnx tokenizer.json config.json metrics.json MODEL_CARD.md; do \
	  git show $(STUDENT_COMMIT):models/nlp_guard-zh/$$f > $(STUDENT_EXPORT)/$$f || exit 1; done
	$(PY) -m training.student_from_model --model $(STUDENT_EXPORT)

# after distill: the student it wrote (training/.work/student) learns to read service wrapping as noise;
# without that folder, 0.5.0 is restored and read back (`make student`)
harden: install
	test -f $(TEACHER)/model.onnx || $(MAKE) teacher
	test -f training/.work/student/student_config.json || $(MAKE) student
	test -f training/.work/transfer/transfer.jsonl.gz || $(PY) -m training.transfer
	$(PY) -m training.harden
	$(PY) -m training.ship_student --student training/.work/hardened --teacher $(TEACHER) --version nlp_guard-zh-0.6.0

# 0.6.1: 0.6.0's weights, thresholds raised on dev + training/data/calibration (run after harden)
recalibrate: install
	test -f $(TEACHER)/model.onnx || $(MAKE) teacher
	test -f training/.work/hardened/student_config.json || $(MAKE) harden
	$(PY) -m training.recalibrate --version nlp_guard-zh-0.6.1

train-ner: install
	$(PY) -m training.train_ner

bench: install
	$(PY) bench/eval_model.py
	$(PY) bench/bench_guard.py
	$(PY) bench/bench_pii.py

clean:
	rm -rf $(VENV) build *.egg-info
