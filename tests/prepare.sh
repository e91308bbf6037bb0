#!/usr/bin/env bash
# Installs the non-Python things the test suite uses, when they are missing:
#   redis-server (multi-process limiter/token tests) from Debian's packages.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v redis-server >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "prepare: installing redis-server" >&2
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  else
    echo "prepare: redis-server missing and cannot be installed here; redis tests will fail" >&2
  fi
fi
