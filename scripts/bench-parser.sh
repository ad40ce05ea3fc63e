#!/usr/bin/env bash
# Server CPU per Socket.IO message with the JSON and the msgpack parser, tpcio and the Node
# reference, in one run: each server in turn on CPU 0 (tpcio `bench --shards 1 --cpus 0`,
# `node sio-bench.mjs` with SIO_PARSER), the client (tests/js/bench_parser.mjs, socket.io-client
# 4 over WebSocket) on CPU 1; echo then broadcast, for each parser. Loopback only; every run is
# bounded by SECONDS. Needs a release build (`cargo build --release`) and `npm ci` in tests/js
# and loadtest/node-reference.
# Usage: scripts/bench-parser.sh [SECONDS=10] [ECHO_CLIENTS=50] [BROADCAST_CLIENTS=500]
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_WINDOW=${1:-10}
ECHO_CLIENTS=${2:-50}
BROADCAST_CLIENTS=${3:-500}
PORT=${PORT:-3917}
BIN=${BIN:-target/release/tpcio}

wait_port() {
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "server did not listen on $PORT" >&2
  return 1
}

run_one() { # server parser scenario clients
  local server=$1 parser=$2 scenario=$3 clients=$4 pid
  if [ "$server" = tpcio ]; then
    taskset -c 0 "$BIN" bench --port "$PORT" --host 127.0.0.1 --shards 1 --cpus 0 --parser "$parser" --log warn &
  else
    (cd loadtest/node-reference && SIO_PARSER=$parser exec taskset -c 0 node sio-bench.mjs "$PORT") &
  fi
  pid=$!
  wait_port
  local out
  out=$(cd tests/js && taskset -c 1 node bench_parser.mjs "$PORT" "$pid" "$parser" "$scenario" "$clients" "$SECONDS_WINDOW" || true)
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  echo "{\"server\":\"$server\",${out#\{}"
}

for scenario in echo broadcast; do
  clients=$ECHO_CLIENTS
  [ "$scenario" = broadcast ] && clients=$BROADCAST_CLIENTS
  for server in tpcio node; do
    for parser in json msgpack; do
      run_one "$server" "$parser" "$scenario" "$clients"
    done
  done
done
