# PoseReview: `make run` (app with the demo dataset), `make test` (whole suite), `make bench`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test bench install clean

$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(PY) -m webapp.dev run

test: $(STAMP)
	$(PY) -m webapp.dev test

bench: $(STAMP)
	$(PY) -m webapp.dev bench

clean:
	rm -rf var/media var/staticfiles
