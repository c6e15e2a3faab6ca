#!/usr/bin/env bash
# Runs the whole test suite: builds every binary the end-to-end tests launch (openchatd,
# rtc-joiner), then every crate's unit and integration tests (SQLite always; PostgreSQL when
# DATABASE_URL is set, and required when CI=true), then the API contract run (schemathesis over
# the OpenAPI document, scripts/schemathesis.sh; alone: `scripts/schemathesis.sh`), a bounded smoke
# run of every fuzz target (FUZZ_SMOKE_SECONDS each, default 15; 0 skips it) and the soak's smoke mode.
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

if [ "${FUZZ_SMOKE_SECONDS:-15}" != "0" ]; then
  scripts/fuzz.sh smoke "${FUZZ_SMOKE_SECONDS:-15}"
fi

# The soak's smoke mode (bench/soak): ~20 s of joins and leaves, chat and reconnecting realtime
# subscribers against the debug openchatd; fails if an envelope or a join is lost.
target_dir="${CARGO_TARGET_DIR:-target}"
"$target_dir/debug/soak" --smoke --db sqlite --bin-dir "$target_dir/debug"
