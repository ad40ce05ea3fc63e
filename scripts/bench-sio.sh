#!/usr/bin/env bash
# Socket.IO layer benchmark: tpcio (`bench` mode, one shard) against the Node reference
# (socket.io 4.8, loadtest/node-reference/sio-bench.mjs), same load, one run.
# Each server is pinned to CPU $SERVER_CPU and the load generator to CPU $LOADGEN_CPU; the
# servers take turns (only one runs at a time). Scenarios: emit echo and ack echo
# ($CLIENTS clients, $SIZE B), broadcast to 1 000 clients and, when the open-file limit
# allows, to $BIG_CLIENTS clients: at a fixed rate both servers should sustain, then
# --find-max (the highest rate delivered in full with p99 within $P99_BOUND_MS ms).
# Prints a Markdown table; the JSON lines behind it stay in target/bench-sio/.
#
# Knobs (environment): DURATION (echo window, s, default 8), SIZE (bytes, 32), CLIENTS (100),
# BCAST_DURATION (fixed-rate broadcast, s, 8), RATE_1K (msgs/s to 1 000 clients, 20),
# BIG_CLIENTS (10000, 0 to skip), RATE_BIG (msgs/s to BIG_CLIENTS, 2), STEP_DURATION (s, 3),
# FIND_MAX_TIME (s per search, 40), P99_BOUND_MS (100), P99_BOUND_BIG_MS (1000: one broadcast
# to 10 000 sockets alone takes a few hundred ms to fan out), TPCIO_PORT (29210),
# NODE_PORT (29211), SERVER_CPU (0), LOADGEN_CPU (1).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-8}
SIZE=${SIZE:-32}
CLIENTS=${CLIENTS:-100}
BCAST_DURATION=${BCAST_DURATION:-8}
RATE_1K=${RATE_1K:-20}
BIG_CLIENTS=${BIG_CLIENTS:-10000}
RATE_BIG=${RATE_BIG:-2}
STEP_DURATION=${STEP_DURATION:-3}
FIND_MAX_TIME=${FIND_MAX_TIME:-40}
P99_BOUND_MS=${P99_BOUND_MS:-100}
P99_BOUND_BIG_MS=${P99_BOUND_BIG_MS:-1000}
# Below the ephemeral range (32768-60999 by default), which the big runs fill with sockets
# in TIME_WAIT: a server could not bind a port one of them holds.
TPCIO_PORT=${TPCIO_PORT:-29210}
NODE_PORT=${NODE_PORT:-29211}
SERVER_CPU=${SERVER_CPU:-0}
LOADGEN_CPU=${LOADGEN_CPU:-1}
OUT=target/bench-sio

need_cmd() { command -v "$1" >/dev/null 2>&1 || { echo "error: '$1' is required: $2" >&2; exit 1; }; }
need_cmd cargo "install Rust (rustup) 1.88 or newer"
need_cmd node "install Node.js 18 or newer (apt-get install nodejs npm)"
need_cmd npm "install npm (apt-get install npm)"
need_cmd taskset "install util-linux"
if [ "$(nproc)" -lt 2 ]; then
  echo "warning: fewer than 2 CPUs: server and load generator share CPU 0" >&2
  SERVER_CPU=0 LOADGEN_CPU=0
fi

# --- open files: each server and the load generator hold one socket per client ----------
# The load generator raises its own soft limit; the servers inherit ours.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)
if [ "$BIG_CLIENTS" -gt 0 ] && [ "$NOFILE" != unlimited ] && [ "$NOFILE" -lt $((BIG_CLIENTS + 256)) ]; then
  echo "warning: open-file limit $NOFILE is too low for $BIG_CLIENTS clients: skipping that size" >&2
  BIG_CLIENTS=0
fi

# --- build and install -----------------------------------------------------------
cargo build --release -p tpcio -p tpcio-loadtest
if [ ! -d loadtest/node-reference/node_modules/socket.io ]; then
  (cd loadtest/node-reference && npm ci --no-audit --no-fund)
