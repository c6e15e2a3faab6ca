#!/usr/bin/env bash
# The API contract run: schemathesis (PyPI, installed into .venv by scripts/install-deps.sh) over
# every operation of the OpenAPI document, against an openchatd of its own (development mode,
# SQLite in a temporary directory, a free port), with a development token. Part of
# scripts/test.sh; it fails on any 5xx, an undocumented status, a content type or header the
# document does not state, a response that violates its schema, a schema-valid request refused
# or a schema-violating request accepted.
#
# Alone:    scripts/schemathesis.sh                       (builds openchatd if missing)
# Options:  ST_SEED (default 20261201), ST_MAX_EXAMPLES (default 25), ST_TIMEOUT seconds
#           (default 300: a hard stop, the run itself is bounded by the example count), OPENCHATD (a binary to test instead of target/debug/openchatd),
#           ST_EXTRA (more schemathesis flags, e.g. "--include-path /v1/servers"),
#           ST_EXCLUDE_CHECKS (default object_level_authorization: it needs a second user's token).
# Hooks:    scripts/schemathesis_hooks.py (closes upgraded WebSocket connections; never revokes the
#           run's own device).
# Reports:  target/schemathesis/ (JUnit XML and the server's log).
#
# Deterministic: fixed seed, --generation-deterministic, no example database, one worker.
# Settings of the server under test, and why:
# - limits.*: generous rate limits. One token sends every request; with the production
#   defaults the run would mostly exercise 429 (which is documented, and tested in
#   signaling/tests/http_api.rs) instead of the handlers.
# - control.max_devices_per_user stays at its default: device links fail with documented codes.
set -euo pipefail
cd "$(dirname "$0")/.."

ST=.venv/bin/schemathesis
if [ ! -x "$ST" ]; then
  echo "schemathesis: $ST missing; run scripts/install-deps.sh" >&2
  exit 1
fi
target_dir="${CARGO_TARGET_DIR:-target}"
bin="${OPENCHATD:-$target_dir/debug/openchatd}"
if [ -z "${OPENCHATD:-}" ]; then
  cargo build -q --workspace --bins
fi
out="$target_dir/schemathesis"
rm -rf "$out"
mkdir -p "$out"
tmp="$(mktemp -d)"
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

"$bin" serve --mode development --listen 127.0.0.1:0 --data-dir "$tmp/data" \
  --media-port 0 --log-level warn \
  --set limits.user_rps=100000 --set limits.user_burst=100000 \
  --set limits.device_rps=100000 --set limits.device_burst=100000 \
  >"$tmp/stdout" 2>"$out/openchatd.log" &
pid=$!

base=""
for _ in $(seq 1 300); do
  base="$(sed -n 's#^openchatd listening on \(http://[0-9.:]*\).*#\1#p' "$tmp/stdout" | head -n1)"
  [ -n "$base" ] && break
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "schemathesis: openchatd exited before listening:" >&2
    cat "$out/openchatd.log" >&2
    exit 1
  fi
  sleep 0.1
done
if [ -z "$base" ]; then
  echo "schemathesis: openchatd did not listen within 30 s" >&2
  exit 1
fi

token="$(curl -fsS -X POST "$base/v1/dev/token" -H 'content-type: application/json' \
  -d '{"user_id":"schemathesis","device_id":"st1"}' |
  .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')"

status=0
# shellcheck disable=SC2086
SCHEMATHESIS_HOOKS=schemathesis_hooks PYTHONPATH=scripts \
  timeout --kill-after=10 "${ST_TIMEOUT:-300}" \
  "$ST" --config-file scripts/schemathesis.toml run "$base/v1/openapi.json" \
  --header "Authorization: Bearer $token" \
  --checks all \
  --exclude-checks "${ST_EXCLUDE_CHECKS:-object_level_authorization}" \
  --seed "${ST_SEED:-20261201}" --generation-deterministic \
  --max-examples "${ST_MAX_EXAMPLES:-25}" \
  --workers 1 --request-timeout 10 --no-color \
  --report junit --report-junit-path "$out/junit.xml" \
  ${ST_EXTRA:-} || status=$?

if [ "$status" -ne 0 ]; then
  echo "schemathesis: failed (exit $status); server log: $out/openchatd.log" >&2
fi
exit "$status"
