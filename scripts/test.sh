#!/usr/bin/env bash
# Runs the whole test suite: builds every binary the end-to-end tests launch (openchatd,
# rtc-joiner), then every crate's unit and integration tests (SQLite always; PostgreSQL when
# DATABASE_URL is set, and required when CI=true), then the API contract run (schemathesis over
# the OpenAPI document, scripts/schemathesis.sh; alone: `scripts/schemathesis.sh`).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${CI:-}" = "true" ] && [ -z "${DATABASE_URL:-}" ]; then
  echo "test: CI=true needs DATABASE_URL (PostgreSQL) for the PostgreSQL half of the suite" >&2
fi
if [ -z "${DATABASE_URL:-}" ]; then
  echo "test: DATABASE_URL not set: PostgreSQL tests will print 'skipped'"
fi

cargo build --workspace --bins
cargo test --workspace --no-fail-fast -- --test-threads="${TEST_THREADS:-2}"
OPENCHATD="${CARGO_TARGET_DIR:-target}/debug/openchatd" ./scripts/schemathesis.sh
