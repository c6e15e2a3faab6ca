#!/usr/bin/env bash
# Installs what building and testing OpenChat needs, idempotently: system packages (cmake for the
# opus crate, chromium for the browser tests, pkg-config, g++ for libFuzzer, GStreamer webrtcbin,
# PyGObject and Firefox ESR for the interop tests, ffmpeg for the video tests, iproute2 and socat
# for the limited-link tests), the Python tools
# of the test suite in one venv `.venv/` (aiortc for the interop tests, schemathesis for scripts/schemathesis.sh), checks the Rust
# toolchain, and installs cargo-fuzz (optional: scripts/fuzz.sh falls back to plain cargo).
# Safe to run on every `make run` / `make test`: it does nothing when everything is present.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-deps: not root and no sudo; install packages by hand: $*" >&2
  fi
fi

need_pkgs=()
want_pkgs=(cmake pkg-config chromium ca-certificates curl g++
  # signaling/tests/interop.rs: GStreamer webrtcbin through PyGObject, and the venv for aiortc.
  python3 python3-venv python3-gi gir1.2-gstreamer-1.0 gir1.2-gst-plugins-base-1.0
  gir1.2-gst-plugins-bad-1.0 gir1.2-nice-0.1 gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad gstreamer1.0-nice
  # signaling/tests/interop.rs: Firefox ESR, driven headless over WebDriver BiDi.
  firefox-esr
  # signaling/tests/video_e2e.rs: test clips are encoded, and received files checked, with
  # ffmpeg/ffprobe (tests only: rtc-joiner sends files as they are).
  ffmpeg
  # Subscribers behind a limited link (video_bandwidth.rs, browser.rs): network namespaces and
  # tc, and socat to reach the DevTools port of a Chromium inside a namespace.
  iproute2 socat)
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

# The interop clients' venv: Debian's python3 with its site packages (for `gi`), plus aiortc.
# Recreated when it was made from another interpreter or without the system site packages.
VENV="$(cd "$(dirname "$0")/.." && pwd)/.venv"
venv_ok() {
  [ -x "$VENV/bin/python" ] &&
    grep -qx 'include-system-site-packages = true' "$VENV/pyvenv.cfg" 2>/dev/null &&
    grep -qx 'home = /usr/bin' "$VENV/pyvenv.cfg" 2>/dev/null
}
if ! venv_ok; then
  echo "install-deps: creating $VENV"
  rm -rf "$VENV"
  /usr/bin/python3 -m venv --system-site-packages "$VENV"
fi
if ! "$VENV/bin/python" -c 'import aiortc, websockets' >/dev/null 2>&1; then
  echo "install-deps: installing aiortc into $VENV"
  "$VENV/bin/pip" install -q "aiortc==1.16.0" "websockets>=14"
fi

# cargo-fuzz drives the fuzz targets in fuzz/ (scripts/fuzz.sh); libFuzzer itself is built by the
# libfuzzer-sys crate. Pinned so every machine runs the same driver. Optional: without it,
# scripts/fuzz.sh builds the same instrumented binaries with plain cargo on the stable toolchain.
CARGO_FUZZ_VERSION=0.13.2
if ! cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
  echo "install-deps: installing cargo-fuzz $CARGO_FUZZ_VERSION"
  if ! cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked; then
    echo "install-deps: cargo-fuzz did not install; scripts/fuzz.sh uses its plain-cargo build" >&2
  fi
fi

# schemathesis (scripts/schemathesis.sh), pinned, in the same venv.
SCHEMATHESIS_VERSION=4.32.5
if ! "$VENV/bin/schemathesis" --version 2>/dev/null | grep -q "version $SCHEMATHESIS_VERSION\$"; then
  echo "install-deps: installing schemathesis $SCHEMATHESIS_VERSION into $VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
