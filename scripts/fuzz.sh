#!/usr/bin/env bash
# Builds and runs the fuzz targets in fuzz/ (cargo-fuzz, libFuzzer, stable toolchain).
#
#   scripts/fuzz.sh list                      the targets
#   scripts/fuzz.sh build                     the instrumented build (reused when nothing changed)
#   scripts/fuzz.sh smoke [SECONDS]           every target for SECONDS (default 20) from its seeds;
#                                             fails on the first crash (make test runs this)
#   scripts/fuzz.sh run TARGET [ARGS...]      one target until stopped, with libFuzzer ARGS
#                                             (e.g. -runs=10000000, -max_total_time=1800)
#   scripts/fuzz.sh long [TARGET...]          10 million executions or 30 minutes, whichever
#                                             comes first, per target (default: all), under
#                                             nice -n 10; one summary line each (bench/results/fuzz.md)
#
# The instrumented build lives in "${CARGO_TARGET_DIR:-target}/fuzz"; what a run adds to a corpus
# goes to "${CARGO_TARGET_DIR:-target}/fuzz/corpus/TARGET" (the checked-in seeds in
# fuzz/corpus/TARGET are only read); crashes are written to fuzz/artifacts/TARGET/.
set -euo pipefail
cd "$(dirname "$0")/.."

TRIPLE="$(rustc -vV | sed -n 's/^host: //p')"
BUILD_DIR="$(realpath -m "${CARGO_TARGET_DIR:-target}")/fuzz"
BIN_DIR="$BUILD_DIR/$TRIPLE/release"
# -s none: no AddressSanitizer. Every flag cargo-fuzz then passes (-Cpasses=sancov-module, the
# sanitizer-coverage llvm-args, --cfg fuzzing) is stable, so no nightly toolchain is needed.
# -a: debug assertions (integer overflow checks) in every crate.
FUZZ_FLAGS=(--sanitizer none --debug-assertions --target-dir "$BUILD_DIR")

targets() {
  sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^openchat-fuzz$'
}

build() {
  if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz: cargo-fuzz is missing: run scripts/install-deps.sh" >&2
    exit 1
  fi
  (cd fuzz && cargo fuzz build "${FUZZ_FLAGS[@]}")
}

# run TARGET [libFuzzer args...]: the built binary over the working corpus and the seeds.
run() {
  local target="$1"
  shift
  local work="$BUILD_DIR/corpus/$target"
  mkdir -p "$work" "fuzz/artifacts/$target"
  "$BIN_DIR/$target" -artifact_prefix="fuzz/artifacts/$target/" -print_final_stats=1 \
    "$@" "$work" "fuzz/corpus/$target"
}

# summary TARGET LOG SECONDS: one line with the run's executions, time and coverage.
summary() {
  local runs cov ft corp
  runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$2" | tail -1)"
  cov="$(grep -o 'cov: [0-9]*' "$2" | tail -1 | cut -d' ' -f2)"
  ft="$(grep -o 'ft: [0-9]*' "$2" | tail -1 | cut -d' ' -f2)"
  corp="$(grep -o 'corp: [0-9]*/[0-9]*[a-zA-Z]*' "$2" | tail -1 | cut -d' ' -f2)"
  echo "$1 runs=${runs:-?} seconds=$3 cov=${cov:-?} ft=${ft:-?} corpus=${corp:-?}"
}

case "${1:-}" in
  list) targets ;;
  build) build ;;
  smoke)
    seconds="${2:-20}"
    build
    failed=0
    for t in $(targets); do
      log="$BUILD_DIR/smoke-$t.log"
      if run "$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 >"$log" 2>&1; then
        echo "fuzz smoke: ok $(summary "$t" "$log" "$seconds")"
      else
        echo "fuzz smoke: $t FAILED (log: $log)" >&2
        tail -40 "$log" >&2
        failed=1
      fi
    done
    exit "$failed"
    ;;
  long)
    build
    shift
    failed=0
    for t in ${@:-$(targets)}; do
      log="$BUILD_DIR/long-$t.log"
      start=$(date +%s)
      if nice -n 10 "$0" run-built "$t" -runs=10000000 -max_total_time=1800 -timeout=30 \
          -rss_limit_mb=2048 >"$log" 2>&1; then
        echo "fuzz long: ok $(summary "$t" "$log" $(( $(date +%s) - start )))"
      else
        echo "fuzz long: $t FAILED after $(( $(date +%s) - start ))s (log: $log)" >&2
        failed=1
      fi
    done
    exit "$failed"
    ;;
  run-built)
    shift
    run "$@"
    ;;
  run)
    [ $# -ge 2 ] || { echo "usage: scripts/fuzz.sh run TARGET [libFuzzer args]" >&2; exit 2; }
    build
    shift
    run "$@"
    ;;
  *)
    sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
