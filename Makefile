# Herald: `make run` shows it working with a demo feed, `make test` runs every test.
SWIFT ?= swift
APT_PACKAGES := libmosquitto-dev libsqlite3-dev mosquitto mosquitto-clients pkg-config \
	chromium chromium-driver python3-venv systemd openssl sqlite3 binutils nginx nodejs postgresql haproxy
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: deps build release run test clean

# Installs only what is missing, so a second run costs nothing.
deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

# Herald on 127.0.0.1:8080, a loopback mosquitto if none runs, and the demo feed.
run: build
	Scripts/run-demo.sh

test: deps test-venv
	$(SWIFT) build --build-tests
	HERALD_TEST_PYTHON=$(CURDIR)/$(BROWSER_VENV)/bin/python $(SWIFT) test --skip-build
	$(MAKE) --no-print-directory web-test
	$(MAKE) --no-print-directory browser-test

# Only the PostgreSQL suites (Tests/HeraldIntegrationTests/Postgres, part of `test` too), one
# test at a time: quicker to rerun while working on the PostgreSQL event log.
.PHONY: test-postgres
test-postgres: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --no-parallel --filter 'Postgres|NodeLease|WatchedConnection|Parity'

# The dashboard's pure modules (Web/js: formatting, bucketing, reducers) under Node's own test
# runner: Debian's nodejs, no npm packages.
.PHONY: web-test
web-test:
	node --test Tests/web/

# The dashboard in headless Chromium (Debian's chromium + chromedriver, nothing downloaded)
# against a private mosquitto and Herald on free loopback ports: Tests/browser. Selenium and
# pytest come from PyPI into a venv that is rebuilt only when requirements.txt changes; the
# notification tests' local receivers (Tests/receivers: aiosmtpd, http_ece) run on it too.
BROWSER_VENV := .build-browser/venv
.PHONY: browser-test test-venv
test-venv: $(BROWSER_VENV)/.installed

$(BROWSER_VENV)/.installed: Tests/browser/requirements.txt
	python3 -m venv $(BROWSER_VENV)
	$(BROWSER_VENV)/bin/pip install -q --disable-pip-version-check -r Tests/browser/requirements.txt
	touch $@

browser-test: build $(BROWSER_VENV)/.installed
	SE_OFFLINE=true PYTHONDONTWRITEBYTECODE=1 $(BROWSER_VENV)/bin/python -m pytest -p no:cacheprovider -q Tests/browser

# Where `make install` puts Herald; DESTDIR stages it (`make deb` does).
PREFIX ?= /usr
DESTDIR ?=
.PHONY: install deb check-systemd

# The release binary carries the Swift runtime (--static-swift-stdlib), so a gateway needs only
# libmosquitto1 and libsqlite3-0 beyond libc, libstdc++ and zlib; stripped, as debug info would
# double its size. It is linked for a small resident set (README, "Idle footprint"): one section
# per function, and lld laying out first, as Scripts/herald-hot.ld lists them, the functions that
# start-up and an idle server run (Scripts/order-file.sh measures them), so those pages sit together
# instead of across 30 MB of code; relative relocations packed (DT_RELR); no symbol table for dlsym.
# Its own build folder, so these flags never force a rebuild of .build/release.
# HERALD_BIN=path installs that binary instead of building one (the layout test does).
# The unit and the example configuration name /usr; another PREFIX is written into them.
# An existing configuration is never overwritten.
GATEWAY_BUILD := .build-install
# Read-only data stays read-only (see the script). Scripts/order-file.sh links without it: valgrind
# 3.19 crashes on that layout, and the profile needs only the functions, not where data lies.
GATEWAY_SECTIONS := -Xlinker -T -Xlinker $(CURDIR)/Scripts/herald-sections.ld
GATEWAY_FLAGS := -c release --static-swift-stdlib --product herald --scratch-path $(GATEWAY_BUILD) \
	-Xswiftc -Xfrontend -Xswiftc -function-sections -Xswiftc -use-ld=lld \
	-Xlinker -z -Xlinker pack-relative-relocs -Xlinker --no-export-dynamic \
	-Xlinker -T -Xlinker $(CURDIR)/Scripts/herald-hot.ld $(GATEWAY_SECTIONS) -Xlinker -Map=$(CURDIR)/$(GATEWAY_BUILD)/herald.map
