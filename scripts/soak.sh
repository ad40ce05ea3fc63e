#!/usr/bin/env bash
# Soak and avalanche test of tpcio (not part of scripts/test.sh). Builds the release binaries,
# starts `tpcio bench` (one shard) pinned to CPU $SERVER_CPU and `tpcio-loadtest soak` pinned to
# CPU $LOADGEN_CPU; the load generator holds $SOAK_WS WebSocket and $SOAK_POLLING long-polling
# Socket.IO clients for $SOAK_SECONDS seconds of churn (sessions live a random lifetime, emit
# echo/ack and now and then a broadcast, leave and are replaced) and reads the server's VmRSS as
# it goes. When it creates its ready file, this script restarts the server (stops it by PID with
# $SOAK_SIGNAL, starts it again on the same port) and every client reconnects at once.
#
# Results: loadtest/results/soak-<UTC time>/ (soak.md, soak.json, the logs). Exit status 0 when
# the RSS grew at most 10 % after the warm-up and every client reconnected, 1 when not, 2 when
# the run could not be made.
#
# Usage: scripts/soak.sh [--seconds N] [--ws N] [--polling N] [--warmup N] [--port N]
#                        [--signal TERM|KILL] [-- extra tpcio-loadtest soak flags]
# or the environment: SOAK_SECONDS (600), SOAK_WS (15000), SOAK_POLLING (500), SOAK_WARMUP
# (30, or a tenth of a shorter run), SOAK_PORT (29410), SOAK_SIGNAL (TERM: graceful shutdown;
# KILL: a crash), SOAK_AVALANCHE_TIMEOUT (120 s), SERVER_CPU (0), LOADGEN_CPU (1).
# A short run: scripts/soak.sh --seconds 60 --ws 2000 --polling 100
set -euo pipefail
cd "$(dirname "$0")/.."

SOAK_SECONDS=${SOAK_SECONDS:-600}
SOAK_WS=${SOAK_WS:-15000}
SOAK_POLLING=${SOAK_POLLING:-500}
SOAK_WARMUP=${SOAK_WARMUP:-}
# Below the ephemeral range (32768-60999 by default), so no client socket holds it.
SOAK_PORT=${SOAK_PORT:-29410}
SOAK_SIGNAL=${SOAK_SIGNAL:-TERM}
SOAK_AVALANCHE_TIMEOUT=${SOAK_AVALANCHE_TIMEOUT:-120}
SERVER_CPU=${SERVER_CPU:-0}
LOADGEN_CPU=${LOADGEN_CPU:-1}
COMMAND="scripts/soak.sh${*:+ $*}"

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
  case $1 in
    --seconds) SOAK_SECONDS=$2; shift 2 ;;
    --ws) SOAK_WS=$2; shift 2 ;;
    --polling) SOAK_POLLING=$2; shift 2 ;;
    --warmup) SOAK_WARMUP=$2; shift 2 ;;
    --port) SOAK_PORT=$2; shift 2 ;;
    --signal) SOAK_SIGNAL=$2; shift 2 ;;
    --) shift; break ;;
    -h | --help) usage ;;
    *) echo "error: unknown argument $1" >&2; usage ;;
  esac
done
case $SOAK_SIGNAL in TERM | KILL) ;; *) echo "error: --signal is TERM or KILL" >&2; exit 2 ;; esac
if [ -z "$SOAK_WARMUP" ]; then
  SOAK_WARMUP=$((SOAK_SECONDS / 10 < 30 ? SOAK_SECONDS / 10 : 30))
  [ "$SOAK_WARMUP" -ge 1 ] || SOAK_WARMUP=1
fi

need_cmd() { command -v "$1" >/dev/null 2>&1 || { echo "error: '$1' is required: $2" >&2; exit 2; }; }
need_cmd cargo "install Rust (rustup) 1.88 or newer"
need_cmd taskset "install util-linux"
if [ "$(nproc)" -lt 2 ]; then
  echo "warning: fewer than 2 CPUs: server and load generator share CPU 0" >&2
  SERVER_CPU=0 LOADGEN_CPU=0
fi

cargo build --release -p tpcio -p tpcio-loadtest
# The server serves the Socket.IO browser client and will not start without it.
if [ ! -d client/node_modules/socket.io-client/dist ]; then
  need_cmd npm "run scripts/setup.sh (it installs nodejs and npm, then the client)"
  npm ci --prefix client --no-audit --no-fund --loglevel=error
fi

# The server inherits this shell's open-file limit: it holds one socket per WebSocket client
# and two per polling client (the load generator raises its own).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)
NEEDED=$((SOAK_WS + 2 * SOAK_POLLING + 256))
if [ "$NOFILE" != unlimited ] && [ "$NOFILE" -lt "$NEEDED" ]; then
  echo "error: open-file limit $NOFILE, the run needs about $NEEDED: fewer clients, or raise ulimit -Hn" >&2
  exit 2
fi

OUT=loadtest/results/soak-$(date -u +%Y-%m-%dT%H%M%SZ)
mkdir -p "$OUT"

# --- processes: every one we start is stopped by PID on exit, Ctrl-C and TERM included ----
# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh
trap 'exit 130' INT
trap 'exit 143' TERM

SERVER_PID=
# Starts the server pinned to $SERVER_CPU, output in $OUT/server-$1.log; sets SERVER_PID.
start_server() {
  taskset -c "$SERVER_CPU" target/release/tpcio bench --host 127.0.0.1 --port "$SOAK_PORT" --shards 1 \
    >"$OUT/server-$1.log" 2>&1 &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  wait_port "$SOAK_PORT" "$SERVER_PID"
}

