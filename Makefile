# imprint: two commands on a fresh machine — `make demo` and `make test`.
# `make setup` (run by both) creates .venv and node_modules and is quick when nothing changed.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY_STAMP   := $(VENV)/.setup-stamp
NODE_STAMP := node_modules/.setup-stamp
DEB_STAMP  := $(VENV)/.deb-stamp

.PHONY: setup demo test test-host test-device bench bench-heap clean

setup: $(PY_STAMP) $(NODE_STAMP) $(DEB_STAMP)

$(PY_STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found: install Python 3.11+"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[test]"
	@touch $@

# Peers the interop tests use from Debian (libcoap's coap-server-notls), the PostgreSQL server the
# factory record's tests start, and QEMU with Debian's MicroPython for the micro:bit
# (tests/unit/test_qemu_microbit.py); the tests that need one skip, saying so, where it cannot be
# installed (not root, no apt-get).
$(DEB_STAMP): Makefile
	@pkgs=""; qemu=""; \
	command -v coap-server-notls >/dev/null || pkgs="$$pkgs libcoap3-bin"; \
	command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || pkgs="$$pkgs postgresql"; \
	command -v qemu-system-arm >/dev/null || qemu="$$qemu qemu-system-arm"; \
	test -f /usr/share/firmware-microbit-micropython/firmware.hex || qemu="$$qemu firmware-microbit-micropython"; \
	if [ -n "$$pkgs$$qemu" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing$$pkgs$$qemu from Debian's packages"; \
		apt-get update -qq || true; \
		[ -z "$$pkgs" ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$pkgs >/dev/null || true; \
		[ -z "$$qemu" ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$qemu >/dev/null || true; \
	fi
	@mkdir -p $(VENV) && touch $@

$(NODE_STAMP): package.json package-lock.json
	@command -v node >/dev/null && command -v npm >/dev/null || $(MAKE) --no-print-directory node-install
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

.PHONY: node-install
node-install:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Node.js and npm from Debian's packages"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; \
	else \
		echo "error: Node.js 18+ and npm are needed for the virtual board:"; \
		echo "       sudo apt-get install nodejs npm   (or see https://nodejs.org)"; exit 1; \
	fi

demo: setup
	$(BIN)/imprint demo --profile nrf52840-dk

# Host and CPython tests (pytest), then the conformance suite on real MicroPython: two virtual
# boards (nrf52840-dk and esp32-devkitc profiles) reached over their serial ports, in parallel:
# the firmware's device tests, the serial link, the agent, store power loss, EDHOC interop and
# FDO through the relay (what `imprint conformance --port ...` runs on a rack of real boards).
test: setup test-host test-device

test-host:
	$(BIN)/python -m pytest tests

test-device:
	@mkdir -p build
	$(BIN)/imprint conformance --virtual nrf52840-dk --virtual esp32-devkitc --junit build/conformance.xml

# Benchmarks (figures for the README): not part of `make test`. bench-heap builds
# MicroPython's unix port (32-bit where gcc-multilib is installed) for real peak-heap figures.
bench: setup
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[test,bench]"
	$(BIN)/python bench/crypto.py
	$(BIN)/python bench/edhoc.py
	$(BIN)/python bench/factory.py
	$(BIN)/python bench/fdo.py

bench-heap: setup
	$(BIN)/python bench/heap_peak.py

clean:
	rm -rf $(VENV) node_modules build .pytest_cache
