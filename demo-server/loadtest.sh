#!/usr/bin/env bash
# Load-tests demo-server with wrk and checks that the backend limit held.
#
# Installs nothing. Needs wrk and curl:   apt-get install -y wrk curl
#
# Usage (from the repository root):
#   demo-server/loadtest.sh                       # against a server already running on :8080
#   START_SERVER=1 demo-server/loadtest.sh        # starts demo-server/target/demo-server.jar itself
#   demo-server/loadtest.sh --help                # this text; the script takes no other argument
#
# Environment (defaults in brackets):
#   URL            target [http://127.0.0.1:8080/api/items/42]
#   DURATION       wrk duration [15s]   (keep it short on shared machines)
#   CONNECTIONS    open connections [64]
#   THREADS        wrk threads [2]
#   START_SERVER   1: start the shaded jar on URL's port and stop it afterwards [0]
#   SERVER_ARGS    extra flags for the started server, e.g. "--max-concurrent=32 --backend-latency=5ms"
#   JAR            [demo-server/target/demo-server.jar]
#   READY_WAIT     seconds to wait for /readyz before giving up [30]; raise it with a later
#                  database, e.g. SERVER_ARGS="--db-ready-delay=45s"
#
# Prints wrk's summary (requests/s, latency percentiles, responses per status), then the
# limiter's figures from /metrics: the limit, the peak of concurrent backend calls since the
# server started (demo_limiter_in_flight_peak), the highest in-flight value sampled every 200 ms
# during the run, and the rejections. Exits 1 if the peak exceeded the limit. With
# --max-concurrent=0 the limit is exported as +Inf and there is nothing to check.
# Exit statuses: 0 the limit held; 1 it did not, or the server never became ready (or the started
# one exited: its log is shown); 2 a missing tool or jar, an argument, or (START_SERVER=1) the
# port already in use; 130 / 143 stopped by Ctrl-C / SIGTERM (wrk and the started server are
# stopped too; Ctrl-C during the run stops wrk early and still prints what it measured).
set -euo pipefail

if [ "$#" -gt 0 ]; then
  case "$1" in
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) echo "loadtest.sh: unknown argument '$1': settings are environment variables (see --help)" >&2; exit 2 ;;
  esac
fi

here="$(cd "$(dirname "$0")" && pwd)"
URL="${URL:-http://127.0.0.1:8080/api/items/42}"
DURATION="${DURATION:-15s}"
CONNECTIONS="${CONNECTIONS:-64}"
THREADS="${THREADS:-2}"
START_SERVER="${START_SERVER:-0}"
SERVER_ARGS="${SERVER_ARGS:-}"
JAR="${JAR:-$here/target/demo-server.jar}"
READY_WAIT="${READY_WAIT:-30}"
if ! [[ "$READY_WAIT" =~ ^[1-9][0-9]{0,5}$ ]]; then
  echo "loadtest.sh: READY_WAIT must be a whole number of seconds (1..999999), was '$READY_WAIT'" >&2
  exit 2
fi

for tool in wrk curl; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "loadtest.sh: $tool not found; install it with: apt-get install -y wrk curl" >&2
    exit 2
  fi
done

base="$(printf '%s' "$URL" | sed -E 's#^(https?://[^/]+).*#\1#')"
host="$(printf '%s' "$base" | sed -E 's#^https?://([^:/]+).*$#\1#')"
port="$(printf '%s' "$base" | sed -E 's#^https?://[^:/]+:?([0-9]*)$#\1#')"
port="${port:-80}"
log="${TMPDIR:-/tmp}/demo-server-loadtest-$port.log"

server_pid=""
sampler_pid=""
wrk_pid=""
cleanup() {
  if [ -n "$wrk_pid" ]; then kill "$wrk_pid" 2>/dev/null || true; fi
  if [ -n "$sampler_pid" ]; then kill "$sampler_pid" 2>/dev/null || true; fi
  if [ -n "$server_pid" ]; then
    kill -TERM "$server_pid" 2>/dev/null || true   # graceful shutdown
    wait "$server_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ "$START_SERVER" = "1" ]; then
  if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then
    echo "loadtest.sh: $host:$port is already in use; stop what listens there, or pick a free port: URL=http://127.0.0.1:<port>/api/items/42" >&2
    exit 2
  fi
  if [ ! -f "$JAR" ]; then
    echo "loadtest.sh: $JAR missing; build it: mvn -B -ntp -pl netty-sync,demo-server -am package -DskipTests" >&2
    exit 2
  fi
  # shellcheck disable=SC2086
  java -jar "$JAR" --host=127.0.0.1 --port="$port" $SERVER_ARGS > "$log" 2>&1 &
  server_pid=$!
  echo "started demo-server (pid $server_pid), log in $log"
fi

server_exited() {   # true if this script started the server and it is gone; shows its log
  if [ -n "$server_pid" ] && ! kill -0 "$server_pid" 2>/dev/null; then
    echo "loadtest.sh: demo-server exited; its log ($log):" >&2
    tail -n 20 "$log" >&2
    server_pid=""
    return 0
  fi
  return 1
}

metric() {   # metric NAME_WITH_LABELS: its value in /metrics, as an integer, or +Inf (empty if absent)
  curl -fsS --max-time 10 "$base/metrics" | awk -v m="$1" '$1 == m { if ($2 == "+Inf") print "+Inf"; else printf "%d\n", $2 }'
}

ready() {   # /readyz answers 200 (each check bounded: a server may accept and never answer)
  [ "$(curl -s --max-time 2 -o /dev/null -w '%{http_code}' "$base/readyz" || true)" = "200" ]
}
echo "waiting for $base/readyz ..."
ready_by=$((SECONDS + READY_WAIT))
until ready; do
  if server_exited; then exit 1; fi
  if [ "$SECONDS" -ge "$ready_by" ]; then
    echo "loadtest.sh: $base/readyz is not 200 after $READY_WAIT s" >&2
    exit 1
  fi
  sleep 0.2
done
if [ -n "$server_pid" ]; then
  grep -m1 "listening on" "$log" 2>/dev/null | sed 's/^.* - /server: /' || true
fi

limit="$(metric 'nettysync_limiter_limit{limiter="backend"}')"
samples="$(mktemp)"
( while true; do metric demo_limiter_in_flight >> "$samples" 2>/dev/null || true; sleep 0.2; done ) &
sampler_pid=$!

echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency -s $here/loadtest/status-count.lua $URL"
# wrk runs in the background so that a SIGTERM to this script stops it at once (the EXIT trap
# kills it); Ctrl-C reaches wrk itself, which stops and prints what it measured, and the report
# goes on.
wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$here/loadtest/status-count.lua" "$URL" &
wrk_pid=$!
trap 'kill -INT "$wrk_pid" 2>/dev/null || true' INT
wrk_status=0
while :; do
  wait "$wrk_pid" && wrk_status=0 || wrk_status=$?
  if ! kill -0 "$wrk_pid" 2>/dev/null; then break; fi   # the wait was cut by a signal: wait again
done
wrk_pid=""
trap 'exit 130' INT
if [ "$wrk_status" != 0 ]; then
  echo "loadtest.sh: wrk failed (exit status $wrk_status)" >&2
  exit 1
fi

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