fi
mkdir -p "$OUT"
rm -f "$OUT"/*.json

# --- processes: every one we start is stopped by PID on exit ---------------------------
# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh

# Runs the load generator on its CPU: $1 = output name, the rest its arguments.
loadgen() {
  local name=$1
  shift
  echo "== $name" >&2
  taskset -c "$LOADGEN_CPU" target/release/tpcio-loadtest "$@" >"$OUT/$name.json" \
    || echo "warning: $name failed (see above)" >&2
}

# Runs every scenario against the server $1 (name) with PID $2 on port $3.
measure() {
  local name=$1 pid=$2 port=$3
  local url="http://127.0.0.1:$port/socket.io/"
  local echo_args=(--url "$url" --clients "$CLIENTS" --size "$SIZE" --duration "$DURATION" --server-pid "$pid")
  local bcast=(--url "$url" --server-pid "$pid" --connect-timeout 60)
  local search=(--find-max --duration "$STEP_DURATION" --max-time "$FIND_MAX_TIME")
  loadgen "$name-echo" sio-echo "${echo_args[@]}"
  loadgen "$name-ack" sio-echo --ack "${echo_args[@]}"
  loadgen "$name-bcast-1k" sio-broadcast "${bcast[@]}" --clients 1000 --p99-bound-ms "$P99_BOUND_MS" \
    --rate "$RATE_1K" --duration "$BCAST_DURATION"
  loadgen "$name-bcast-1k-max" sio-broadcast "${bcast[@]}" --clients 1000 --p99-bound-ms "$P99_BOUND_MS" \
    --rate "$RATE_1K" "${search[@]}"
  if [ "$BIG_CLIENTS" -gt 0 ]; then
    loadgen "$name-bcast-big" sio-broadcast "${bcast[@]}" --clients "$BIG_CLIENTS" \
      --p99-bound-ms "$P99_BOUND_BIG_MS" --rate "$RATE_BIG" --duration "$BCAST_DURATION"
    loadgen "$name-bcast-big-max" sio-broadcast "${bcast[@]}" --clients "$BIG_CLIENTS" \
      --p99-bound-ms "$P99_BOUND_BIG_MS" --rate "$RATE_BIG" "${search[@]}"
  fi
}

port_free "$TPCIO_PORT"
port_free "$NODE_PORT"

# --- tpcio -------------------------------------------------------------------------
bench_server tpcio "$TPCIO_PORT" target/release/tpcio bench --host 127.0.0.1 --port "$TPCIO_PORT" --shards 1

# --- Node socket.io ------------------------------------------------------------------
bench_server node "$NODE_PORT" node loadtest/node-reference/sio-bench.mjs "$NODE_PORT"

# --- table ---------------------------------------------------------------------------
OUT="$OUT" SIZE="$SIZE" CLIENTS="$CLIENTS" BIG_CLIENTS="$BIG_CLIENTS" node --input-type=module - <<'JS'
import { readFileSync } from "node:fs";
const env = process.env;
const read = (name) => {
  try { return JSON.parse(readFileSync(`${env.OUT}/${name}.json`, "utf8").trim().split("\n").pop()); }
  catch { return null; }
};
const num = (x) => Math.round(x).toLocaleString("en-US");
const pct = (cpu, s) => (cpu != null && s ? `${Math.round(100 * cpu / s)}%` : "-");
// Each kind of row reads its figures from a report (r): the rate, the server µs of CPU per
// message or delivery, the seconds the CPU figures cover, and what was lost.
const echo = {
  rate: (r) => r.rate_per_s,
  cpuPerOp: (r) => (r.messages && r.server_cpu_s != null ? r.server_cpu_s * 1e6 / r.messages : null),
  window: (r) => r.seconds,
  lost: (r) => `${r.errors} err`,
};
const bcast = {
  rate: (r) => r.deliveries_per_s,
  cpuPerOp: (r) => r.server_us_per_delivery,
  window: (r) => r.cpu_window_s,
  lost: (r) => `${(100 * r.loss).toFixed(2)}% loss${r.errors ? `, ${r.errors} err` : ""}`,
};
const search = {
  ...bcast,
  rate: (r) => r.max_sustained_deliveries_per_s,
  lost: (r) =>
    `${r.steps?.length ?? 0} steps (${r.search_end ?? "?"}), best ${r.max_sustained_rate != null ? `${num(r.max_sustained_rate)} msg/s` : "none"}`,
};
console.log("| scenario | tpcio | node | ratio | tpcio µs CPU/op | node µs CPU/op | tpcio run CPU: server / loadgen | node run CPU: server / loadgen | p50 / p99 µs tpcio | p50 / p99 µs node | tpcio / node |");
console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
const row = (label, file, kind) => {
  const t = read(`tpcio-${file}`), n = read(`node-${file}`);
  const rate = (r) => (r && kind.rate(r) != null ? num(kind.rate(r)) : r ? "none" : "failed");
  const ratio = t && n && kind.rate(t) && kind.rate(n) ? `${(kind.rate(t) / kind.rate(n)).toFixed(2)}×` : "-";
  const cpu = (r) => (r && kind.cpuPerOp(r) != null ? kind.cpuPerOp(r).toFixed(2) : "-");
  const use = (r) => (r ? `${pct(r.server_cpu_s, kind.window(r))} / ${pct(r.loadgen_cpu_s, kind.window(r))}` : "-");
  const lat = (r) => (r ? `${num(r.p50_us)} / ${num(r.p99_us)}` : "-");
  const lost = (r) => (r ? kind.lost(r) : "-");
  console.log(`| ${label} | ${rate(t)} | ${rate(n)} | ${ratio} | ${cpu(t)} | ${cpu(n)} | ${use(t)} | ${use(n)} | ${lat(t)} | ${lat(n)} | ${lost(t)} / ${lost(n)} |`);
};
const rateOf = (file) => read(`tpcio-${file}`)?.rate ?? read(`node-${file}`)?.rate ?? "?";
row(`emit echo, ${env.CLIENTS} clients, ${env.SIZE} B (msgs/s)`, "echo", echo);
row(`ack echo, ${env.CLIENTS} clients, ${env.SIZE} B (msgs/s)`, "ack", echo);
row(`broadcast to 1 000 at ${rateOf("bcast-1k")} msg/s (deliveries/s)`, "bcast-1k", bcast);
const bound = (file) => {
  const us = read(`tpcio-${file}`)?.p99_bound_us ?? read(`node-${file}`)?.p99_bound_us;
  return us != null ? `p99 ≤ ${num(us / 1000)} ms` : "?";
};
row(`broadcast to 1 000, find-max, ${bound("bcast-1k-max")} (deliveries/s)`, "bcast-1k-max", search);
if (Number(env.BIG_CLIENTS) > 0) {
  const big = num(Number(env.BIG_CLIENTS));
  row(`broadcast to ${big} at ${rateOf("bcast-big")} msg/s (deliveries/s)`, "bcast-big", bcast);
  row(`broadcast to ${big}, find-max, ${bound("bcast-big-max")} (deliveries/s)`, "bcast-big-max", search);
}
JS
