# `make run` and `make test` set everything up themselves on a fresh machine.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
DEMO_PORT ?= 8001

.PHONY: setup sysdeps run test lint bench clean

setup: sysdeps $(STAMP) node_modules/.installed .env var/.migrated var/.collected

# Debian packages: mysqlclient builds against libmariadb-dev.
sysdeps:
	@scripts/sysdeps.sh

$(STAMP): requirements/base.txt requirements/prod.txt requirements/dev.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements/dev.txt
	touch $@

# Lighthouse, the MDN Observatory's scorer and uPlot, pinned in package.json / package-lock.json. No
# install scripts: the Observatory's would download its data files, which come from the repository.
node_modules/.installed: package.json package-lock.json scanners/observatory/hsts-preload.json
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	cp scanners/observatory/hsts-preload.json node_modules/@mdn/mdn-http-observatory/conf/
	touch $@

.env:
	@sed -e "s|^SECRET_KEY=.*|SECRET_KEY=$$(python3 -c 'import secrets; print(secrets.token_urlsafe(50))')|" \
	     -e "s|^BACKEND_API_KEY=.*|BACKEND_API_KEY=k6i_$$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')|" .env.example > .env
	@chmod 600 .env
	@echo "Created .env (embedded mode, DEBUG on, fresh SECRET_KEY and admin BACKEND_API_KEY)."

var/.migrated: $(STAMP) .env $(wildcard */migrations/*.py)
	mkdir -p var
	$(PY) manage.py migrate --noinput -v0
	touch $@

# Static files collected into STATIC_ROOT, where WhiteNoise serves them when DEBUG is off.
var/.collected: $(STAMP) .env node_modules/.installed $(shell find static -type f)
	mkdir -p var
	$(PY) manage.py collectstatic --noinput -v0
	touch $@

run: setup
	@$(PY) manage.py ensureadmin
	@$(PY) manage.py demotarget --port $(DEMO_PORT) --latency-min-ms 10 --latency-max-ms 60 --error-rate 0.02 & \
	trap "kill $$! 2>/dev/null" EXIT; \
	echo "Open http://$(HOST):$(PORT)/ and log in as admin (password in var/admin-password.txt); demo target: http://127.0.0.1:$(DEMO_PORT)/"; \
	echo "Try: $(PY) manage.py loadtest http://127.0.0.1:$(DEMO_PORT)/ --vus 5 --duration 10s"; \
	echo "API: curl -H \"X-API-Key: $$(sed -n 's/^BACKEND_API_KEY=//p' .env)\" -H 'Content-Type: application/json' \
	  -d '{\"url\": \"http://127.0.0.1:$(DEMO_PORT)/\", \"vus\": 5, \"duration\": \"10s\"}' http://$(HOST):$(PORT)/api/run"; \
	$(PY) manage.py runserver $(HOST):$(PORT)

test: setup
	$(VENV)/bin/mypy
	scripts/services.sh
	# The tests' targets are local servers: loopback is allowed for them (production refuses it by default).
	DATABASE_URL=mysql://root@127.0.0.1:3306/test REDIS_URL=redis://127.0.0.1:6379/15 ALLOW_LOOPBACK_TARGETS=true $(PY) -m pytest

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

bench: setup
	$(PY) bench/ingest.py
	$(PY) bench/pdf.py
	$(PY) bench/live.py
	$(PY) bench/result_api.py
	$(PY) bench/overhead.py

clean:
	rm -rf $(VENV) var
