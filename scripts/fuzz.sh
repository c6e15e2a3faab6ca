#!/usr/bin/env bash
# Builds and runs the fuzz targets in fuzz/ (libFuzzer through libfuzzer-sys, stable toolchain).
# The build uses cargo-fuzz when it is installed, and otherwise runs cargo itself with the same
# instrumentation flags (FUZZ_DRIVER=cargo forces that; both put the binaries in the same place).
#
#   scripts/fuzz.sh list                      the targets
#   scripts/fuzz.sh build                     the instrumented build (reused when nothing changed)
#   scripts/fuzz.sh smoke [SECONDS]           every target for SECONDS (default 15) from its seeds;
#                                             fails on the first crash (scripts/test.sh runs this)
#   scripts/fuzz.sh run TARGET [ARGS...]      one target until stopped, with libFuzzer ARGS
#                                             (e.g. -runs=10000000, -max_total_time=1800)
#   scripts/fuzz.sh long [TARGET...]          per target (default: all), one after the other under
#                                             nice -n 10: 10 million executions or
#                                             FUZZ_LONG_SECONDS (default 1800), whichever comes
#                                             first; one summary line each (bench/results/fuzz-*.md)
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
# What cargo-fuzz 0.13 hands rustc for `build -s none -a` on Linux: SanitizerCoverage feeding
# libFuzzer (8-bit counters, PC table, comparison tracing, stack depth), --cfg fuzzing, debug
# assertions, one codegen unit (so ThinLTO still inlines through the instrumentation).
SANCOV_RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Clink-dead-code \
-Cllvm-args=-sanitizer-coverage-stack-depth -Cdebug-assertions -Ccodegen-units=1"

targets() {
  sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^openchat-fuzz$'
}

build() {
  if [ "${FUZZ_DRIVER:-}" != cargo ] && cargo fuzz --version >/dev/null 2>&1; then
    (cd fuzz && cargo fuzz build "${FUZZ_FLAGS[@]}")
  else
    # The stable fallback: no cargo-fuzz needed, only cargo and a C++ compiler (libfuzzer-sys
    # builds libFuzzer). --target keeps the flags off build scripts, as cargo-fuzz does.
    RUSTFLAGS="$SANCOV_RUSTFLAGS ${RUSTFLAGS:-}" cargo build --manifest-path fuzz/Cargo.toml \
      --release --config profile.release.debug=true --target "$TRIPLE" --bins \
      --target-dir "$BUILD_DIR"
  fi
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
    seconds="${2:-15}"
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
      if nice -n 10 "$0" run-built "$t" -runs=10000000 \
          -max_total_time="${FUZZ_LONG_SECONDS:-1800}" -timeout=30 -rss_limit_mb=2048 \
          >"$log" 2>&1; then
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
    sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
