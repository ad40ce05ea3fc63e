#!/usr/bin/env bash
# Connection state recovery measured (issue 13; not part of scripts/test.sh). Builds the release
# binaries, then, one server at a time pinned to CPU $SERVER_CPU with `tpcio-loadtest recovery`
# pinned to CPU $LOADGEN_CPU (one thread), all in the same run:
#   - latency: `tpcio bench --recovery` with 1 shard, with 2 shards (both on the same CPU), and
#     Node's `sio-bench.mjs --recovery` (socket.io 4.8 `connectionStateRecovery`): $CLIENTS
#     clients in 10 rooms cut at once, `to` events at $RATE/s for $OUTAGE s, all back at once,
#     $ROUNDS rounds; then the same with a heavy backlog ($HEAVY_RATE/s for $HEAVY_OUTAGE s);
#   - memory: $MEM_CLIENTS clients connected with 5 offset-bearing events each, then cut (the
#     sessions kept), then $MEM_BATCHES - 1 more such batches connected, sent an event and cut
#     while the earlier sessions are kept (their connections reuse the memory the batch before
#     freed, so the growth is the kept sessions'), on tpcio (1 shard) and Node, with and
#     without recovery (sessions kept 10 minutes, so none expires meanwhile).
# A run that loses, repeats or reorders an event, or gets a fresh socket, fails (exit status 1).
#
# Results: loadtest/results/recovery-<UTC time>/ and loadtest/results/recovery-latest/
# (recovery.md, one JSON report per run, the commands, the logs).
#
# Usage: scripts/recovery.sh   (environment: RECOVERY_CLIENTS 1000, RECOVERY_ROUNDS 3,
# RECOVERY_OUTAGE 3, RECOVERY_RATE 100, RECOVERY_HEAVY_RATE 500, RECOVERY_HEAVY_OUTAGE 10,
# RECOVERY_MEM_CLIENTS 10000, RECOVERY_MEM_BATCHES 4, RECOVERY_PORT 29520, SERVER_CPU 0, LOADGEN_CPU 1)
set -euo pipefail
cd "$(dirname "$0")/.."

CLIENTS=${RECOVERY_CLIENTS:-1000}
ROUNDS=${RECOVERY_ROUNDS:-3}
OUTAGE=${RECOVERY_OUTAGE:-3}
RATE=${RECOVERY_RATE:-100}
HEAVY_RATE=${RECOVERY_HEAVY_RATE:-500}
HEAVY_OUTAGE=${RECOVERY_HEAVY_OUTAGE:-10}
MEM_CLIENTS=${RECOVERY_MEM_CLIENTS:-10000}
MEM_BATCHES=${RECOVERY_MEM_BATCHES:-4}
# Below the ephemeral range (32768-60999 by default), so no client socket holds it.
PORT=${RECOVERY_PORT:-29520}
SERVER_CPU=${SERVER_CPU:-0}
LOADGEN_CPU=${LOADGEN_CPU:-1}
# Loopback source addresses the clients spread over, so the runs' TIME_WAIT sockets do not
# exhaust the ephemeral ports.
SOURCES=8

need_cmd() { command -v "$1" >/dev/null 2>&1 || { echo "error: '$1' is required: $2" >&2; exit 2; }; }
need_cmd cargo "install Rust (rustup) 1.88 or newer"
need_cmd taskset "install util-linux"
need_cmd node "run scripts/setup.sh (it installs nodejs and npm)"
need_cmd jq "apt-get install jq"

cargo build --release -p tpcio -p tpcio-loadtest
# The server serves the Socket.IO browser client and will not start without it.
[ -d client/node_modules/socket.io-client/dist ] || npm ci --prefix client --no-audit --no-fund --loglevel=error
[ -d loadtest/node-reference/node_modules/socket.io ] ||
  npm ci --prefix loadtest/node-reference --no-audit --no-fund --loglevel=error
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

OUT=loadtest/results/recovery-$(date -u +%Y-%m-%dT%H%M%SZ)
mkdir -p "$OUT/logs"
# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh
trap 'exit 130' INT
trap 'exit 143' TERM

FAILED=0
LOAD_ARGS=()
RUN=
# bench_server's callback: one `tpcio-loadtest recovery` run against the server just started.
measure() {
  local name=$RUN pid=$2 port=$3
  local args=(recovery --url "http://127.0.0.1:$port/socket.io/" --server-pid "$pid" --sources "$SOURCES" "${LOAD_ARGS[@]}")
  echo "$name: taskset -c $LOADGEN_CPU tpcio-loadtest ${args[*]}" >>"$OUT/commands.txt"
  echo "== $name (server pid $pid on CPU $SERVER_CPU)" >&2
  if ! taskset -c "$LOADGEN_CPU" target/release/tpcio-loadtest "${args[@]}" >"$OUT/$name.json" 2>"$OUT/logs/$name-loadgen.log"; then
    FAILED=1
    echo "error: $name failed (see $OUT/logs/$name-loadgen.log)" >&2
  fi
  grep -E '^recovery|FAILED|tpcio-loadtest:' "$OUT/logs/$name-loadgen.log" >&2 || true
  # Let the server's sockets close before it is stopped.
  sleep 1
}
# `server NAME COMMAND...`: bench_server with the server's own log name.
server() {
  local name=$1
  shift
  RUN=$name
  echo "$name: taskset -c $SERVER_CPU $*" >>"$OUT/commands.txt"
  bench_server "logs/$name-server" "$PORT" "$@"
}

