#!/usr/bin/env bash
# One shard against two on this machine (issue 16 part 5; not part of scripts/test.sh). Builds
# the release binaries, then runs every scenario against a fresh `tpcio bench` server in three
# set-ups, in turn within each of $ROUNDS rounds:
#   - 1-shard:  one shard pinned to CPU 0, the load generator on CPUs 0 and 1 (two threads);
#   - 2-shards: two shards pinned to CPUs 0 and 1, the same load generator on CPUs 0 and 1;
#   - 1-apart:  one shard on CPU 0, the generator alone on CPU 1 (one thread), as
#               scripts/compare.sh runs it: the per-shard costs the model in the README uses.
# The first two share their CPUs with the generator (there are only two), so they show what a
# second shard adds and costs, not what a second core would give a server that had it alone.
# Scenarios: echo (200 clients, 4 in flight each), polling echo (50 clients), broadcasts to
# 1 000 clients at $LOW_RATE/s and at $HIGH_RATE/s, a connection storm, $IDLE_CLIENTS idle
# clients. Each server runs with `--metrics`; the cross-shard messages it sent
# (`tpcio_mesh_messages_total`, direction out) during a scenario are read after it.
#
# Results: loadtest/results/scale-<UTC time>/ and loadtest/results/scale-latest/ (scale.md, one
# JSON report per run, the commands, the logs).
#
# Usage: scripts/scale.sh   (environment: SCALE_ROUNDS 3, SCALE_DURATION 5, SCALE_LOW_RATE 200,
# SCALE_HIGH_RATE 2000, SCALE_IDLE_CLIENTS 10000, SCALE_PORT 29540)
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${SCALE_ROUNDS:-3}
DURATION=${SCALE_DURATION:-5}
# Broadcasts per second to 1 000 clients: a low rate, and one near what one shard sustains.
LOW_RATE=${SCALE_LOW_RATE:-200}
HIGH_RATE=${SCALE_HIGH_RATE:-2000}
IDLE_CLIENTS=${SCALE_IDLE_CLIENTS:-10000}
# Below the ephemeral range (32768-60999 by default), so no client socket holds it.
PORT=${SCALE_PORT:-29540}
# Loopback source addresses the clients spread over, so TIME_WAIT sockets do not exhaust the
# ephemeral ports.
SOURCES=8

need_cmd() { command -v "$1" >/dev/null 2>&1 || { echo "error: '$1' is required: $2" >&2; exit 2; }; }
need_cmd cargo "install Rust (rustup) 1.88 or newer"
need_cmd taskset "install util-linux"
need_cmd curl "apt-get install curl"
need_cmd jq "apt-get install jq"
[ "$(nproc)" -ge 2 ] || { echo "error: two CPUs are needed (this machine has $(nproc))" >&2; exit 2; }

cargo build --release -p tpcio -p tpcio-loadtest
# The server serves the Socket.IO browser client and will not start without it.
[ -d client/node_modules/socket.io-client/dist ] || npm ci --prefix client --no-audit --no-fund --loglevel=error
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

OUT=loadtest/results/scale-$(date -u +%Y-%m-%dT%H%M%SZ)
mkdir -p "$OUT/logs"
SERVER_CPU=0
# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh
trap 'exit 130' INT
trap 'exit 143' TERM

# Shard-to-shard messages sent so far (every shard's `out` direction), from /metrics.
mesh_sent() {
  curl -sf "http://127.0.0.1:$PORT/metrics" |
    awk '$1 ~ /^tpcio_mesh_messages_total\{/ && $1 ~ /direction="out"/ { s += $2 } END { printf "%d", s }'
}

FAILED=0
RUN=
LOADGEN_CPUS=
LOAD_ARGS=()
# bench_server's callback: one `tpcio-loadtest` run against the server just started, its JSON
# report extended with the setup and the cross-shard messages it caused.
measure() {
  local pid=$2 port=$3 before after
  local args=("${LOAD_ARGS[@]}" --server-pid "$pid")
  args=("${args[0]}" --url "http://127.0.0.1:$port/socket.io/" "${args[@]:1}")
  echo "$RUN: taskset -c $LOADGEN_CPUS tpcio-loadtest ${args[*]}" >>"$OUT/commands.txt"
  echo "== $RUN (server pid $pid on CPU $SERVER_CPU, generator on CPU $LOADGEN_CPUS)" >&2
  before=$(mesh_sent)
  if ! taskset -c "$LOADGEN_CPUS" target/release/tpcio-loadtest "${args[@]}" >"$OUT/$RUN.raw.json" 2>"$OUT/logs/$RUN-loadgen.log"; then
    FAILED=1
    echo "error: $RUN failed (see $OUT/logs/$RUN-loadgen.log)" >&2
  fi
  after=$(mesh_sent)
  jq -c --argjson mesh "$((after - before))" --arg run "$RUN" '. + {run: $run, mesh_messages: $mesh}' \
    "$OUT/$RUN.raw.json" >"$OUT/$RUN.json" 2>/dev/null || cp "$OUT/$RUN.raw.json" "$OUT/$RUN.json"
  rm -f "$OUT/$RUN.raw.json"
  # Let the server's sockets close before it is stopped.
  sleep 1
}

{
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
  echo "machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), load average $(cut -d' ' -f1-3 /proc/loadavg) at the start"
} >"$OUT/commands.txt"

