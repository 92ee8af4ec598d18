# PoseReview: `make run` (app with the demo dataset), `make test` (linters, then the whole suite), `make bench`,
# `make lint` (ruff, import-linter, mypy, ESLint and the Node unit tests of the page scripts).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The optional MediaPipe pre-annotator lives in its own venv (its protobuf pin clashes with onnx);
# `make run` uses it (pretrained BlazePose weights, MediaPipe as a teacher) and the tests exercise it.
MP_VENV := .venv-mediapipe
MP_STAMP := $(MP_VENV)/.installed
MP_ENV := MLCORE_MEDIAPIPE_PYTHON="$${MLCORE_MEDIAPIPE_PYTHON:-$(CURDIR)/$(MP_VENV)/bin/python}"
NODE_STAMP := node_modules/.installed
# datumaro (CVAT's dataset library) reads and writes the CVAT exports in the tests; its numpy pin needs its own venv.
DM_VENV := .venv-datumaro
DM_STAMP := $(DM_VENV)/.installed
DM_ENV := POSEREVIEW_DATUMARO_PYTHON="$${POSEREVIEW_DATUMARO_PYTHON:-$(CURDIR)/$(DM_VENV)/bin/python}"
# Ultralytics checks and trains on the YOLO-pose export in the tests; it needs torchvision, so its own torch.
UL_VENV := .venv-ultralytics
UL_STAMP := $(UL_VENV)/.installed
UL_ENV := POSEREVIEW_ULTRALYTICS_PYTHON="$${POSEREVIEW_ULTRALYTICS_PYTHON:-$(CURDIR)/$(UL_VENV)/bin/python}"

.PHONY: run test bench install clean lint lint-py lint-js manage

# .venv gets the runtime pins plus development tools (requirements-dev.txt); the Docker image only the runtime.
$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $(STAMP)

$(MP_STAMP): requirements-mediapipe.txt
	test -x $(MP_VENV)/bin/python || $(PYTHON) -m venv $(MP_VENV)
	$(MP_VENV)/bin/python -m pip install -q -r requirements-mediapipe.txt
	touch $(MP_STAMP)

$(DM_STAMP): requirements-datumaro.txt
	test -x $(DM_VENV)/bin/python || $(PYTHON) -m venv $(DM_VENV)
	$(DM_VENV)/bin/python -m pip install -q -r requirements-datumaro.txt
	touch $(DM_STAMP)

$(UL_STAMP): requirements-ultralytics.txt
	test -x $(UL_VENV)/bin/python || $(PYTHON) -m venv $(UL_VENV)
	$(UL_VENV)/bin/python -m pip install -q -r requirements-ultralytics.txt
	touch $(UL_STAMP)

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $(NODE_STAMP)

install: $(STAMP) $(MP_STAMP)

run: $(STAMP) $(MP_STAMP)
	$(MP_ENV) $(PY) -m webapp.dev run

test: lint $(MP_STAMP) $(DM_STAMP) $(UL_STAMP)
	$(MP_ENV) $(DM_ENV) $(UL_ENV) $(PY) -m webapp.dev test

lint: lint-py lint-js

lint-py: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	POSEREVIEW_DEV=1 $(VENV)/bin/mypy

lint-js: $(NODE_STAMP)
	npx eslint static/ tests/js/
	node --test tests/js/

bench: $(STAMP)
	$(PY) -m webapp.dev bench

# Any management command against `make run`'s database: make manage ARGS="import_coco barbell-row file.json"
manage: $(STAMP)
	$(PY) -m webapp.dev manage $(ARGS)

clean:
	rm -rf var/media var/staticfiles
