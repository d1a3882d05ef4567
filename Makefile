# signet — the two commands of the quick start are `make demo` and `make test`.
CARGO ?= cargo
export CARGO_TERM_COLOR ?= never
SHELL := /bin/bash

.PHONY: all build release demo test core test-release test-deps lint fmt bench bench-peers fuzz fuzz-build man completions package clean

all: build

build:
	$(CARGO) build

## The binary users run. On Linux it links glibc statically and without PIE: no dynamic loader,
## no start-up relocations, which were half of a cache hit's time (docs/BENCHMARKS.md).
## PKCS#11 modules are still loaded with dlopen. Only the binary is built so; the library and the
## tests are built as usual.
## Without a static libc (Fedora's glibc-static, say) it falls back to the usual build, and says so.
ifeq ($(shell uname -s),Linux)
RELEASE = $(CARGO) rustc --release --bin signet -- -C target-feature=+crt-static -C relocation-model=static \
  || { echo "make release: static linking failed (is libc.a installed?); building the usual dynamic binary" >&2; \
       $(CARGO) build --release --bin signet; }
else
RELEASE = $(CARGO) build --release --bin signet
endif
release:
	$(RELEASE)

## The main job against the embedded issuer: generate a key, sign, exchange, cache.
demo: release
	target/release/signet demo

## Everything the tests need (npm packages for the oidc-provider interop), then every test.
## The tests that need root (another user, a tmpfs mount) are #[ignore]d, the only use of #[ignore]
## in tests/cli; as root (CI) they run after the others, otherwise make test names them as not run.
test: test-deps core
	$(CARGO) test -- --test-threads=4
	$(call ROOT_TESTS,)

## The library's core without default features (keys, assertions, exchange, file cache, the
## flow) builds, and pulls in none of the binary's or the optional backends' crates.
CORE_FORBIDDEN = clap|clap_complete|clap_mangen|redis|cryptoki|tiny_http|rcgen|jsonwebtoken
core:
	$(CARGO) build --lib --no-default-features
	@deps="$$($(CARGO) tree --no-default-features -e normal --prefix none)" || exit 1; \
	bad="$$(echo "$$deps" | grep -E '^($(CORE_FORBIDDEN)) ' | sort -u)"; \
	if [ -n "$$bad" ]; then echo "make core: the core depends on $$bad" >&2; exit 1; fi; \
	echo "make core: $$(echo "$$deps" | sort -u | wc -l) crates, none of $(CORE_FORBIDDEN)"
	@# hyper and tokio are in the core through reqwest; the token agent's halves of them are not.
	@feats="$$($(CARGO) tree --no-default-features -e normal,features --prefix none)" || exit 1; \
	bad="$$(echo "$$feats" | grep -E '^(hyper feature "server"|tokio feature "rt-multi-thread")' | sort -u)"; \
	if [ -n "$$bad" ]; then echo "make core: the core has the agent's $$bad" >&2; exit 1; fi

## The integration tests again, against the binary `make release` builds (not part of `make test`:
## a second, release build of everything would double CI's time).
test-release: test-deps release
	SIGNET_TEST_BIN=$(CURDIR)/target/release/signet $(CARGO) test --test cli -- --test-threads=4
	$(call ROOT_TESTS,SIGNET_TEST_BIN=$(CURDIR)/target/release/signet)

## $(1): environment for the run.
define ROOT_TESTS
@if [ "$$(id -u)" = 0 ]; then \
  echo "== the tests that need root (#[ignore]d; running as root)"; \
  $(1) $(CARGO) test --test cli -- --ignored --test-threads=4; \
else \
  echo "make test: NOT RUN, they need root (run make test as root, as CI does):" >&2; \
  $(CARGO) test --quiet --test cli -- --list --ignored 2>/dev/null | sed -n 's/: test$$//p' | sed 's/^/  /' >&2; \
fi
endef

SDK_VENV = target/sdk-venv
test-deps:
	@command -v cargo-deb >/dev/null || $(CARGO) install cargo-deb --version 3.8.0 --locked --quiet
	@command -v openssl >/dev/null || (apt-get update -qq && apt-get install -y -qq openssl)
	@command -v curl >/dev/null || (apt-get update -qq && apt-get install -y -qq curl)
	@command -v node >/dev/null || (apt-get update -qq && apt-get install -y -qq nodejs npm)
	@command -v redis-server >/dev/null || (apt-get update -qq && apt-get install -y -qq redis-server)
	@test -e /usr/lib/softhsm/libsofthsm2.so && command -v pkcs11-tool >/dev/null || (apt-get update -qq && apt-get install -y -qq softhsm2 opensc)
	@command -v ssh-agent >/dev/null && command -v ssh-keygen >/dev/null || (apt-get update -qq && apt-get install -y -qq openssh-client)
	@# The SDKs the token agent is tested with, pinned, in a venv (Debian's Python is externally
	@# managed); reinstalled when the requirements change.
	@if [ ! -f $(SDK_VENV)/.installed ] || [ tests/sdk/requirements.txt -nt $(SDK_VENV)/.installed ]; then \
	  { test -x $(SDK_VENV)/bin/python || python3 -m venv $(SDK_VENV) 2>/dev/null \
	    || { apt-get update -qq && apt-get install -y -qq python3-venv && python3 -m venv --clear $(SDK_VENV); }; } && \
	  $(SDK_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r tests/sdk/requirements.txt && \
	  touch $(SDK_VENV)/.installed; \
	fi
	@# npm ci whenever the lock file is newer than what is installed, so a version change lands.
	@if [ -f tests/oidc/package-lock.json ]; then \
	  if [ ! -f tests/oidc/node_modules/.package-lock.json ] || [ tests/oidc/package-lock.json -nt tests/oidc/node_modules/.package-lock.json ]; then \
	    (cd tests/oidc && npm ci --no-audit --no-fund --loglevel=error); \
	  fi; \
	fi

## The last line builds the library's core alone (no cli, redis, pkcs11, agent, issuer), as a
## library user without those features gets it.
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) clippy --lib --no-default-features -- -D warnings

