#!/usr/bin/env bash
# Engine.IO layer benchmark: tpcio (`serve` mode, one shard) against the Node reference
# (engine.io 6.6, loadtest/node-reference/eio-echo.mjs), same load, one run.
# Each server is pinned to CPU $SERVER_CPU and the load generator to CPU $LOADGEN_CPU; the
# servers take turns (only one runs at a time). Prints a Markdown table; the JSON lines
# behind it stay in target/bench-engine/.
#
# Knobs (environment): DURATION (s, default 10), SIZE (bytes, 32), WS_CLIENTS (100),
# POLL_CLIENTS (50), PIPELINE (1), TPCIO_PORT (39200), NODE_PORT (39201), SERVER_CPU (0),
# LOADGEN_CPU (1).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
SIZE=${SIZE:-32}
WS_CLIENTS=${WS_CLIENTS:-100}
POLL_CLIENTS=${POLL_CLIENTS:-50}
PIPELINE=${PIPELINE:-1}
TPCIO_PORT=${TPCIO_PORT:-39200}
NODE_PORT=${NODE_PORT:-39201}
SERVER_CPU=${SERVER_CPU:-0}
LOADGEN_CPU=${LOADGEN_CPU:-1}
OUT=target/bench-engine

need_cmd() { command -v "$1" >/dev/null 2>&1 || { echo "error: '$1' is required: $2" >&2; exit 1; }; }
need_cmd cargo "install Rust (rustup) 1.88 or newer"
need_cmd node "install Node.js 18 or newer (apt-get install nodejs npm)"
need_cmd npm "install npm (apt-get install npm)"
need_cmd taskset "install util-linux"
if [ "$(nproc)" -lt 2 ]; then
  echo "warning: fewer than 2 CPUs: server and load generator share CPU 0" >&2
  SERVER_CPU=0 LOADGEN_CPU=0
fi

# --- build and install -----------------------------------------------------------
cargo build --release -p tpcio -p tpcio-loadtest
if [ ! -d loadtest/node-reference/node_modules ]; then
  (cd loadtest/node-reference && npm ci --no-audit --no-fund)
fi
mkdir -p "$OUT"

# --- processes: every one we start is stopped by PID on exit ---------------------------
# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh

# Runs both scenarios against the server $1 (name) with PID $2 on port $3.
measure() {
  local name=$1 pid=$2 port=$3 transport clients
  for transport in websocket polling; do
    clients=$WS_CLIENTS
    [ "$transport" = polling ] && clients=$POLL_CLIENTS
    echo "== $name, $transport: $clients clients, $SIZE B, ${DURATION} s" >&2
    taskset -c "$LOADGEN_CPU" target/release/tpcio-loadtest eio-echo \
      --url "http://127.0.0.1:$port/engine.io/" --transport "$transport" --clients "$clients" \
      --duration "$DURATION" --size "$SIZE" --pipeline "$PIPELINE" --threads 1 --server-pid "$pid" \
      >"$OUT/$name-$transport.json" || echo "warning: $name $transport run failed" >&2
  done
}

# --- tpcio -------------------------------------------------------------------------
port_free "$TPCIO_PORT"
port_free "$NODE_PORT"
bench_server tpcio "$TPCIO_PORT" target/release/tpcio --host 127.0.0.1 --port "$TPCIO_PORT" --shards 1

# --- Node engine.io -----------------------------------------------------------------
bench_server node "$NODE_PORT" node loadtest/node-reference/eio-echo.mjs "$NODE_PORT"

# --- table ---------------------------------------------------------------------------
OUT="$OUT" SIZE="$SIZE" node --input-type=module - <<'JS'
import { readFileSync } from "node:fs";
const read = (name) => {
  try { return JSON.parse(readFileSync(`${process.env.OUT}/${name}.json`, "utf8").trim().split("\n").pop()); }
  catch { return null; }
};
const rate = (r) => (r ? Math.round(r.rate_per_s).toLocaleString("en-US") : "failed");
const cpuPerOp = (r) => (r && r.messages && r.server_cpu_s != null ? (r.server_cpu_s * 1e6 / r.messages).toFixed(1) : "-");
const core = (r) => (r ? `${Math.round(100 * r.loadgen_cpu_s / r.seconds)}%` : "-");
const lat = (r) => (r ? `${r.p50_us} / ${r.p99_us}` : "-");
console.log("| scenario | tpcio rate | node rate | ratio | tpcio µs CPU/op | node µs CPU/op | loadgen CPU (tpcio / node run) | p50 / p99 µs tpcio | p50 / p99 µs node | errors (tpcio / node) |");
console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
for (const transport of ["websocket", "polling"]) {
  const t = read(`tpcio-${transport}`), n = read(`node-${transport}`);
  const ratio = t && n && n.rate_per_s ? `${(t.rate_per_s / n.rate_per_s).toFixed(2)}×` : "-";
  const label = `${transport} echo, ${(t ?? n)?.clients ?? "?"} clients, ${process.env.SIZE} B`;
  console.log(`| ${label} | ${rate(t)} | ${rate(n)} | ${ratio} | ${cpuPerOp(t)} | ${cpuPerOp(n)} | ${core(t)} / ${core(n)} | ${lat(t)} | ${lat(n)} | ${t?.errors ?? "-"} / ${n?.errors ?? "-"} |`);
}
JS
