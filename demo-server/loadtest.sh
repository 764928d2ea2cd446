#!/usr/bin/env bash
# Load-tests demo-server with wrk and checks that the backend limit held.
#
# Installs nothing. Needs wrk and curl:   apt-get install -y wrk curl
#
# Usage (from the repository root):
#   demo-server/loadtest.sh                       # against a server already running on :8080
#   START_SERVER=1 demo-server/loadtest.sh        # starts demo-server/target/demo-server.jar itself
#
# Environment (defaults in brackets):
#   URL            target [http://127.0.0.1:8080/api/items/42]
#   DURATION       wrk duration [15s]   (keep it short on shared machines)
#   CONNECTIONS    open connections [64]
#   THREADS        wrk threads [2]
#   START_SERVER   1: start the shaded jar on URL's port and stop it afterwards [0]
#   SERVER_ARGS    extra flags for the started server, e.g. "--max-concurrent=32 --backend-latency=5ms"
#   JAR            [demo-server/target/demo-server.jar]
#
# Prints wrk's summary (requests/s, latency percentiles, responses per status), then the
# limiter's figures from /metrics: the limit, the peak of concurrent backend calls since the
# server started (demo_limiter_in_flight_peak), the highest in-flight value sampled every 200 ms
# during the run, and the rejections. Exits 1 if the peak exceeded the limit. With
# --max-concurrent=0 the limit is exported as +Inf and there is nothing to check.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
URL="${URL:-http://127.0.0.1:8080/api/items/42}"
DURATION="${DURATION:-15s}"
CONNECTIONS="${CONNECTIONS:-64}"
THREADS="${THREADS:-2}"
START_SERVER="${START_SERVER:-0}"
SERVER_ARGS="${SERVER_ARGS:-}"
JAR="${JAR:-$here/target/demo-server.jar}"

for tool in wrk curl; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "loadtest.sh: $tool not found; install it with: apt-get install -y wrk curl" >&2
    exit 2
  fi
done

base="$(printf '%s' "$URL" | sed -E 's#^(https?://[^/]+).*#\1#')"
port="$(printf '%s' "$base" | sed -E 's#^https?://[^:/]+:?([0-9]*)$#\1#')"
port="${port:-80}"

server_pid=""
sampler_pid=""
cleanup() {
  if [ -n "$sampler_pid" ]; then kill "$sampler_pid" 2>/dev/null || true; fi
  if [ -n "$server_pid" ]; then
    kill -TERM "$server_pid" 2>/dev/null || true   # graceful shutdown
    wait "$server_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT

if [ "$START_SERVER" = "1" ]; then
  if [ ! -f "$JAR" ]; then
    echo "loadtest.sh: $JAR missing; build it: mvn -B -ntp -pl netty-sync,demo-server -am package -DskipTests" >&2
    exit 2
  fi
  # shellcheck disable=SC2086
  java -jar "$JAR" --host=127.0.0.1 --port="$port" $SERVER_ARGS > /tmp/demo-server-loadtest.log 2>&1 &
  server_pid=$!
  echo "started demo-server (pid $server_pid), log in /tmp/demo-server-loadtest.log"
fi

metric() {   # metric NAME_WITH_LABELS: its value in /metrics, as an integer, or +Inf (empty if absent)
  curl -fsS "$base/metrics" | awk -v m="$1" '$1 == m { if ($2 == "+Inf") print "+Inf"; else printf "%d\n", $2 }'
}

echo "waiting for $base/readyz ..."
for _ in $(seq 1 150); do
  if [ "$(curl -s -o /dev/null -w '%{http_code}' "$base/readyz" || true)" = "200" ]; then break; fi
  sleep 0.2
done
if [ "$(curl -s -o /dev/null -w '%{http_code}' "$base/readyz" || true)" != "200" ]; then
  echo "loadtest.sh: $base/readyz is not 200 after 30 s" >&2
  exit 1
fi
grep -m1 "listening on" /tmp/demo-server-loadtest.log 2>/dev/null | sed 's/^.* - /server: /' || true

limit="$(metric 'nettysync_limiter_limit{limiter="backend"}')"
samples="$(mktemp)"
( while true; do metric demo_limiter_in_flight >> "$samples" 2>/dev/null || true; sleep 0.2; done ) &
sampler_pid=$!

echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency -s $here/loadtest/status-count.lua $URL"
wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$here/loadtest/status-count.lua" "$URL"

kill "$sampler_pid" 2>/dev/null || true
wait "$sampler_pid" 2>/dev/null || true
sampler_pid=""

peak="$(metric demo_limiter_in_flight_peak)"
sampled_max="$(sort -g "$samples" | tail -1)"
rm -f "$samples"
echo "---- limiter (from $base/metrics) ----"
echo "limit (max concurrent backend calls)   $limit"
echo "peak concurrent backend calls          $peak"
echo "highest in-flight sampled (200 ms)     $sampled_max"
echo "rejected: queue full                   $(metric 'demo_limiter_rejected_total{reason="queue_full"}')"
echo "rejected: queue wait exceeded          $(metric 'demo_limiter_rejected_total{reason="wait_timeout"}')"
if [ "$limit" = "+Inf" ]; then
  echo "OK: no limit (--max-concurrent=0), nothing to check"
  exit 0
fi
if awk -v p="$peak" -v l="$limit" 'BEGIN { exit !(p > l) }'; then
  echo "FAIL: peak $peak exceeded the limit $limit" >&2
  exit 1
fi
echo "OK: the peak never exceeded the limit"
