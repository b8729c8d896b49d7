# sregraph — `make test` runs every test, `make demo` runs the demo.
.PHONY: demo test unit generate bench build

GO ?= go

demo:
	$(GO) run ./cmd/sregraph serve --demo

build:
	$(GO) build -o bin/sregraph ./cmd/sregraph

# Every test, with the real servers (Neo4j, Kafka, Alertmanager, Chromium)
# installed and started by scripts/test.sh.
test:
	./scripts/test.sh

# Only the fast in-process tests (no external servers needed).
unit:
	$(GO) test ./...

generate:
	$(GO) generate ./...

bench:
	./scripts/bench.sh
