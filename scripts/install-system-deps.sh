#!/usr/bin/env bash
# System parts the tests use: PostgreSQL (access log, staging swap), Chromium (JupyterLab UI) and
# Node.js with npm (JupyterHub's configurable-http-proxy, installed by `make hub-deps`).
# As root on Debian they are installed with apt-get when missing; otherwise this says what is
# missing and the tests that need it fail with the same hint.
set -u
need=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v npm >/dev/null 2>&1 || need+=(nodejs npm)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing system packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null \
    || { echo "apt-get install ${need[*]} failed" >&2; exit 1; }
else
  echo "Missing system packages: ${need[*]} (install with: sudo apt-get install -y ${need[*]});" \
       "the tests that need them will fail with this hint." >&2
fi
