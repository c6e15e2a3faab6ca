#!/usr/bin/env bash
# Installs what the soak's plot needs (matplotlib for python3), idempotently.
set -euo pipefail
if python3 -c 'import matplotlib' 2>/dev/null; then
  exit 0
fi
python3 -m pip install --quiet matplotlib