# Stops the server by PID with $SOAK_SIGNAL, waiting at most 30 s before SIGKILL; says how in HOW.
HOW=
stop_server() {
  local pid=$1 status=0
  kill "-$SOAK_SIGNAL" "$pid" 2>/dev/null || { HOW="was already gone"; return 0; }
  for _ in $(seq 300); do
    if ! kill -0 "$pid" 2>/dev/null; then
      wait "$pid" 2>/dev/null || status=$?
      HOW="exited (status $status)"
      return 0
    fi
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  HOW="did not exit within 30 s of SIG$SOAK_SIGNAL: killed"
}

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
last_line() { tail -n 1 "$OUT/loadgen.log" 2>/dev/null || true; }

port_free "$SOAK_PORT"
start_server 1
FIRST_PID=$SERVER_PID
echo "server pid $FIRST_PID on 127.0.0.1:$SOAK_PORT (CPU $SERVER_CPU); results in $OUT" >&2

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
LOADGEN_ARGS=(
  soak --url "http://127.0.0.1:$SOAK_PORT/socket.io/" --server-pid "$FIRST_PID"
  --ws-clients "$SOAK_WS" --polling-clients "$SOAK_POLLING" --duration "$SOAK_SECONDS"
  --warmup "$SOAK_WARMUP" --avalanche-timeout "$SOAK_AVALANCHE_TIMEOUT"
  --ready-file "$OUT/ready" --out "$OUT"
  --note "command: \`$COMMAND\` ($(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(date -u '+%Y-%m-%d %H:%M UTC'))"
  --note "pinning: \`taskset -c $SERVER_CPU tpcio bench --shards 1\`, \`taskset -c $LOADGEN_CPU tpcio-loadtest soak\` (one thread); restart by SIG$SOAK_SIGNAL"
  --note "machine: $(nproc) CPUs, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), load average $LOAD_START at the start (other processes share it)"
  "$@"
)
echo "tpcio-loadtest ${LOADGEN_ARGS[*]}" >"$OUT/command.txt"
taskset -c "$LOADGEN_CPU" target/release/tpcio-loadtest "${LOADGEN_ARGS[@]}" \
  >"$OUT/loadgen.json" 2>"$OUT/loadgen.log" &
LOADGEN_PID=$!
PIDS+=("$LOADGEN_PID")

# --- churn: wait for the ready file (bounded: connecting, the churn, the settling) ---------
DEADLINE=$(($(date +%s) + 180 + SOAK_SECONDS + 60))
NEXT_SHOW=0
while [ ! -e "$OUT/ready" ]; do
  if ! kill -0 "$LOADGEN_PID" 2>/dev/null; then
    echo "error: the load generator ended before the restart (see $OUT/loadgen.log):" >&2
    tail -n 20 "$OUT/loadgen.log" >&2
    RC=0
    wait "$LOADGEN_PID" || RC=$?
    [ "$RC" -eq 0 ] && RC=1
    exit "$RC"
  fi
  if [ "$(date +%s)" -ge "$DEADLINE" ]; then
    echo "error: no ready file after $((180 + SOAK_SECONDS + 60)) s" >&2
    exit 1
  fi
  if [ "$(date +%s)" -ge "$NEXT_SHOW" ]; then
    last_line >&2
    NEXT_SHOW=$(($(date +%s) + 30))
  fi
  sleep 0.2
done
last_line >&2

# --- avalanche: restart the server on the same port --------------------------------------
T_STOP=$(now)
stop_server "$FIRST_PID"
STOP_S=$(since "$T_STOP")
PIDS=("$LOADGEN_PID")
T_START=$(now)
STARTED_UTC=$(date -u +%H:%M:%S.%N)
start_server 2
START_S=$(since "$T_START")
echo "server restarted: old pid $FIRST_PID $HOW after ${STOP_S} s; new pid $SERVER_PID listening after ${START_S} s more" >&2

DEADLINE=$(($(date +%s) + SOAK_AVALANCHE_TIMEOUT + 90))
while kill -0 "$LOADGEN_PID" 2>/dev/null; do
  if [ "$(date +%s)" -ge "$DEADLINE" ]; then
    echo "error: the load generator did not finish after the restart" >&2
    exit 1
  fi
  sleep 0.2
done
RC=0
wait "$LOADGEN_PID" || RC=$?
ALIVE=yes
kill -0 "$SERVER_PID" 2>/dev/null || ALIVE="no (see $OUT/server-2.log)"

{
  echo
  echo "## Restart (scripts/soak.sh)"
  echo
  echo "- old server (pid $FIRST_PID) stopped with SIG$SOAK_SIGNAL: $HOW after $STOP_S s"
  echo "- new server (pid $SERVER_PID) started at $STARTED_UTC UTC, listening $START_S s later on the same port (its log has the time it bound); alive at the end: $ALIVE"
  echo "- load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
} >>"$OUT/soak.md"
printf '{"old_pid":%s,"signal":"%s","stop":"%s","stop_s":%s,"new_pid":%s,"new_started_utc":"%s","start_s":%s,"new_alive":%s}\n' \
  "$FIRST_PID" "$SOAK_SIGNAL" "$HOW" "$STOP_S" "$SERVER_PID" "$STARTED_UTC" "$START_S" \
  "$([ "$ALIVE" = yes ] && echo true || echo false)" >"$OUT/restart.json"
rm -f "$OUT/ready"

echo >&2
cat "$OUT/soak.md" 2>/dev/null || tail -n 30 "$OUT/loadgen.log" >&2
if [ "$ALIVE" != yes ] && [ "$RC" -eq 0 ]; then RC=1; fi
echo "results: $OUT (exit $RC)" >&2
exit "$RC"
