# Herald: `make run` shows it working with a demo feed, `make test` runs every test.
SWIFT ?= swift
APT_PACKAGES := libmosquitto-dev libsqlite3-dev mosquitto mosquitto-clients pkg-config
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

test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

clean:
	rm -rf .build
