#!/usr/bin/env bash
# Creates .venv with sentinel and its dependencies, and makes sure a Chromium exists.
# Idempotent: a second run only checks. Usage: scripts/bootstrap.sh [--with-test]
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-}
if [ -z "$PY" ]; then
  for cand in python3.11 python3.12 python3.13 python3; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
      PY=$cand; break
    fi
  done
fi
[ -n "$PY" ] || { echo "bootstrap: Python >= 3.11 is required" >&2; exit 2; }

with_test=0
[ "${1:-}" = "--with-test" ] && with_test=1

stamp=.venv/.bootstrap-$with_test-$(cat pyproject.toml scripts/bootstrap.sh | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ]; then
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  # PyTorch powers the sample training notebook and the kit's tests. 2.13.0 has a CPU build;
  # asking for it by version keeps pip from pulling a multi-gigabyte CUDA build.
  .venv/bin/python -m pip install -q "torch==${SENTINEL_TORCH_VERSION:-2.13.0}" || \
    echo "bootstrap: PyTorch could not be installed; the sample notebook and torch tests will be skipped" >&2
  if [ "$with_test" = 1 ]; then
    .venv/bin/python -m pip install -q -e ".[torch,dev]"
  else
    .venv/bin/python -m pip install -q -e ".[torch]"
  fi
  rm -f .venv/.bootstrap-*
  touch "$stamp"
fi

# A Chromium for Playwright: the system one when present, else Playwright's own download.
if [ -n "${SENTINEL_BROWSER_PATH:-}" ] && [ -x "${SENTINEL_BROWSER_PATH}" ]; then
  :
elif command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 \
     || command -v google-chrome >/dev/null 2>&1; then
  :
else
  echo "bootstrap: no system Chromium found; running 'playwright install chromium'" >&2
  .venv/bin/python -m playwright install chromium
fi
