# The two commands: `make dev` and `make test`. See README.md.
SHELL := /bin/bash
BUILD ?= build
BUILD_ASAN ?= build-asan
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all setup build build-asan dev dev-services dev-stop test test-sanitize test-only \
        format format-check fuzz bench install-sdk up down image-check clean

all: build

setup:
	@scripts/setup.sh

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSIDECAR_WERROR=ON $(CMAKE_FLAGS)

build: setup $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

$(BUILD_ASAN)/build.ninja:
	cmake -S . -B $(BUILD_ASAN) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSIDECAR_WERROR=ON \
	  -DSIDECAR_SANITIZE=ON -DSIDECAR_BUILD_BENCH=OFF $(CMAKE_FLAGS)

build-asan: setup $(BUILD_ASAN)/build.ninja
	cmake --build $(BUILD_ASAN) -j $(JOBS)

# Local PostgreSQL and Redis under .run/dev, migrations and demo data, then the sidecar in the
# ZeroMQ-only dev mode (Ctrl-C stops the sidecar; `make dev-stop` stops the databases).
dev: setup $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS) --target runtime
	@scripts/dev.sh

dev-stop:
	@scripts/services.sh stop .run/dev

# Starts PostgreSQL, Redis and a Kafka broker on ports of its own, runs every test, stops them.
test: build
	@tests/run.sh $(BUILD)

test-sanitize: build-asan
	@tests/run.sh $(BUILD_ASAN)

format:
	@git ls-files '*.cpp' '*.hpp' '*.h' | xargs clang-format -i

format-check:
	@git ls-files '*.cpp' '*.hpp' '*.h' | xargs clang-format --dry-run --Werror

bench: build
	@bench/run.sh $(BUILD)

fuzz:
	@scripts/fuzz.sh

install-sdk: build
	cmake --install $(BUILD) --prefix $(or $(PREFIX),/usr/local)

up:
	docker compose up -d --build

down:
	docker compose down

# The Dockerfile's image built with podman (no Docker engine needed) and the Kafka walkthrough run
# through it against services of its own; see scripts/image-check.sh.
image-check: build
	@scripts/image-check.sh

clean:
	rm -rf $(BUILD) $(BUILD_ASAN)
