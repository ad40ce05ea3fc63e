#!/usr/bin/env bash
# Broadcast cost, before against after, in one run: server CPU per delivery at fixed broadcast
# rates to N WebSocket clients, then (optionally) the highest rate sustained with every message
# delivered and p99 within the bound.
#
#   scripts/bench-broadcast.sh BASE_BINARY NEW_BINARY [--rounds 3] [--rates "100 1000 5000"]
#       [--clients 1000] [--duration 5] [--find-max] [--out DIR]
#
# Each round runs both servers, alternating which goes first, each as
# `tpcio bench --shards 1 --cpus 0` pinned to CPU 0 (`taskset -c 0`), with
# `tpcio-loadtest broadcast` pinned to CPU 1; every server run holds /tmp/cpu.lock (flock), so
# no build runs beside a measurement. One server process per binary and round serves every rate
# of that round (the clients connect once per rate). Results: one JSON line per run in
# $OUT/runs.jsonl, and $OUT/summary.md with medians and min–max per binary and rate.
# A binary built outside a checkout with `client/node_modules` needs TPCIO_CLIENT_DIR (a
# socket.io-client `dist/` directory), e.g. /work/main/client/node_modules/socket.io-client/dist.
set -euo pipefail
cd "$(dirname "$0")/.."

[ $# -ge 2 ] || { sed -n 2,15p "$0"; exit 2; }
BASE=$1 NEW=$2
shift 2
ROUNDS=3 RATES="100 1000 5000" CLIENTS=1000 DURATION=5 FIND_MAX=0
OUT=loadtest/results/broadcast-$(date -u +%Y%m%dT%H%M%SZ)
while [ $# -gt 0 ]; do
  case $1 in
    --rounds) ROUNDS=$2; shift 2 ;;
    --rates) RATES=$2; shift 2 ;;
    --clients) CLIENTS=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --find-max) FIND_MAX=1; shift ;;
    --out) OUT=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
LOADTEST=${LOADTEST:-target/release/tpcio-loadtest}
PORT=${TPCIO_PORT:-29330}
SERVER_CPU=0
LOAD_CPU=1
mkdir -p "$OUT"
# shellcheck source=bench-lib.sh
. scripts/bench-lib.sh

{
  echo "date: $(date -u +%FT%TZ)"
  echo "base: $BASE ($(sha256sum "$BASE" | cut -c1-12))"
  echo "new: $NEW ($(sha256sum "$NEW" | cut -c1-12))"
  echo "kernel: $(uname -r); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "rounds $ROUNDS, rates $RATES, clients $CLIENTS, duration $DURATION s, find-max $FIND_MAX"
  echo "server: taskset -c $SERVER_CPU BIN bench --host 127.0.0.1 --port $PORT --shards 1 --cpus $SERVER_CPU"
  echo "generator: taskset -c $LOAD_CPU $LOADTEST broadcast --url … --clients $CLIENTS --rate R --duration $DURATION --server-pid PID"
} >"$OUT/run.txt"

ROUND=0
measure() {
  local name=$1 pid=$2 port=$3 rate
  for rate in $RATES; do
    taskset -c "$LOAD_CPU" "$LOADTEST" broadcast --url "http://127.0.0.1:$port/socket.io/" \
      --clients "$CLIENTS" --rate "$rate" --duration "$DURATION" --drain 1 --server-pid "$pid" \
      2>>"$OUT/$name.loadtest.log" |
      jq -c --arg bin "$name" --argjson round "$ROUND" '{bin: $bin, round: $round, kind: "fixed"} + .' \
        >>"$OUT/runs.jsonl"
  done
  if [ "$FIND_MAX" = 1 ]; then
    taskset -c "$LOAD_CPU" "$LOADTEST" broadcast --url "http://127.0.0.1:$port/socket.io/" \
      --clients "$CLIENTS" --rate 1000 --duration 3 --find-max --max-time 40 --p99-bound-ms 100 \
      --server-pid "$pid" 2>>"$OUT/$name.loadtest.log" |
      jq -c --arg bin "$name" --argjson round "$ROUND" '{bin: $bin, round: $round, kind: "max"} + .' \
        >>"$OUT/runs.jsonl"
  fi
}

run() {
  local name=$1 bin=$2
  port_free "$PORT"
  exec 9>>/tmp/cpu.lock
  flock 9
  bench_server "$name" "$PORT" "$bin" bench --host 127.0.0.1 --port "$PORT" --shards 1 --cpus "$SERVER_CPU"
  flock -u 9
  exec 9>&-
}

for ROUND in $(seq "$ROUNDS"); do
  if [ $((ROUND % 2)) = 1 ]; then order="base new"; else order="new base"; fi
  for which in $order; do
    if [ "$which" = base ]; then run base "$BASE"; else run new "$NEW"; fi
  done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/run.txt"

# Medians with min–max, per binary and rate.
jq -rs '
  def med: sort | if length == 0 then null else .[(length - 1) / 2 | floor] end;
  def mm(f): [.[] | f | select(. != null)] | "\(med | . * 100 | round / 100) (\(min | . * 100 | round / 100)–\(max | . * 100 | round / 100))";
  "| binary | rate/s | server µs/delivery | server CPU % | generator CPU % | deliveries/s | p99 ms | loss |",
  "|---|---|---|---|---|---|---|---|",
  (map(select(.kind == "fixed")) | group_by([.bin, .rate]) | .[] |
    "| \(.[0].bin) | \(.[0].rate) | \(mm(.server_us_per_delivery)) | \(mm(.server_cpu_pct)) | \(mm(.loadgen_cpu_pct)) | \(mm(.deliveries_per_s)) | \(mm(.p99_us / 1000)) | \(mm(.loss)) |"),
  (map(select(.kind == "max")) | group_by(.bin) | .[] |
    "| \(.[0].bin) | max sustained | \(mm(.server_us_per_delivery)) | \(mm(.server_cpu_pct)) | \(mm(.loadgen_cpu_pct)) | \(mm(.max_sustained_deliveries_per_s)) | \(mm(.p99_us / 1000)) | \(mm(.loss)) |")
' "$OUT/runs.jsonl" >"$OUT/summary.md"
cat "$OUT/run.txt" "$OUT/summary.md"
