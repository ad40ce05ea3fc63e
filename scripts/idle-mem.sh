#!/usr/bin/env bash
# Idle memory per Socket.IO WebSocket connection, and what is given back after they close,
# for one or more server binaries, interleaved round by round (issue 16 part 3).
#
#   scripts/idle-mem.sh [--rounds N] [--clients N] LABEL=PATH [LABEL=PATH ...]
#
# Each run: `PATH bench --shards 1` alone on CPU 0 ($SERVER_CPU), VmRSS read when it listens;
# `tpcio-loadtest idle` ($LOADTEST, default target/release/tpcio-loadtest) on CPU 1 ($LOAD_CPU)
# holds N clients (default 15 000, two source addresses), its JSON line gives the RSS per
# connection; VmRSS again 4 s after every client closed; the server is stopped by PID. Output:
# one line per run, then per binary the medians with min-max, and the JSON lines in $OUT.
# Run it under the CPU lock where builds share the machine: `flock /tmp/cpu.lock scripts/idle-mem.sh ...`.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=3
CLIENTS=15000
while [[ $# -gt 0 && $1 == --* ]]; do
  case $1 in
    --rounds) ROUNDS=$2; shift 2 ;;
    --clients) CLIENTS=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[[ $# -gt 0 ]] || { echo "usage: $0 [--rounds N] [--clients N] LABEL=PATH..." >&2; exit 2; }

SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
PORT=${TPCIO_PORT:-4100}
LOADTEST=${LOADTEST:-target/release/tpcio-loadtest}
export TPCIO_CLIENT_DIR=${TPCIO_CLIENT_DIR:-/work/main/client/node_modules/socket.io-client/dist}
OUT=${OUT:-$(mktemp -d /tmp/idle-mem.XXXXXX)}
source scripts/bench-lib.sh

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# measure NAME PID PORT: one idle run against the server PID; appends a result line.
measure() {
  local name=$1 pid=$2 port=$3 before json per after
  before=$(rss_kb "$pid")
  json=$(taskset -c "$LOAD_CPU" "$LOADTEST" idle --url "http://127.0.0.1:$port/socket.io/" \
    --clients "$CLIENTS" --duration 2 --server-pid "$pid" --sources 2 2>>"$OUT/$name.err")
  echo "$json" >>"$OUT/$name.json"
  sleep 4
  after=$(rss_kb "$pid")
  per=$(jq -r '.server_per_connection.rss' <<<"$json")
  local held connected
  held=$(jq -r '.server_after.rss_bytes / 1024 | floor' <<<"$json")
  connected=$(jq -r '.alive_at_reading' <<<"$json")
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$per" "$before" "$held" "$after" "$connected" | tee -a "$OUT/runs.tsv"
}

printf 'binary\tper_conn_B\trss_start_KB\trss_held_KB\trss_4s_after_KB\talive\n'
for round in $(seq "$ROUNDS"); do
  for spec in "$@"; do
    label=${spec%%=*} bin=${spec#*=}
    port_free "$PORT"
    bench_server "$label" "$PORT" "$bin" bench --port "$PORT" --shards 1 --cpus "$SERVER_CPU" --log warn
  done
done

echo "# medians (min-max) over $ROUNDS rounds, $CLIENTS clients; results in $OUT"
for spec in "$@"; do
  label=${spec%%=*}
  awk -v l="$label" -F'\t' '$1 == l' "$OUT/runs.tsv" | python3 -c '
import sys, statistics as st
rows = [l.split("\t") for l in sys.stdin.read().split("\n") if l]
label = rows[0][0]
def f(i, scale=1, fmt="{:.0f}"):
    v = sorted(float(r[i]) / scale for r in rows)
    return (fmt + " ({}-{})").format(st.median(v), fmt.format(v[0]), fmt.format(v[-1]))
mb = "{:.1f}"
start = [float(r[2]) for r in rows]; after = [float(r[4]) for r in rows]
ret = sorted(100 * (a - s) / s for s, a in zip(start, after))
print(f"{label}: per connection {f(1)} B; RSS start {f(2, 1024, mb)} MB, held {f(3, 1024, mb)} MB, "
      f"4 s after close {f(4, 1024, mb)} MB; after/start +{st.median(ret):.0f} % ({ret[0]:.0f}-{ret[-1]:.0f})")
'
done
