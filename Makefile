# signet — the two commands of the quick start are `make demo` and `make test`.
CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

.PHONY: all build release demo test test-deps lint fmt bench bench-peers fuzz man clean

all: build

build:
	$(CARGO) build

release:
	$(CARGO) build --release

## The main job against the embedded issuer: generate a key, sign, exchange, cache.
demo:
	$(CARGO) run --quiet --release -- demo

## Everything the tests need (npm packages for the oidc-provider interop), then every test.
test: test-deps
	$(CARGO) test --all-targets -- --test-threads=4
	$(CARGO) test --doc

test-deps:
	@command -v openssl >/dev/null || (apt-get update -qq && apt-get install -y -qq openssl)
	@command -v node >/dev/null || (apt-get update -qq && apt-get install -y -qq nodejs npm)
	@if [ -f tests/oidc/package-lock.json ]; then \
	  [ -d tests/oidc/node_modules/oidc-provider ] || (cd tests/oidc && npm ci --no-audit --no-fund --loglevel=error); \
	fi

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

## The man page, from the clap definitions.
man:
	@mkdir -p target/man
	$(CARGO) run --quiet -- manpage > target/man/signet.1
	@echo "wrote target/man/signet.1 (view: man -l target/man/signet.1)"

clean:
	$(CARGO) clean
