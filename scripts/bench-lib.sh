# Shared by the benchmark scripts (sourced, not run): process bookkeeping so every process a
# script starts is stopped by PID on exit, port checks, and one measured server run. Expects
# $OUT (the results folder), $SERVER_CPU, and a `measure` function from the script.

# --- processes: every one we start is stopped by PID on exit --------------------------
PIDS=()
stop_pid() {
  local pid=$1
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
}
trap cleanup EXIT

# A server we did not start must not answer in place of ours.
port_free() {
  if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
    echo "error: port $1 is already in use (set TPCIO_PORT / NODE_PORT)" >&2
    exit 1
  fi
}

# Waits (at most 10 s) until something accepts on 127.0.0.1:$1, while process $2 lives.
wait_port() {
  for _ in $(seq 100); do
    kill -0 "$2" 2>/dev/null || { echo "error: server exited early (see $OUT)" >&2; exit 1; }
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "error: nothing listens on port $1 after 10 s" >&2
  exit 1
}

# Starts a server pinned to $SERVER_CPU (`bench_server NAME PORT COMMAND...`, output in
# $OUT/NAME.log), waits for its port, runs the script's `measure NAME PID PORT`, stops it.
bench_server() {
  local name=$1 port=$2 pid
  shift 2
  taskset -c "$SERVER_CPU" "$@" >"$OUT/$name.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  wait_port "$port" "$pid"
  measure "$name" "$pid" "$port"
  stop_pid "$pid"
  PIDS=()
}
