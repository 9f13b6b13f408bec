#!/usr/bin/env bash
# A restart's unavailability (docs/operations.md §1): SIGTERM to the running process, its exit
# (the stop), a new process, until /ready answers 200 (the start), N times on a private
# redis-server. Usage: bash bench/restart.sh [runs]; START_CMD as in bench/startup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
rport=$((20000 + RANDOM % 20000)); hport=$((rport + 1))
redis-server --port "$rport" --save '' --appendonly no --daemonize no >/dev/null &
redis_pid=$!
trap 'kill "$redis_pid" 2>/dev/null || true; [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null || true' EXIT
until redis-cli -p "$rport" ping >/dev/null 2>&1; do sleep 0.05; done
export REDIS_URL="redis://127.0.0.1:$rport/0" PORT="$hport" HOST=127.0.0.1 LOG_LEVEL=warn
now_ms() { date +%s%3N; }
ready() { [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$hport/ready")" = 200 ]; }
${START_CMD:-node bin/quantum-gates.js start} >/dev/null 2>&1 & pid=$!
until ready; do sleep 0.01; done
load=$(cut -d' ' -f1 /proc/loadavg)
for _ in $(seq "$runs"); do
  sleep 1
  t0=$(now_ms); kill -TERM "$pid"; wait "$pid" || true; t1=$(now_ms)
  ${START_CMD:-node bin/quantum-gates.js start} >/dev/null 2>&1 & pid=$!
  until ready; do sleep 0.01; done; t2=$(now_ms)
  echo "restart $((t2 - t0)) ms (stop $((t1 - t0)), start-to-ready $((t2 - t1)))"
done
echo "load $load -> $(cut -d' ' -f1 /proc/loadavg)"