TPCIO=(target/release/tpcio bench --host 127.0.0.1 --port "$PORT")
NODE=(node loadtest/node-reference/sio-bench.mjs "$PORT")
port_free "$PORT"
{
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
  echo "machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), load average $(cut -d' ' -f1-3 /proc/loadavg) at the start"
  echo "pinning: servers taskset -c $SERVER_CPU, load generator taskset -c $LOADGEN_CPU"
} >"$OUT/commands.txt"

for load in light heavy; do
  case $load in
    light) BASE=(--clients "$CLIENTS" --rounds "$ROUNDS" --outage "$OUTAGE" --rate "$RATE") ;;
    heavy) BASE=(--clients "$CLIENTS" --rounds "$ROUNDS" --outage "$HEAVY_OUTAGE" --rate "$HEAVY_RATE") ;;
  esac
  LOAD_ARGS=("${BASE[@]}" --shards 1)
  server "tpcio-1-$load" "${TPCIO[@]}" --shards 1 --cpus "$SERVER_CPU" --recovery
  LOAD_ARGS=("${BASE[@]}" --shards 2)
  server "tpcio-2-$load" "${TPCIO[@]}" --shards 2 --no-pin --recovery
  LOAD_ARGS=("${BASE[@]}")
  server "node-$load" "${NODE[@]}" --recovery
done

# Sessions kept 10 minutes, so none expires while the batches connect.
LOAD_ARGS=(--clients "$MEM_CLIENTS" --rounds 0 --warm 5 --batches "$MEM_BATCHES")
server tpcio-1-memory-on "${TPCIO[@]}" --shards 1 --cpus "$SERVER_CPU" --recovery-max-disconnection-duration 600000
server tpcio-1-memory-off "${TPCIO[@]}" --shards 1 --cpus "$SERVER_CPU"
server node-memory-on "${NODE[@]}" --recovery=600000
server node-memory-off "${NODE[@]}"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/commands.txt"

# --- the summary ------------------------------------------------------------------------------
{
  echo "# Connection state recovery"
  echo
  sed 's/^/- /' "$OUT/commands.txt" | grep -v '^- .*: taskset' || true
  echo "- latency runs: $CLIENTS clients in 10 rooms, $ROUNDS rounds; light: \`to\` events at $RATE/s for $OUTAGE s of outage; heavy: $HEAVY_RATE/s for $HEAVY_OUTAGE s"
  echo "- exact commands: commands.txt"
  echo
  echo "## Latency (reconnection start → CONNECT answer with the same sid and every missed event)"
  echo
  echo "| run | rounds recovered / fresh / failed | events missed per client | violations | p50 ms | p99 ms | max ms | per round p50 / p99 / max ms | all back ms (per round) | other shard | server CPU µs per recovery |"
  echo "|---|---|---:|---:|---:|---:|---:|---|---|---:|---:|"
  for f in "$OUT"/*-light.json "$OUT"/*-heavy.json; do
    [ -s "$f" ] || continue
    name=$(basename "$f" .json)
    jq -r --arg name "$name" '
      def ms: if . == null then "-" else (. / 1000 | . * 10 | round / 10 | tostring) end;
      "| \($name) | \(.recovered) / \(.fresh) / \(.failed) | \((.rounds[0].replayed // 0) / ((.rounds[0].recovered // 1) | if . == 0 then 1 else . end) | round) | \(.violations) | \(.latency.p50_us | ms) | \(.latency.p99_us | ms) | \(.latency.max_us | ms) | \([.rounds[] | "\(.latency.p50_us | ms) / \(.latency.p99_us | ms) / \(.latency.max_us | ms)"] | join("; ")) | \([.rounds[] | .all_back_ms | round | tostring] | join(", ")) | \([.rounds[] | .other_shard // "-" | tostring] | join(", ")) | \([.rounds[] | select(.server_cpu_s != null and .recovered > 0) | .server_cpu_s * 1e6 / .recovered | round | tostring] | join(", ")) |"
    ' "$f"
  done
  echo
  echo "## Memory ($MEM_CLIENTS clients a batch, 5 offset-bearing events each; resident set of the server after 2 s of settling)"
  echo
  echo "| run | before MB | connected MB | away MB, after each of $MEM_BATCHES batches | per connected socket KB | per kept session KB |"
  echo "|---|---:|---:|---|---:|---:|"
  for f in "$OUT"/*-memory-*.json; do
    [ -s "$f" ] || continue
    jq -r --arg name "$(basename "$f" .json)" '
      def mb: if . == null then "-" else (. / 1048576 * 10 | round / 10 | tostring) end;
      def kb: if . == null then "-" else (. / 1024 * 100 | round / 100 | tostring) end;
      "| \($name) | \(.server_before.rss_bytes | mb) | \(.server_connected.rss_bytes | mb) | \([.server_away_batches[].rss_bytes | mb] | join(", ")) | \(.per_connected_socket.rss | kb) | \(.per_kept_session.rss | kb) |"
    ' "$f"
  done
} >"$OUT/recovery.md"
cat "$OUT/recovery.md"
rm -rf loadtest/results/recovery-latest
cp -r "$OUT" loadtest/results/recovery-latest
echo "results: $OUT (and loadtest/results/recovery-latest/)" >&2
exit "$FAILED"
