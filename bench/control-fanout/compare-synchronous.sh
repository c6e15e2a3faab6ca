#!/usr/bin/env bash
# SQLite `synchronous = NORMAL` against `FULL` (openchatd's default) in the chat fanout bench:
# ROUNDS rounds, each running NORMAL then FULL on a fresh database (alternating, so a change in
# the machine's background load hits both alike). Rows of every run go to
# bench/results/sqlite-synchronous.csv (column `db`: sqlite-normal / sqlite-full, column `round`).
#
#   bench/control-fanout/compare-synchronous.sh   (ROUNDS=3, SKIP_BUILD=1 to use the built binary;
#                                                  extra flags go to the bench)
set -euo pipefail
cd "$(dirname "$0")/../.."

rounds="${ROUNDS:-3}"
target_dir="${CARGO_TARGET_DIR:-target}"
[ -n "${SKIP_BUILD:-}" ] || cargo build --release -p control-fanout
bin="$target_dir/release/control-fanout"
out="bench/results/sqlite-synchronous.csv"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

header=""
rows=""
for round in $(seq 1 "$rounds"); do
  for level in normal full; do
    echo "== round $round: synchronous = $level" >&2
    "$bin" --db sqlite --sqlite-synchronous "$level" --out "$tmp/$level-$round" "$@" >&2
    csv="$tmp/$level-$round/control-fanout.csv"
    header="round,$(head -n1 "$csv")"
    rows+="$(tail -n +2 "$csv" | sed "s/^/$round,/")"$'\n'
  done
done
printf '%s\n%s' "$header" "$rows" >"$out"
echo "wrote $out" >&2
