#!/usr/bin/env bash
# Open-loop sweep and plot: latency percentiles of demo-server against offered load, with the
# limiter (--max-concurrent LIMIT --max-queue QUEUE) and without it (--max-concurrent 0), each
# request timed from its intended send time (OpenLoopClient, HdrHistogram). Writes
#   $OUT/openloop.csv            one row per (config, rate)
#   $OUT/latency-vs-load.png     the plot (JFreeChart, headless)
#   $OUT/openloop.md             the table, the plot link, machine.txt
#
# BACKEND selects what demo-server calls:
#   upstream  (default) a saturable upstream: bench's HelloServer in upstream mode, LATENCY_MS per
#             answer and at most UPSTREAM_CAPACITY [= LIMIT] at once, FIFO beyond (a database
#             behind a pool). Past LIMIT/LATENCY req/s its queue grows without bound: this is the
#             case a limiter is for. demo-server is started with --upstream.
#   simulated demo-server's own --backend-latency timer: infinite capacity, so without the
#             limiter nothing queues until the CPU saturates.
#
# Settings (environment), defaults in brackets:
#   DEMO_JAR [demo-server/target/demo-server.jar]  DEMO_ARGS [] extra flags for every demo start (last: they override)
#   BACKEND [upstream]  LIMIT [16]  LATENCY_MS [20]  QUEUE [64]  UPSTREAM_CAPACITY [LIMIT]
#   RATES [0.25,0.5,0.75,0.9,1,1.25,2,5,10 x LIMIT/LATENCY]  comma list of req/s, or "x:" + factors
#   CONFIGS ["limited unlimited"]
#   DURATION [8] WARMUP [4] CONNECTIONS [1024] CLIENT_THREADS [1]
#   SERVER_THREADS [1] SERVER_JVM_OPTS [-Xms512m -Xmx512m]
#   SERVER_CPUS / CLIENT_CPUS [first / second half of the CPUs, taskset; 0 and 1 on 2 cores] PIN=0: unpinned
#   DEMO_PORT [18080] UPSTREAM_PORT [18082] OUT [bench/results/openloop-<UTC timestamp>]
# Duration: configs x rates x (WARMUP + DURATION + 1 s) + starts: about 2 x 9 x 13 s ~ 4.5 min.
# Needs curl and the two jars: mvn -B -ntp -pl demo-server,bench -am package -DskipTests
set -euo pipefail
source "$(dirname "$0")/common.sh"
no_args "$@"

DEMO_JAR="${DEMO_JAR:-$REPO_ROOT/demo-server/target/demo-server.jar}"
DEMO_ARGS="${DEMO_ARGS:-}"
BACKEND="${BACKEND:-upstream}"
LIMIT="${LIMIT:-16}"
LATENCY_MS="${LATENCY_MS:-20}"
QUEUE="${QUEUE:-64}"
UPSTREAM_CAPACITY="${UPSTREAM_CAPACITY:-$LIMIT}"
RATES="${RATES:-x:0.25,0.5,0.75,0.9,1,1.25,2,5,10}"
CONFIGS="${CONFIGS:-limited unlimited}"
DURATION="${DURATION:-8}"
WARMUP="${WARMUP:-4}"
CONNECTIONS="${CONNECTIONS:-1024}"
CLIENT_THREADS="${CLIENT_THREADS:-1}"
SERVER_THREADS="${SERVER_THREADS:-1}"
SERVER_JVM_OPTS="${SERVER_JVM_OPTS:--Xms512m -Xmx512m}"
DEMO_PORT="${DEMO_PORT:-18080}"
UPSTREAM_PORT="${UPSTREAM_PORT:-18082}"
OUT="${OUT:-$REPO_ROOT/bench/results/openloop-$(date -u +%Y%m%dT%H%M%SZ)}"
ITEM="/api/items/1"

need_jar "$BENCH_JAR" "-pl demo-server,bench -am"
need_jar "$DEMO_JAR" "-pl demo-server,bench -am"
need_cmd curl "Install curl."
case "$BACKEND" in upstream|simulated) ;; *) die "BACKEND must be upstream or simulated, was $BACKEND" ;; esac
mkdir -p "$OUT"
machine_info "$OUT/machine.txt"

default_pinning
echo "== $PINNING"

CAPACITY=$(awk -v n="$LIMIT" -v l="$LATENCY_MS" 'BEGIN {printf "%.1f", n*1000/l}')
if [[ "$RATES" == x:* ]]; then
  RATE_LIST=$(echo "${RATES#x:}" | tr ',' '\n' | awk -v c="$CAPACITY" '{r=int($1*c+0.5); if (r<1) r=1; printf "%s%d", (NR>1?",":""), r}')
else
  RATE_LIST="$RATES"
