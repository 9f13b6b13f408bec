#!/usr/bin/env bash
# Start-to-ready and CLI-call times (docs/performance.md): starts a private redis-server, then
# N times starts `node bin/quantum-gates.js start` and measures until /ready answers 200, and
# N times runs `node bin/quantum-gates.js kill status --json` against the same Redis.
# Usage: bash bench/startup.sh [runs]   (run `npm run build` first to measure the compiled code)
# START_CMD / CLI_CMD replace the two command lines, e.g. START_CMD="node dist/app/main.js"
# (the systemd unit's) or START_CMD="node --import tsx app/main.ts" (the sources).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10}
rport=$((20000 + RANDOM % 20000)); hport=$((rport + 1))
redis-server --port "$rport" --save '' --appendonly no --daemonize no >/dev/null &
redis_pid=$!
trap 'kill "$redis_pid" 2>/dev/null || true' EXIT
until redis-cli -p "$rport" ping >/dev/null 2>&1; do sleep 0.05; done
export REDIS_URL="redis://127.0.0.1:$rport/0" PORT="$hport" HOST=127.0.0.1 LOG_LEVEL=warn
now_ms() { date +%s%3N; }
ready=(); cli=()
for _ in $(seq "$runs"); do
  t0=$(now_ms)
  ${START_CMD:-node bin/quantum-gates.js start} >/dev/null 2>&1 &
  pid=$!
  until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$hport/ready")" = 200 ]; do sleep 0.01; done
  ready+=($(( $(now_ms) - t0 )))
  kill -TERM "$pid"; wait "$pid" || true
  t0=$(now_ms)
  ${CLI_CMD:-node bin/quantum-gates.js kill status --json} >/dev/null
  cli+=($(( $(now_ms) - t0 )))
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "start-to-ready ms: ${ready[*]} (median $(median "${ready[@]}"))"
echo "cli "kill status --json" ms: ${cli[*]} (median $(median "${cli[@]}"))"
