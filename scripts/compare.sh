#!/usr/bin/env bash
# tpcio against socketioxide 0.18, the Node socket.io 4.8 reference and a raw WebSocket echo on
# tpcio's runtime, in one run: builds all of them, then `tpcio-loadtest compare` starts each
# server in turn pinned to one CPU (--server-cpus, default 0) with the load generator on another
# (--loadgen-cpus, default 1), and writes loadtest/results/<UTC time>/ and loadtest/results/latest/
# (results.md, results.json, chart.svg). Three rounds by default (--rounds), servers in turn within
# each round and a fresh server each time; the tables give medians with min–max, the server CPU
# per operation, the generator's CPU (flagged when saturated), the load average and the versions
# (tpcio commit, rustc, glommio, socketioxide, Node, socket.io, kernel). Arguments go to
# `compare`, e.g. --quick for a smoke run of a few minutes (one round), --servers tpcio,node,
# --scenarios echo,echo-typed,ack, --rounds 5; see `tpcio-loadtest compare --help`.
# `--scenarios cluster` (not in the default set) runs two nodes of tpcio, then of Node, on a fresh
# redis-server each round, and writes loadtest/results/cluster-latest/ when run alone.
set -euo pipefail
cd "$(dirname "$0")/.."

need_cmd() { command -v "$1" >/dev/null 2>&1 || { echo "error: '$1' is required: $2" >&2; exit 1; }; }
need_cmd cargo "install Rust (rustup) 1.88 or newer"
need_cmd node "install Node.js 18 or newer (apt-get install nodejs npm)"
need_cmd npm "install npm (apt-get install npm)"
need_cmd taskset "install util-linux"
# The cluster scenario starts its own redis-server (Debian's package, as scripts/test.sh installs it).
if [[ " $* " == *cluster* ]] && ! command -v redis-server >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "redis-server missing: installing Debian's redis-server" >&2
    apt-get update && apt-get install -y --no-install-recommends redis-server
  else
    echo "error: 'redis-server' is required by the cluster scenario: apt-get install redis-server" >&2
    exit 1
  fi
fi

cargo build --release --workspace --bins --examples
cargo build --release --manifest-path loadtest/socketioxide-ref/Cargo.toml
# Reinstalled only when missing or behind its lock file (npm ci starts from scratch).
if [ ! -d loadtest/node-reference/node_modules/socket.io ] ||
  [ loadtest/node-reference/package-lock.json -nt loadtest/node-reference/node_modules/.package-lock.json ]; then
  npm ci --prefix loadtest/node-reference --no-audit --no-fund
fi

# tpcio serves the Socket.IO client bundle and will not start without it (what scripts/setup.sh installs).
if [ ! -d client/node_modules/socket.io-client/dist ]; then
  npm ci --prefix client --no-audit --no-fund --loglevel=error
fi

# The servers inherit this shell's open-file limit (10 000 broadcast clients need as many sockets).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
exec target/release/tpcio-loadtest compare "$@"