fi
echo "== open-loop sweep: backend $BACKEND, N=$LIMIT, L=${LATENCY_MS}ms (N/L=$CAPACITY/s), rates $RATE_LIST"

if [ "$BACKEND" = upstream ]; then
  port_free "$UPSTREAM_PORT" || die "port $UPSTREAM_PORT is in use: stop what listens there, or set UPSTREAM_PORT to a free port"
  # shellcheck disable=SC2086
  start_bg UPSTREAM "$OUT/upstream.log" "${SERVER_PIN[@]}" "$JAVA" $SERVER_JVM_OPTS -cp "$BENCH_JAR" \
    dev.nettysync.bench.load.HelloServer --host 127.0.0.1 --port "$UPSTREAM_PORT" --io-threads 1 \
    --delay-ms "$LATENCY_MS" --capacity "$UPSTREAM_CAPACITY"
  wait_http "http://127.0.0.1:$UPSTREAM_PORT/items/1" 30 || die "upstream did not come up, see $OUT/upstream.log"
  BACKEND_ARGS=(--upstream "http://127.0.0.1:$UPSTREAM_PORT")
else
  BACKEND_ARGS=(--backend-latency "${LATENCY_MS}ms")
fi

rm -f "$OUT/openloop.csv"
for config in $CONFIGS; do
  case "$config" in
    limited) LIMIT_ARGS=(--max-concurrent "$LIMIT" --max-queue "$QUEUE") ;;
    unlimited) LIMIT_ARGS=(--max-concurrent 0 --max-queue "$QUEUE") ;;
    *) die "unknown config $config (limited, unlimited)" ;;
  esac
  port_free "$DEMO_PORT" || die "port $DEMO_PORT is in use: stop what listens there, or set DEMO_PORT to a free port"
  # shellcheck disable=SC2086
  start_bg DEMO "$OUT/demo-$config.log" "${SERVER_PIN[@]}" "$JAVA" $SERVER_JVM_OPTS -jar "$DEMO_JAR" \
    --host 127.0.0.1 --port "$DEMO_PORT" --io-threads "$SERVER_THREADS" --db-ready-delay 0 \
    "${BACKEND_ARGS[@]}" "${LIMIT_ARGS[@]}" $DEMO_ARGS
  wait_http "http://127.0.0.1:$DEMO_PORT/readyz" 30 || die "demo did not become ready, see $OUT/demo-$config.log"
  wait_http "http://127.0.0.1:$DEMO_PORT$ITEM" 10 || die "demo item route does not answer 200, see $OUT/demo-$config.log"
  echo "== $config: demo ${LIMIT_ARGS[*]} ${BACKEND_ARGS[*]}"
  "${CLIENT_PIN[@]}" "$JAVA" -cp "$BENCH_JAR" dev.nettysync.bench.load.OpenLoopClient \
    --url "http://127.0.0.1:$DEMO_PORT$ITEM" --rates "$RATE_LIST" --duration "$DURATION" --warmup "$WARMUP" \
    --connections "$CONNECTIONS" --threads "$CLIENT_THREADS" --label "$config" \
    --csv "$OUT/openloop.csv" --hgrm-dir "$OUT/hgrm" | tee "$OUT/openloop-$config.txt"
  stop_pid "$DEMO_PID"
done

"$JAVA" -Djava.awt.headless=true -cp "$BENCH_JAR" dev.nettysync.bench.load.LatencyPlot \
  --title "demo-server, $BACKEND backend (N=$LIMIT, L=${LATENCY_MS} ms, N/L=$CAPACITY/s): latency vs offered load" \
  --capacity "$CAPACITY" --out "$OUT/latency-vs-load.png" "$OUT/openloop.csv"

{
  echo "# demo-server latency against offered load (open loop)"
  echo
  echo "Backend: $BACKEND; N = $LIMIT, L = $LATENCY_MS ms, N/L = $CAPACITY req/s, queue $QUEUE; $DURATION s measured per rate after $WARMUP s warm-up, $CONNECTIONS client connections; $PINNING. Latencies from the intended send time; in brackets the load generator's own lag at the same percentile."
  echo
  echo "![latency vs offered load](latency-vs-load.png)"
  echo
  echo "| config | offered/s | completed/s | 2xx/s | 2xx | 503 | other | errors | unfinished | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | 503 p99 ms |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  paste -d'|' <(awk -F, 'NR>1 {printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s ", $1,$2,$4,$5,$6,$7,$8,$9,$10}' "$OUT/openloop.csv") \
              <(lag_cells "$OUT/openloop.csv" | sed 's/^/ /; s/$/ |/')
  echo
  echo "## Machine"; echo; echo '```'; cat "$OUT/machine.txt"; echo '```'
} > "$OUT/openloop.md"
echo "== done: $OUT/openloop.md, $OUT/latency-vs-load.png"
