# Clearpane — the two commands: `make run` and `make test`.
# Everything is installed by these targets; nothing is needed by hand on a fresh
# Debian 12 machine with Python 3.11.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
DATA   ?= ./data
PACKAGES := protocol audit certs broker agent cli integrations

SYSTEM_PACKAGES := chromium xvfb xauth xdotool libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0 \
	libxkbcommon-x11-0 libxcb-xinerama0 libxcb-randr0 libxcb-shape0 libxcb-render-util0 \
	libxcb-image0 libegl1 libgl1 \
	postgresql nats-server haproxy coturn \
	gstreamer1.0-tools gstreamer1.0-plugins-base dbus npm

.PHONY: node-deps run test test-postgres cluster lint typecheck venv system-deps bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

venv: $(STAMP)

# Chromium, Xvfb and the cluster's services (PostgreSQL, NATS, HAProxy: DESIGN §8) come
# from Debian; installed only when missing. Tests start their own throwaway instances.
# npm is left out when a node from elsewhere (NodeSource) already brings its own: Debian's
# npm conflicts with it.
system-deps:
	@if ! command -v chromium >/dev/null || ! command -v Xvfb >/dev/null || ! dpkg -s libxcb-cursor0 >/dev/null 2>&1 \
		|| ! command -v gst-launch-1.0 >/dev/null || ! command -v dbus-daemon >/dev/null \
		|| ! command -v nats-server >/dev/null || ! command -v haproxy >/dev/null || ! command -v npm >/dev/null \
		|| ! command -v turnserver >/dev/null \
		|| ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		pkgs="$(SYSTEM_PACKAGES)"; \
		if command -v npm >/dev/null; then pkgs=$$(echo "$$pkgs" | sed 's/ npm\b//'); fi; \
		echo "Installing system packages: $$pkgs"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$pkgs >/dev/null; \
	fi

# axe-core (npm) for the viewer's accessibility test, pinned by tools/axe/package-lock.json.
node-deps:
	@test -f tools/axe/node_modules/axe-core/axe.min.js || npm ci --prefix tools/axe --no-audit --no-fund --silent

run: venv
	$(BIN)/clearpane broker --data-dir $(DATA)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy --strict $(PACKAGES)

test: system-deps venv node-deps lint typecheck
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# The broker's tests again on PostgreSQL (a throwaway local cluster): store, API, auth,
# relay, WebSocket and webhook tests, and the multi-node store tests that need it.
test-postgres: system-deps venv
	tools/with_postgres.sh $(BIN)/python -m pytest -q tests/broker tests/cluster

# A local cluster (DESIGN §8, docs/operations.md §6): NATS, two broker processes on the
# NATS relay backend, HAProxy on https://127.0.0.1:9443, a throwaway PostgreSQL. Ctrl-C stops.
cluster: system-deps venv
	tools/with_postgres.sh $(BIN)/python -m tools.cluster --nodes 2 --port 9443

bench: system-deps venv
	$(BIN)/python -m bench.run_all

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis test-artifacts

# The agent's catalogue after adding or changing _() strings (docs/i18n.md): refresh the
# template and merge it into each language's .po, then translate the new entries.
.PHONY: i18n-agent
i18n-agent: venv
	$(BIN)/pybabel -q extract --no-location --sort-output -k _ -k ngettext:1,2 \
		-o agent/locale/clearpane.pot agent
	$(BIN)/pybabel -q update --no-fuzzy-matching -i agent/locale/clearpane.pot \
		-d agent/locale -D clearpane
