# The two commands of the README, plus helpers. Each installs what it needs first.

.PHONY: run test lint deps bench

deps:
	./scripts/install-deps.sh

## Run openchatd with its embedded defaults (SQLite, dev signing key, loopback UDP, demo client).
run: deps
	cargo run --release -p signaling --bin openchatd -- serve

## Run the whole test suite (set DATABASE_URL to include PostgreSQL).
test: deps
	./scripts/test.sh

## Formatting and lints, as CI checks them.
lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
