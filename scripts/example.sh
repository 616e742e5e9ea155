#!/usr/bin/env bash
# Runs walnut on the bundled example config (conf/walnut.yml) in the foreground:
#   scripts/example.sh [extra walnut arguments, e.g. -v 6]
# Installs what is missing (npm packages; redis-server and memcached from Debian packages),
# builds, starts a local redis-server / memcached for each 127.0.0.1 backend in the config on
# which nothing listens yet, runs walnut, and on exit (normal, Ctrl-C, TERM, HUP) stops exactly
# the backends it started. Logs of those backends go to .walnut-run/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
WALNUT_SCRIPT=example
# shellcheck source=scripts/setup.sh
source scripts/setup.sh

CONFIG=${WALNUT_CONFIG:-conf/walnut.yml}
RUN_DIR="$PWD/.walnut-run"
STOP_GRACE_SECONDS=5
STARTED_PIDS=()
STARTED_NAMES=()
WALNUT_PID=

# Prints "redis PORT" / "memcache PORT" for every server on 127.0.0.1/localhost in the config.
# A pool is redis when it has `redis: true`; servers are `- host:port:weight [name]`.
local_backends() {
  awk '
    function flush(   i) {
      for (i = 0; i < n; i++) print (redis ? "redis" : "memcache"), ports[i]
      n = 0; redis = 0
    }
    /^[^[:space:]#-][^:]*:/ { flush(); next }
    /^[[:space:]]+redis[[:space:]]*:[[:space:]]*["'\'']?true["'\'']?[[:space:]]*(#.*)?$/ { redis = 1 }
    /^[[:space:]]+-[[:space:]]/ {
      s = $0
      sub(/^[[:space:]]+-[[:space:]]*/, "", s); sub(/[[:space:]]+#.*/, "", s); gsub(/["'\'']/, "", s)
      split(s, words, " "); k = split(words[1], f, ":")
      if (k == 3 && (f[1] == "127.0.0.1" || f[1] == "localhost")) ports[n++] = f[2]
    }
    END { flush() }
  ' "$1" | sort -u
}

# True when something accepts TCP connections on 127.0.0.1:$1.
listening() {
  timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# Stops one process we started: TERM, then KILL after STOP_GRACE_SECONDS. (bash reaps its
# children as they exit, so `kill -0` fails as soon as the process is gone.)
stop_pid() {
  local pid=$1 name=$2 i
  if kill -0 "$pid" 2>/dev/null; then
    walnut_log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < STOP_GRACE_SECONDS * 10; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      walnut_log "$name still running after ${STOP_GRACE_SECONDS}s, sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local i
  # finish cleaning up even if another Ctrl-C comes
  trap '' INT TERM HUP
  trap - EXIT
  if [[ -n "$WALNUT_PID" ]]; then stop_pid "$WALNUT_PID" walnut; fi
  for ((i = ${#STARTED_PIDS[@]} - 1; i >= 0; i--)); do
    stop_pid "${STARTED_PIDS[i]}" "${STARTED_NAMES[i]}"
  done
}

# A signal to this script: pass it on to walnut, let it finish, then clean up and exit.
on_signal() {
  local sig=$1 code=$2
  walnut_log "got SIG$sig"
  if [[ -n "$WALNUT_PID" ]] && kill -0 "$WALNUT_PID" 2>/dev/null; then
    kill -s "$sig" "$WALNUT_PID" 2>/dev/null || true
    wait "$WALNUT_PID" 2>/dev/null || true
  fi
  WALNUT_PID=
  exit "$code"
}

trap cleanup EXIT
trap 'on_signal INT 130' INT
trap 'on_signal TERM 143' TERM
trap 'on_signal HUP 129' HUP

start_backend() {
  local kind=$1 port=$2 log pid i args
  if listening "$port"; then
    walnut_log "$kind: something already listens on 127.0.0.1:$port, using it"
    return 0
  fi
  mkdir -p "$RUN_DIR"
  case "$kind" in
  redis)
    log="$RUN_DIR/redis-$port.log"
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
      --dir "$RUN_DIR" --logfile "$log" </dev/null &
    ;;
  memcache)
    log="$RUN_DIR/memcached-$port.log"
    args=(-p "$port" -l 127.0.0.1 -U 0)
    # memcached refuses to run as root unless told which user to be
    if [[ ${EUID} -eq 0 ]]; then args+=(-u root); fi
    memcached "${args[@]}" </dev/null >"$log" 2>&1 &
    ;;
  esac
  pid=$!
  STARTED_PIDS+=("$pid")
  STARTED_NAMES+=("$kind on 127.0.0.1:$port")
  for ((i = 0; i < 100; i++)); do
    if listening "$port"; then
      walnut_log "started $kind on 127.0.0.1:$port (pid $pid, log $log)"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  tail -n 20 "$log" >&2 || true
  walnut_die "$kind on 127.0.0.1:$port did not start (log: $log)"
}

[[ -f "$CONFIG" ]] || walnut_die "config $CONFIG not found"
walnut_require_node
walnut_ensure_node_modules
walnut_ensure_binaries redis-server:redis-server memcached:memcached

walnut_log "building (npm run build)"
npm run build --silent || walnut_die "build failed (see the tsc errors above)"
[[ -f dist/src/cli/main.js ]] || walnut_die "dist/src/cli/main.js missing after the build"

while read -r kind port; do
  [[ -n "$kind" ]] && start_backend "$kind" "$port"
done < <(local_backends "$CONFIG")

walnut_log "running: node dist/src/cli/main.js -c $CONFIG $* (Ctrl-C to stop)"
# In the background plus `wait`, so that a TERM to this script is handled at once; node
# restores default signal handling, so walnut still gets Ctrl-C from the terminal.
node dist/src/cli/main.js -c "$CONFIG" "$@" &
WALNUT_PID=$!
status=0
wait "$WALNUT_PID" || status=$?
WALNUT_PID=
walnut_log "walnut exited with status $status"
exit "$status"
