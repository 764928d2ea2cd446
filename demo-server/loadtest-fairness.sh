#!/usr/bin/env bash
# Greedy and polite clients against the per-client rate: do polite clients stay unharmed?
#
# Installs nothing. Needs wrk and curl:   apt-get install -y wrk curl
#
# Usage (from the repository root):
#   START_SERVER=1 demo-server/loadtest-fairness.sh      # starts demo-server/target/demo-server.jar
#   demo-server/loadtest-fairness.sh                     # a server already running with
#                                                        # --trust-forwarded-for --per-client-rate=RATE
#   demo-server/loadtest-fairness.sh --help              # this text; no other argument is taken
#
# Two phases of DURATION seconds each:
#   1. polite only: POLITE clients, each its own X-Forwarded-For, each sending one request every
#      2/RATE seconds (half its allowed rate) with curl, one connection per request;
#   2. the same polite clients plus GREEDY clients, each a wrk with its own X-Forwarded-For and
#      GREEDY_CONNECTIONS connections, sending as fast as they can (mostly answered 429).
# Prints, per phase, the polite clients' requests, 429s, p50 and p99 latency (curl's time_total),
# and the greedy clients' wrk summary. Exits 1 unless the polite clients got no 429 and their
# p99 with greedy clients is within 10 % of the polite-only run (plus 2 ms of timer noise).
#
# Environment (defaults in brackets):
#   URL                 [http://127.0.0.1:8080/api/items/42]
#   DURATION            seconds per phase [10]
#   RATE                the server's --per-client-rate [20]   BURST  --per-client-burst [RATE]
#   POLITE              polite clients [10]
#   GREEDY              greedy clients [4]          GREEDY_CONNECTIONS  per greedy client [8]
#   START_SERVER        1: start the shaded jar on URL's port and stop it afterwards [0]
#   SERVER_ARGS         extra flags for the started server
#   JAR                 [demo-server/target/demo-server.jar]
#   READY_WAIT          seconds to wait for /readyz before giving up [30]
# Numbers taken on a machine shared with other work are noise; run it on a quiet one.
# Exit statuses: 0 fair; 1 not (the FAIL lines say why), or the started server exited (its log is
# shown); 2 a missing tool or jar, an argument, (START_SERVER=1) the port already in use, or a
# server that is not ready; 130 / 143 stopped by Ctrl-C / SIGTERM (every client and the started
# server are stopped too).
set -euo pipefail

if [ "$#" -gt 0 ]; then
  case "$1" in
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) echo "loadtest-fairness.sh: unknown argument '$1': settings are environment variables (see --help)" >&2; exit 2 ;;
  esac
fi

here="$(cd "$(dirname "$0")" && pwd)"
URL="${URL:-http://127.0.0.1:8080/api/items/42}"
DURATION="${DURATION:-10}"
RATE="${RATE:-20}"
BURST="${BURST:-$RATE}"
POLITE="${POLITE:-10}"
GREEDY="${GREEDY:-4}"
GREEDY_CONNECTIONS="${GREEDY_CONNECTIONS:-8}"
START_SERVER="${START_SERVER:-0}"
SERVER_ARGS="${SERVER_ARGS:-}"
JAR="${JAR:-$here/target/demo-server.jar}"
READY_WAIT="${READY_WAIT:-30}"
if ! [[ "$READY_WAIT" =~ ^[1-9][0-9]{0,5}$ ]]; then
  echo "loadtest-fairness.sh: READY_WAIT must be a whole number of seconds (1..999999), was '$READY_WAIT'" >&2
  exit 2
fi

for tool in wrk curl awk; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "loadtest-fairness.sh: $tool not found; install it with: apt-get install -y wrk curl" >&2
    exit 2
  fi
done

base="$(printf '%s' "$URL" | sed -E 's#^(https?://[^/]+).*#\1#')"
port="$(printf '%s' "$base" | sed -E 's#^https?://[^:/]+:?([0-9]*)$#\1#')"
port="${port:-80}"
host="$(printf '%s' "$base" | sed -E 's#^https?://([^:/]+).*$#\1#')"
work="$(mktemp -d)"
server_pid=""
clients=()     # the running phase's wrk and polite-client pids
cleanup() {
  if [ "${#clients[@]}" -gt 0 ]; then
    kill "${clients[@]}" 2>/dev/null || true
    wait "${clients[@]}" 2>/dev/null || true
  fi
  if [ -n "$server_pid" ]; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ "$START_SERVER" = "1" ]; then
  if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then
    echo "loadtest-fairness.sh: $host:$port is already in use; stop what listens there, or pick a free port: URL=http://127.0.0.1:<port>/api/items/42" >&2
    exit 2
  fi
  if [ ! -f "$JAR" ]; then
    echo "loadtest-fairness.sh: $JAR missing; build it: mvn -B -ntp -pl netty-sync,demo-server -am package -DskipTests" >&2
    exit 2
  fi
  # shellcheck disable=SC2086
  java -jar "$JAR" --host=127.0.0.1 --port="$port" --db-ready-delay=0 --trust-forwarded-for \
    --per-client-rate="$RATE" --per-client-burst="$BURST" $SERVER_ARGS >"$work/server.log" 2>&1 &
  server_pid=$!
