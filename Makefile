# PoseReview: `make run` (app with the demo dataset), `make test` (whole suite), `make bench`,
# `make lint-js` (ESLint and the Node unit tests of the page scripts).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The optional MediaPipe pre-annotator lives in its own venv (its protobuf pin clashes with onnx);
# the tests use it so that its path is exercised too.
MP_VENV := .venv-mediapipe
MP_STAMP := $(MP_VENV)/.installed

.PHONY: run test bench install clean lint-js

$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $(STAMP)

$(MP_STAMP): requirements-mediapipe.txt
	test -x $(MP_VENV)/bin/python || $(PYTHON) -m venv $(MP_VENV)
	$(MP_VENV)/bin/python -m pip install -q -r requirements-mediapipe.txt
	touch $(MP_STAMP)

install: $(STAMP)

run: $(STAMP)
	$(PY) -m webapp.dev run

test: $(STAMP) $(MP_STAMP)
	MLCORE_MEDIAPIPE_PYTHON="$${MLCORE_MEDIAPIPE_PYTHON:-$(CURDIR)/$(MP_VENV)/bin/python}" $(PY) -m webapp.dev test

bench: $(STAMP)
	$(PY) -m webapp.dev bench

lint-js:
	test -d node_modules || npm ci --no-audit --no-fund
	npx eslint static/
	node --test tests/js/

clean:
	rm -rf var/media var/staticfiles
