# 协同育人门户 — the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
MANAGE := $(BIN)/python manage.py
# The W3C Nu HTML Checker (npm vnu-jar, run with Java 17+) for tests/foundation/test_html_valid.py.
VNU_VERSION := 26.9.27
VNU_JAR := .tools/node_modules/vnu-jar/build/dist/vnu.jar

# `make test` talks to real PostgreSQL and Redis: the ones named in the
# environment, or else the standard ports on localhost.
TEST_DATABASE_URL ?= $(if $(DATABASE_URL),$(DATABASE_URL),postgres://postgres@127.0.0.1:5432/alliance)
TEST_REDIS_URL ?= $(if $(REDIS_URL),$(REDIS_URL),redis://127.0.0.1:6379/0)

.PHONY: install tools run serve worker messages demo test lint format bench bench-tools check-services clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

# --ignore-scripts: the package's postinstall would try to download a Java runtime;
# the jar itself ships inside the package.
tools: $(VNU_JAR)

$(VNU_JAR):
	mkdir -p .tools
	npm install --prefix .tools --ignore-scripts --no-save --no-audit --no-fund vnu-jar@$(VNU_VERSION)
	test -f $(VNU_JAR)

# Compiled translations are committed; recompile when gettext's msgfmt is present.
messages: install
	@if command -v msgfmt >/dev/null 2>&1; then $(MANAGE) compilemessages --ignore=.venv -v0; \
	else echo "msgfmt not found: using the committed .mo files"; fi

run: install messages
	mkdir -p .celery/queue .celery/processed media
	$(MANAGE) migrate --noinput
	$(MANAGE) load_demo --if-empty
	@echo "Serving 协同育人门户 on http://127.0.0.1:8000/ (Celery worker with beat in the background)"
	@trap 'kill 0' INT TERM EXIT; \
	$(BIN)/celery -A alliance worker --beat --loglevel=INFO --concurrency=2 \
		--schedule=.celery/beat-schedule & \
	$(MANAGE) runserver 127.0.0.1:8000

check-services: install
	@DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(BIN)/python scripts/check_services.py

# The suite runs on pytest-xdist workers, one per core and at most two (each has its
# own test database, Redis database and media folder: tests/xdist_isolation.py);
# docs/TESTING.md. PYTEST_WORKERS=0 runs it in this one process.
PYTEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 1); [ "$$n" -gt 2 ] && n=2; echo $$n)

test: install tools messages check-services
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) \
		DJANGO_SETTINGS_MODULE=alliance.settings.test \
		$(BIN)/pytest -n $(PYTEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# `make bench` needs psql (it creates the data set's database) and measures HTTP
# throughput with wrk; gunicorn comes with `make install`. Missing tools come from
# Debian when we are root with apt-get; without wrk the bench measures with its own
# Python load generator (bench/load.py) and says so in the report.
APT_GET := DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends
bench-tools:
	@command -v psql >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
		&& { $(APT_GET) postgresql-client || { apt-get update -qq && $(APT_GET) postgresql-client; }; }; } \
		|| { echo "make bench needs psql: install postgresql-client (Debian: apt-get install postgresql-client)"; exit 1; }
	@command -v wrk >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
		&& { $(APT_GET) wrk || { apt-get update -qq && $(APT_GET) wrk; }; }; } >/dev/null 2>&1 \
		|| echo "wrk is not installed: HTTP throughput will be measured with bench/load.py"

bench: install check-services bench-tools
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(BIN)/python scripts/bench.py

clean:
	rm -rf $(VENV) .tools .celery staticfiles db.sqlite3