for round in $(seq "$ROUNDS"); do
  for setup in 1-shard 2-shards 1-apart; do
    case $setup in
      1-shard) SERVER_CPU=0 SHARDS=(--shards 1 --cpus 0) LOADGEN_CPUS=0,1 THREADS=2 ;;
      2-shards) SERVER_CPU=0,1 SHARDS=(--shards 2 --cpus 0,1) LOADGEN_CPUS=0,1 THREADS=2 ;;
      1-apart) SERVER_CPU=0 SHARDS=(--shards 1 --cpus 0) LOADGEN_CPUS=1 THREADS=1 ;;
    esac
    for scenario in echo polling bcast-low bcast-high connect idle; do
      case $scenario in
        echo) LOAD_ARGS=(echo --clients 200 --pipeline 4 --duration "$DURATION") ;;
        polling) LOAD_ARGS=(polling --clients 50 --duration "$DURATION") ;;
        bcast-low) LOAD_ARGS=(broadcast --clients 1000 --rate "$LOW_RATE" --duration "$DURATION" --drain 2 --connect-timeout 30) ;;
        bcast-high) LOAD_ARGS=(broadcast --clients 1000 --rate "$HIGH_RATE" --duration "$DURATION" --drain 2 --connect-timeout 30) ;;
        connect) LOAD_ARGS=(connect --clients 50 --duration "$DURATION" --sources "$SOURCES") ;;
        idle) LOAD_ARGS=(idle --clients "$IDLE_CLIENTS" --settle 2 --duration 2 --sources "$SOURCES" --connect-timeout 60) ;;
      esac
      LOAD_ARGS+=(--threads "$THREADS")
      RUN=$setup-$scenario-r$round
      echo "$RUN: taskset -c $SERVER_CPU target/release/tpcio bench --port $PORT ${SHARDS[*]} --metrics" >>"$OUT/commands.txt"
      bench_server "logs/$RUN-server" "$PORT" target/release/tpcio bench --host 127.0.0.1 --port "$PORT" "${SHARDS[@]}" --metrics --log warn
    done
  done
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/commands.txt"

# --- the summary: medians over the rounds with min–max ----------------------------------------
jq -s -r '
  def med: sort | if length == 0 then null else .[(length - 1) / 2 | floor] end;
  def fmt(d): if . == null then "-" else (. * pow(10; d) | round / pow(10; d) | tostring) end;
  def cell(f; d): [.[] | f | select(. != null)] as $v
    | if ($v | length) == 0 then "-" else "\($v | med | fmt(d)) (\($v | min | fmt(d))–\($v | max | fmt(d)))" end;
  def scen: .run | capture("^(?<setup>.+?)-(?<scenario>echo|polling|bcast-low|bcast-high|connect|idle)-r") ;
  group_by(scen.scenario)[] as $rows
  | ($rows[0] | scen.scenario) as $s
  | "## \($s)\n",
    (if ($s | startswith("bcast")) then "| setup | rounds delivered in full | deliveries/s | p99 ms | server µs CPU per delivery | server CPU % | generator CPU % | cross-shard messages per broadcast |\n|---|---:|---:|---:|---:|---:|---:|---:|"
     elif $s == "idle" then "| setup | connected | server KB RSS per connection | server RSS before MB |\n|---|---:|---:|---:|"
     elif $s == "connect" then "| setup | handshakes/s | server µs CPU per handshake | server CPU % | generator CPU % | cross-shard messages per handshake |\n|---|---:|---:|---:|---:|---:|"
     else "| setup | messages/s | server µs CPU per message | server CPU % | generator CPU % | cross-shard messages per message |\n|---|---:|---:|---:|---:|---:|" end),
    ($rows | group_by(scen.setup)[] as $g | ($g[0] | scen.setup) as $setup
     | if ($s | startswith("bcast")) then "| \($setup) | \([$g[] | select(.loss == 0)] | length) of \($g | length) | \($g | cell(.deliveries_per_s; 0)) | \($g | cell(.p99_us / 1000; 1)) | \($g | cell(.server_us_per_delivery; 2)) | \($g | cell(.server_cpu_pct; 0)) | \($g | cell(.loadgen_cpu_pct; 0)) | \($g | cell(if (.sent // 0) > 0 then .mesh_messages / .sent else null end; 2)) |"
       elif $s == "idle" then "| \($setup) | \($g | cell(.alive_at_reading; 0)) | \($g | cell(.server_per_connection.rss / 1000; 2)) | \($g | cell(.server_before.rss_bytes / 1e6; 1)) |"
       elif $s == "connect" then "| \($setup) | \($g | cell(.handshakes_per_s; 0)) | \($g | cell(.server_us_per_handshake; 1)) | \($g | cell(.server_cpu_pct; 0)) | \($g | cell(.loadgen_cpu_pct; 0)) | \($g | cell(if (.handshakes // 0) > 0 then .mesh_messages / .handshakes else null end; 2)) |"
       else "| \($setup) | \($g | cell(.rate_per_s; 0)) | \($g | cell(.server_us_per_op; 2)) | \($g | cell(.server_cpu_pct; 0)) | \($g | cell(.loadgen_cpu_pct; 0)) | \($g | cell(if (.messages // 0) > 0 then .mesh_messages / .messages else null end; 3)) |" end),
    ""
' "$OUT"/*-r*.json >"$OUT/scale.body.md"
{
  echo "# One shard against two"
  echo
  sed 's/^/- /' "$OUT/commands.txt" | grep -v '^- .*: taskset' || true
  echo "- $ROUNDS rounds, set-ups in turn within each; medians with min–max; exact commands: commands.txt"
  echo
  cat "$OUT/scale.body.md"
} >"$OUT/scale.md"
rm -f "$OUT/scale.body.md"
cat "$OUT/scale.md"
rm -rf loadtest/results/scale-latest
cp -r "$OUT" loadtest/results/scale-latest
echo "results: $OUT (and loadtest/results/scale-latest/)" >&2
exit "$FAILED"
