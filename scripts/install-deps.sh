#!/usr/bin/env bash
# Installs what building and testing OpenChat needs, idempotently: system packages (cmake for the
# opus crate, chromium for the browser tests, pkg-config, python3-venv), the Python tools of the
# test suite in .venv/ (schemathesis for scripts/schemathesis.sh), and checks the Rust toolchain.
# Safe to run on every `make run` / `make test`: it does nothing when everything is present.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-deps: not root and no sudo; install packages by hand: $*" >&2
  fi
fi

need_pkgs=()
want_pkgs=(cmake pkg-config chromium ca-certificates curl python3 python3-venv)
for p in "${want_pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    need_pkgs+=("$p")
  fi
done

if [ "${#need_pkgs[@]}" -gt 0 ]; then
  echo "install-deps: installing ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}"
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "install-deps: cargo not found. Install Rust >= 1.94 (https://rustup.rs) and re-run." >&2
  exit 1
fi

rust_minor=$(rustc --version | sed -E 's/^rustc 1\.([0-9]+).*/\1/')
if [ "${rust_minor:-0}" -lt 94 ]; then
  echo "install-deps: Rust >= 1.94 is required (found $(rustc --version))." >&2
  exit 1
fi

# Python tools, pinned, in a venv of the repository (git-ignored).
SCHEMATHESIS_VERSION=4.32.5
venv="$(cd "$(dirname "$0")/.." && pwd)/.venv"
if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "version $SCHEMATHESIS_VERSION\$"; then
  echo "install-deps: installing schemathesis $SCHEMATHESIS_VERSION into .venv"
  [ -x "$venv/bin/python" ] || /usr/bin/python3 -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
