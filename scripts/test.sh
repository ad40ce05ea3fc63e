#!/usr/bin/env bash
# The README's test command: installs what the tests need, then runs every check and test.
set -euo pipefail
cd "$(dirname "$0")/.."

# --- install what is missing -------------------------------------------------
need_cmd() { command -v "$1" >/dev/null 2>&1 || { echo "error: '$1' is required: $2" >&2; exit 1; }; }
need_cmd cargo "install Rust (rustup) 1.88 or newer"
rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt clippy

# --- static checks -------------------------------------------------------------
# The pure layers never touch the runtime: keep them free of glommio.
if grep -rn 'glommio' src/protocol src/engine src/http 2>/dev/null; then
  echo "error: src/protocol, src/engine and src/http must not depend on glommio" >&2
  exit 1
fi
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings

# --- tests ---------------------------------------------------------------------
cargo test --workspace