fi
ready_by=$((SECONDS + READY_WAIT))
# each check bounded: a server may accept and never answer
until curl -fs --max-time 2 "$base/readyz" >/dev/null 2>&1; do
  if [ -n "$server_pid" ] && ! kill -0 "$server_pid" 2>/dev/null; then
    echo "loadtest-fairness.sh: demo-server exited; its log:" >&2
    tail -n 20 "$work/server.log" >&2
    server_pid=""
    exit 1
  fi
  if [ "$SECONDS" -ge "$ready_by" ]; then
    echo "loadtest-fairness.sh: $base/readyz is not 200 after $READY_WAIT s" >&2
    exit 2
  fi
  sleep 0.1
done

interval="$(awk -v r="$RATE" 'BEGIN { printf "%.4f", 2 / r }')"

polite() {   # $1: client number, $2: output file
  trap - INT TERM EXIT   # a client subshell just stops: the script's own traps clean up
  local end=$((SECONDS + DURATION)) line
  while [ "$SECONDS" -lt "$end" ]; do
    # one line per request: curl writes "000 <time>" itself when it fails (refused, reset, timed out)
    line="$(curl -s --max-time 10 -o /dev/null -w '%{http_code} %{time_total}' -H "X-Forwarded-For: 10.1.0.$1" "$URL")" || true
    echo "${line:-000 0}" >>"$2"
    sleep "$interval"
  done
}

phase() {    # $1: name, $2: greedy clients
  local out="$work/$1"
  mkdir -p "$out"
  clients=()
  for g in $(seq 1 "$2"); do
    wrk -t1 -c"$GREEDY_CONNECTIONS" -d"${DURATION}s" -H "X-Forwarded-For: 10.2.0.$g" \
      -s "$here/loadtest/status-count.lua" "$URL" >"$out/greedy-$g.txt" 2>&1 &
    clients+=($!)
  done
  for p in $(seq 1 "$POLITE"); do
    polite "$p" "$out/polite-$p.txt" &
    clients+=($!)
  done
  wait "${clients[@]}"
  clients=()
  cat "$out"/polite-*.txt >"$out/polite.txt"
  awk '{ n++; if ($1 == 429) r++; if ($1 != 200 && $1 != 429) o++; print $2 > "/dev/stderr" }
       END { printf "%d %d %d\n", n, r + 0, o + 0 }' "$out/polite.txt" 2>"$out/lat.txt" >"$out/counts.txt"
  sort -n "$out/lat.txt" >"$out/lat.sorted"
  local n p50 p99
  n="$(wc -l <"$out/lat.sorted")"
  p50="$(awk -v n="$n" 'NR == int(n * 0.50 + 0.5) { printf "%.2f", $1 * 1000 }' "$out/lat.sorted")"
  p99="$(awk -v n="$n" 'NR == int(n * 0.99 + 0.5) { printf "%.2f", $1 * 1000 }' "$out/lat.sorted")"
  read -r total refused other <"$out/counts.txt"
  echo "== $1: $POLITE polite clients at $(awk -v r="$RATE" 'BEGIN { print r / 2 }')/s each, $2 greedy"
  echo "polite: $total requests, $refused answered 429, $other other non-200; p50 ${p50:-?} ms, p99 ${p99:-?} ms"
  for g in $(seq 1 "$2"); do
    echo "greedy $g: $(grep -E '^requests/s|^status' "$out/greedy-$g.txt" | tr -s ' ' | tr '\n' ' ')"
  done
  echo "$refused $other ${p99:-0}" >"$work/$1.verdict"
}

phase polite-only 0
phase with-greedy "$GREEDY"

read -r r1 o1 base_p99 <"$work/polite-only.verdict"
read -r r2 o2 greedy_p99 <"$work/with-greedy.verdict"
ok=1
if [ "$r1" != 0 ] || [ "$r2" != 0 ]; then
  echo "FAIL: polite clients were answered 429 ($r1 alone, $r2 with greedy clients)"; ok=0
fi
if [ "$o1" != 0 ] || [ "$o2" != 0 ]; then
  echo "FAIL: polite clients got other errors ($o1 alone, $o2 with greedy clients)"; ok=0
fi
if ! awk -v a="$base_p99" -v b="$greedy_p99" 'BEGIN { exit !(b <= a * 1.10 + 2) }'; then
  echo "FAIL: polite p99 ${greedy_p99} ms with greedy clients vs ${base_p99} ms alone (> +10 % + 2 ms)"; ok=0
fi
if [ "$ok" = 1 ]; then
  echo "OK: polite clients saw no 429 and p99 ${greedy_p99} ms vs ${base_p99} ms alone"
  exit 0
fi
exit 1
