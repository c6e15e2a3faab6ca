#!/bin/sh
# Installs Janus (Debian package) for the side-by-side benchmark. Idempotent: does nothing when
# `janus` and its videoroom plugin are already there. Used only by the bench, never by `make test`.
set -eu
if command -v janus >/dev/null 2>&1 && ls /usr/lib/*/janus/plugins/libjanus_videoroom.so >/dev/null 2>&1; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends janus gcc libc6-dev
