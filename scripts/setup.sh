#!/usr/bin/env bash
# What the server needs before `cargo run`: the official Socket.IO browser client, which the
# server serves at /socket.io/socket.io.js (Node's serveClient), installed from the committed
# lockfile into client/node_modules. Installs Debian's nodejs/npm first if node is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "node/npm missing: installing Debian's nodejs and npm" >&2
  apt-get update && apt-get install -y nodejs npm
fi
npm ci --prefix client --no-audit --no-fund --loglevel=error