fmt:
	$(CARGO) fmt --all

## Benchmarks: criterion (in-process) and whole commands next to references; writes docs/BENCHMARKS.md.
## `cargo bench` rebuilds target/release/signet the usual way, so the shipped binary is made after it
## (the usual dynamic build is kept as target/bench/signet-dynamic, to be measured beside it).
bench:
	@command -v hyperfine >/dev/null || (apt-get update -qq && apt-get install -y -qq hyperfine)
	@$(MAKE) --no-print-directory bench-peers || echo "make bench: some peers could not be installed; their rows are left out" >&2
	@command -v /usr/bin/time >/dev/null || (apt-get update -qq && apt-get install -y -qq time)
	$(CARGO) bench --bench signing -- --warm-up-time 1 --measurement-time 3
	$(CARGO) build --release --bin signet
	@mkdir -p target/bench && cp target/release/signet target/bench/signet-dynamic
	$(RELEASE)
	python3 benches/commands.py

## Peers measured next to signet by `make bench`: jwt-cli, PyJWT, MSAL Python (behind stunnel,
## since MSAL wants an https authority with discovery), a Python cache reader. Installed under
## target/bench/peers (a venv, and `cargo install --root`), so nothing lands in the system Python,
## which Debian marks externally managed. Versions pinned: the figures compare like with like.
PEERS = target/bench/peers
bench-peers:
	@command -v stunnel >/dev/null || (apt-get update -qq && apt-get install -y -qq stunnel4)
	@test -x $(PEERS)/bin/python || python3 -m venv $(PEERS) 2>/dev/null \
	  || { apt-get update -qq && apt-get install -y -qq python3-venv && python3 -m venv --clear $(PEERS); }
	$(PEERS)/bin/python -m pip install --quiet --disable-pip-version-check pyjwt==2.15.1 cryptography==48.0.0 msal==1.39.0
	@test -x $(PEERS)/bin/jwt || $(CARGO) install jwt-cli --version 6.2.0 --locked --root $(PEERS)

## Fuzzing (cargo-fuzz, libFuzzer; the stable toolchain with RUSTC_BOOTSTRAP=1 for -Zsanitizer).
## Each target runs FUZZ_SECONDS from the committed seed corpus in fuzz/corpus.
FUZZ_SECONDS ?= 20
FUZZ_TARGETS = key_file pkcs12 token_response inspect template config cache_entry
fuzz-build:
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	RUSTC_BOOTSTRAP=1 $(CARGO) fuzz build --fuzz-dir fuzz

fuzz: fuzz-build
	@for t in $(FUZZ_TARGETS); do \
	  echo "== fuzz $$t ($(FUZZ_SECONDS) s)"; \
	  mkdir -p fuzz/corpus/$$t; \
	  RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run --fuzz-dir fuzz $$t fuzz/corpus/$$t -- -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 2>&1 | grep -E "^(#[0-9]+ *DONE|==|SUMMARY|Done)|panicked|ERROR" ; \
	  test $${PIPESTATUS[0]} -eq 0 || exit 1; \
	done

## The man pages, from the clap definitions: signet.1 and one per command (signet-token.1,
## signet-cache-list.1, …), written by the release binary that `make package` ships, so they
## describe that binary and cost no second (debug) build.
man: release
	@mkdir -p target/man
	target/release/signet manpage --dir target/man
	@echo "view: man -l target/man/signet-token.1"

completions: release
	@mkdir -p target/completions
	target/release/signet completions bash > target/completions/signet.bash
	target/release/signet completions zsh > target/completions/_signet
	target/release/signet completions fish > target/completions/signet.fish

## A Debian package (cargo-deb): binary, man pages, completions, README. Install: apt install ./target/debian/signet_*.deb
package: man completions release
	@command -v cargo-deb >/dev/null || $(CARGO) install cargo-deb --version 3.8.0 --locked
	$(CARGO) deb --no-build
	@ls target/debian/*.deb

clean:
	$(CARGO) clean
