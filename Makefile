# engram: `make run` (the main job) and `make test` (every test) work on a fresh clone.
SHELL := /bin/bash
export ONNXRUNTIME_NODE_INSTALL := skip
export npm_config_onnxruntime_node_install := skip
NODE := node
ENGRAM := $(NODE) --enable-source-maps dist/runtime/cli/main.js

.PHONY: all install build run test check typecheck lint format bench clean system-deps

all: build

# npm ci only when the lockfile changed since the last install.
node_modules/.stamp: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

install: node_modules/.stamp

# engram's HNSW addon (native/hnsw: hnswlib with Float32Array in and out, no JS allocation per
# search); node-gyp comes with npm. Without a C++ toolchain the build fails and says so.
HNSW_ADDON := native/hnsw/build/Release/engram_hnsw.node
$(HNSW_ADDON): native/hnsw/engram_hnsw.cc native/hnsw/move.h $(wildcard native/hnsw/third_party/hnswlib/*.h) native/hnsw/binding.gyp native/common/engram_napi.h node_modules/.stamp
	npm run build:native:hnsw --silent

# engram's timekeeper addon (native/timer: a C++ thread wakes the loop for each tick; the loop's
# `native` timing strategy). Without it the loop falls back to the worker strategy and says so.
TIMER_ADDON := native/timer/build/Release/engram_timer.node
$(TIMER_ADDON): native/timer/engram_timer.cc native/timer/binding.gyp node_modules/.stamp
	npm run build:native:timer --silent

# engram's numeric kernels (native/kernels: the local model's fit and predict, bit for bit the
# JavaScript's). Without it brain/local-model.ts runs its JavaScript: the same results, slower.
KERNELS_ADDON := native/kernels/build/Release/engram_kernels.node
$(KERNELS_ADDON): native/kernels/engram_kernels.cc native/kernels/binding.gyp native/common/engram_napi.h node_modules/.stamp
	npm run build:native:kernels --silent

build: install $(HNSW_ADDON) $(TIMER_ADDON) $(KERNELS_ADDON)
	npx tsc -p tsconfig.json

# Debian packages some tests use (chromium for HTML reports, python3-zmq/msgpack for the example
# client, rt-tests for cyclictest). Best effort: a test that needs a missing one says why it skipped.
system-deps:
	@bash scripts/system-deps.sh

run: build
	$(ENGRAM) sim --task pendulum_swingup --steps 100000 --seed 1 --eval-every 20000

typecheck: install
	npx tsc -p tsconfig.json --noEmit

lint: install
	npx biome check .

format: install
	npx biome format --write .

check: typecheck lint

test: build system-deps check
	$(NODE) --import tsx test/run.ts

# --expose-gc: benchmarks collect between repeats and before RSS readings
bench: build
	$(NODE) --expose-gc --enable-source-maps dist/runtime/cli/main.js bench all

clean:
	rm -rf dist node_modules runs native/hnsw/build native/timer/build native/kernels/build
