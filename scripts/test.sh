#!/usr/bin/env bash
# The README's test command: installs what the tests need, then runs every check and test.
set -euo pipefail
cd "$(dirname "$0")/.."

# --- install what is missing -------------------------------------------------
need_cmd() { command -v "$1" >/dev/null 2>&1 || { echo "error: '$1' is required: $2" >&2; exit 1; }; }
need_cmd cargo "install Rust (rustup) 1.88 or newer"
rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt clippy
apt_updated=
apt_update_once() { [ -n "$apt_updated" ] || { apt-get update && apt_updated=1; }; }
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "node/npm missing: installing Debian's nodejs and npm" >&2
  apt_update_once && apt-get install -y nodejs npm
fi
# The browser tests/browser.rs drives through playwright-core (never playwright's own downloads).
if [ ! -x /usr/bin/chromium ]; then
  echo "chromium missing: installing Debian's chromium" >&2
  apt_update_once && apt-get install -y --no-install-recommends chromium
fi
# The Redis server the cluster tests (tests/cluster.rs) start their Socket.IO nodes on.
if ! command -v redis-server >/dev/null 2>&1; then
  echo "redis-server missing: installing Debian's redis-server" >&2
  apt_update_once && apt-get install -y --no-install-recommends redis-server
fi
# The official npm clients the integration tests drive, from the committed lockfile.
(cd tests/js && npm ci --no-audit --no-fund --loglevel=error)
# The Node reference servers (engine.io 6.6, socket.io 4.8) tests/differential.rs runs beside tpcio,
# and the Redis adapter and emitter of the cluster tests.
(cd loadtest/node-reference && npm ci --no-audit --no-fund --loglevel=error)
# The official Socket.IO browser client the server serves (what scripts/setup.sh installs).
(cd client && npm ci --no-audit --no-fund --loglevel=error)

# --- static checks -------------------------------------------------------------
# The pure layers never touch the runtime: keep them free of glommio.
if grep -rnE 'glommio::|use glommio' src/protocol src/engine src/http src/transport 2>/dev/null; then
  echo "error: src/protocol, src/engine, src/http and src/transport must not depend on glommio" >&2
  exit 1
fi
cargo fmt --all -- --check
# The API documentation builds without a warning (no broken link, every public item documented).
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps
cargo clippy --workspace --all-targets -- -D warnings

# --- tests ---------------------------------------------------------------------
cargo test --workspace