.PHONY: gateway-binary
gateway-binary: deps
	rm -f $(GATEWAY_BUILD)/release/herald   # relink: SwiftPM does not see the script change
	$(SWIFT) build $(GATEWAY_FLAGS)
	@if [ -n "$(GATEWAY_SECTIONS)" ] && readelf -SW $(GATEWAY_BUILD)/release/herald | grep -E '\] \.rodata ' | grep -qE ' W[A-Za-z]* '; then \
	  echo "gateway-binary: .rodata came out writable (see Scripts/herald-sections.ld)" >&2; exit 1; fi

install: $(if $(HERALD_BIN),,gateway-binary)
	install -D -s -m 0755 $(or $(HERALD_BIN),$(GATEWAY_BUILD)/release/herald) $(DESTDIR)$(PREFIX)/bin/herald
	install -d $(DESTDIR)/lib/systemd/system $(DESTDIR)$(PREFIX)/share/herald/web
	sed 's|/usr/bin/herald|$(PREFIX)/bin/herald|' Systemd/herald.service > $(DESTDIR)/lib/systemd/system/herald.service
	chmod 0644 $(DESTDIR)/lib/systemd/system/herald.service
	cp -R Web/. $(DESTDIR)$(PREFIX)/share/herald/web/
	@if [ -e $(DESTDIR)/etc/herald/herald.yaml ]; then echo "keeping the existing $(DESTDIR)/etc/herald/herald.yaml"; else \
		install -d $(DESTDIR)/etc/herald && \
		sed 's|/usr/share/herald/web|$(PREFIX)/share/herald/web|' Systemd/herald.yaml > $(DESTDIR)/etc/herald/herald.yaml && \
		chmod 0644 $(DESTDIR)/etc/herald/herald.yaml; fi

# .build/deb/herald_VERSION_ARCH.deb, from `make install` into a staging folder whose layout it checks.
deb:
	Scripts/deb.sh

# The unit verifies cleanly and its sandbox rates 1.5 or lower; the example configuration passes.
# verify wants ExecStart's binary to exist, so it checks a copy that runs the debug build.
check-systemd: build
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	sed 's|^ExecStart=/usr/bin/herald |ExecStart=$(CURDIR)/.build/debug/herald |' Systemd/herald.service > "$$tmp/herald.service"; \
	if ! out=$$(systemd-analyze verify --man=no "$$tmp/herald.service" 2>&1) || [ -n "$$out" ]; then \
		echo "$$out"; exit 1; fi; \
	if ! systemd-analyze security --offline=yes --threshold=15 Systemd/herald.service > "$$tmp/security"; then \
		cat "$$tmp/security"; exit 1; fi; \
	tail -n 1 "$$tmp/security"; \
	.build/debug/herald check-config Systemd/herald.yaml

clean:
	rm -rf .build

# libFuzzer over the SSE parser, selectors, the publish body decoder and the config loader (not in `make test`).
.PHONY: fuzz
fuzz:
	FUZZ_SECONDS=$${FUZZ_SECONDS:-60} Scripts/fuzz.sh

# Bounded mixed load (HTTP, MQTT, a resuming subscriber) printing RSS, fds, latency and loss over
# time: SOAK_SECONDS (default 600). `chaos` is the same load with a SIGKILL loop, CHAOS_SECONDS
# (default 300). Both use the release build if there is one (HERALD_BIN overrides); not in `make test`.
.PHONY: soak chaos
soak:
	Scripts/soak.sh

chaos:
	Scripts/chaos.sh
