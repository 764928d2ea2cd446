#!/usr/bin/env bash
# The adaptive-limit experiment: demo-server's simulated backend gets a capacity C* (latency L0 up
# to C* calls at once, a FIFO queue beyond: latency grows in proportion, throughput stays C*/L0);
# C* is halved a third of the way into each run and restored at two thirds (a backend that
# degrades and recovers). An open-loop generator (OpenLoopTimeline: OpenLoopClient's generator,
# reported every second) offers LOADS x C*/L0 requests/s. Each run uses one limit config: the
# adaptive limit (--limit=adaptive:ALG) or a fixed one (too low, right, too high). Writes
#   $OUT/timeline.csv            one row per (config, load, second): goodput, 503/s, 2xx p50/p99
#   $OUT/adaptive-timeline.png   goodput and 2xx p50/p99 over time, one chart per load
#   $OUT/adaptive.md             the per-phase table, the plot link, machine.txt
#
# Settings (environment), defaults in brackets:
#   CAPACITY [32] C*   LATENCY_MS [20] L0   LOADS [0.5,1,2,5] factors of C*/L0   DURATION [60] s per run
#   CONFIGS ["adaptive:vegas fixed:LOW fixed:RIGHT fixed:HIGH"]; LOW/RIGHT/HIGH = C*/4, C*, 4 C*;
#           also adaptive:gradient2, adaptive:aimd, fixed:N
#   MAX_CONCURRENT [8 x C*] the adaptive limit's ceiling   QUEUE [2 x C*]   QUEUE_WAIT_MS [L0]
#   BACKEND_TIMEOUT_MS [10 x L0] (a timeout is a drop for the adaptive limit)
#   CONNECTIONS [1024] CLIENT_THREADS [1] SERVER_THREADS [1] SERVER_JVM_OPTS [-Xms512m -Xmx512m]
#   SERVER_CPUS / CLIENT_CPUS [unset] DEMO_PORT [18090] DEMO_JAR [demo-server/target/demo-server.jar]
#   OUT [bench/results/adaptive-<UTC timestamp>]
#   SMOKE=1: a short check that everything runs (C*=8, L0=10 ms, loads 1 and 3, 6 s, two configs),
#            in well under a minute; its numbers mean nothing.
# Duration: configs x loads x (DURATION + ~4 s): 4 x 4 x 64 s ~ 17 min. Run it on a quiet machine.
# Needs curl and the two jars:
#   mvn -B -ntp -pl demo-server,bench -am package -DskipTests
set -euo pipefail
source "$(dirname "$0")/common.sh"
no_args "$@"

if [ "${SMOKE:-0}" = 1 ]; then
  : "${CAPACITY:=8}" "${LATENCY_MS:=10}" "${LOADS:=1,3}" "${DURATION:=6}" "${CONNECTIONS:=128}"
  : "${CONFIGS:=adaptive:vegas fixed:RIGHT}"
  OUT="${OUT:-$REPO_ROOT/bench/results/adaptive-smoke-$(date -u +%Y%m%dT%H%M%SZ)}"
fi
DEMO_JAR="${DEMO_JAR:-$REPO_ROOT/demo-server/target/demo-server.jar}"
CAPACITY="${CAPACITY:-32}"
LATENCY_MS="${LATENCY_MS:-20}"
LOADS="${LOADS:-0.5,1,2,5}"
DURATION="${DURATION:-60}"
CONFIGS="${CONFIGS:-adaptive:vegas fixed:LOW fixed:RIGHT fixed:HIGH}"
MAX_CONCURRENT="${MAX_CONCURRENT:-$((8 * CAPACITY))}"
QUEUE="${QUEUE:-$((2 * CAPACITY))}"
QUEUE_WAIT_MS="${QUEUE_WAIT_MS:-$LATENCY_MS}"
BACKEND_TIMEOUT_MS="${BACKEND_TIMEOUT_MS:-$((10 * LATENCY_MS))}"
CONNECTIONS="${CONNECTIONS:-1024}"
CLIENT_THREADS="${CLIENT_THREADS:-1}"
SERVER_THREADS="${SERVER_THREADS:-1}"
SERVER_JVM_OPTS="${SERVER_JVM_OPTS:--Xms512m -Xmx512m}"
SERVER_CPUS="${SERVER_CPUS:-}"
CLIENT_CPUS="${CLIENT_CPUS:-}"
DEMO_PORT="${DEMO_PORT:-18090}"
OUT="${OUT:-$REPO_ROOT/bench/results/adaptive-$(date -u +%Y%m%dT%H%M%SZ)}"
ITEM="/api/items/1"

need_jar "$BENCH_JAR" "-pl demo-server,bench -am"
need_jar "$DEMO_JAR" "-pl demo-server,bench -am"
need_cmd curl "Install curl."
[ "$CAPACITY" -ge 2 ] || die "CAPACITY must be >= 2 (it is halved), was $CAPACITY"
[ "$DURATION" -ge 3 ] || die "DURATION must be >= 3 s, was $DURATION"
mkdir -p "$OUT"
machine_info "$OUT/machine.txt"

SERVER_PIN=(); CLIENT_PIN=()
if [ -n "$SERVER_CPUS" ]; then need_cmd taskset "It is in util-linux."; SERVER_PIN=(taskset -c "$SERVER_CPUS"); fi
if [ -n "$CLIENT_CPUS" ]; then need_cmd taskset "It is in util-linux."; CLIENT_PIN=(taskset -c "$CLIENT_CPUS"); fi

HALF=$((CAPACITY / 2))
T1=$((DURATION / 3))
T2=$((2 * DURATION / 3))
RATE_FULL=$(awk -v c="$CAPACITY" -v l="$LATENCY_MS" 'BEGIN {printf "%.1f", c*1000/l}')
echo "== adaptive experiment: C*=$CAPACITY (C*/L0=$RATE_FULL/s), L0=${LATENCY_MS}ms, C* -> $HALF at ${T1}s, back at ${T2}s;" \
     "loads x$LOADS; configs: $CONFIGS"

# config name -> demo flags
limit_args() {
  local c="$1" n
  case "$c" in
    adaptive|adaptive:*) echo "--limit=$c --max-concurrent=$MAX_CONCURRENT" ;;
    fixed:LOW) echo "--limit=fixed --max-concurrent=$(( CAPACITY / 4 > 0 ? CAPACITY / 4 : 1 ))" ;;
    fixed:RIGHT) echo "--limit=fixed --max-concurrent=$CAPACITY" ;;
    fixed:HIGH) echo "--limit=fixed --max-concurrent=$((4 * CAPACITY))" ;;
    fixed:*) n="${c#fixed:}"; [[ "$n" =~ ^[0-9]+$ ]] || die "bad config $c"; echo "--limit=fixed --max-concurrent=$n" ;;
    *) die "unknown config $c (adaptive[:ALG], fixed:LOW|RIGHT|HIGH|N)" ;;
  esac
}
# the label in the plot: fixed:RIGHT -> fixed 32
label_of() {
  local c="$1"
  case "$c" in
    fixed:*) echo "fixed $(limit_args "$c" | sed 's/.*--max-concurrent=//')" ;;
    *) echo "$c" ;;
  esac
}

rm -f "$OUT/timeline.csv"
for factor in ${LOADS//,/ }; do
  rate=$(awk -v f="$factor" -v r="$RATE_FULL" 'BEGIN {x=int(f*r+0.5); if (x<1) x=1; print x}')
  for config in $CONFIGS; do
    label=$(label_of "$config")
    port_free "$DEMO_PORT" || die "port $DEMO_PORT is in use: stop what listens there, or set DEMO_PORT to a free port"
    # shellcheck disable=SC2046,SC2086
    start_bg DEMO "$OUT/demo-${config//:/-}-x$factor.log" "${SERVER_PIN[@]}" "$JAVA" $SERVER_JVM_OPTS -jar "$DEMO_JAR" \
      --host 127.0.0.1 --port "$DEMO_PORT" --io-threads "$SERVER_THREADS" --db-ready-delay 0 \
      --backend-latency "${LATENCY_MS}ms" --backend-capacity "$CAPACITY" \
      --backend-capacity-schedule "${T1}s:$HALF,${T2}s:$CAPACITY" --backend-timeout "${BACKEND_TIMEOUT_MS}ms" \
      --max-queue "$QUEUE" --max-queue-wait "${QUEUE_WAIT_MS}ms" $(limit_args "$config")
    wait_http "http://127.0.0.1:$DEMO_PORT/readyz" 30 || die "demo did not become ready, see $OUT/demo-${config//:/-}-x$factor.log"
    # No warm-up request: the capacity schedule starts at the first backend call, i.e. with the load.
    echo "== $label at ${factor}x ($rate/s)"
    "${CLIENT_PIN[@]}" "$JAVA" -cp "$BENCH_JAR" dev.nettysync.bench.load.OpenLoopTimeline \
      --url "http://127.0.0.1:$DEMO_PORT$ITEM" --rate "$rate" --duration "$DURATION" --connections "$CONNECTIONS" \
      --threads "$CLIENT_THREADS" --label "$label" --group "${factor}x C*/L0 ($rate/s)" \
      --csv "$OUT/timeline.csv" > "$OUT/timeline-${config//:/-}-x$factor.txt"
    stop_pid "$DEMO_PID"
  done
done

"$JAVA" -Djava.awt.headless=true -cp "$BENCH_JAR" dev.nettysync.bench.load.TimelinePlot \
  --title "adaptive vs fixed limits: C*=$CAPACITY, L0=${LATENCY_MS} ms" \
  --marker "$T1=C* halved" --marker "$T2=C* restored" --out "$OUT/adaptive-timeline.png" "$OUT/timeline.csv"

# Per phase (full, halved, restored), skipping each phase's first 5 s (or first third when short):
# mean goodput, mean 503/s, worst per-second 2xx p99.
{
  echo "# Adaptive limit against fixed limits (open loop, backend capacity halved and restored)"
  echo
  echo "C* = $CAPACITY, L0 = $LATENCY_MS ms, C*/L0 = $RATE_FULL req/s; C* -> $HALF at ${T1} s and back at ${T2} s;" \
       "$DURATION s per run; queue $QUEUE, queue wait ${QUEUE_WAIT_MS} ms, backend timeout ${BACKEND_TIMEOUT_MS} ms;" \
       "adaptive ceiling $MAX_CONCURRENT. Latencies from the intended send time; goodput = 2xx/s."
  echo
  echo "![goodput and latency over time](adaptive-timeline.png)"
  echo
  echo "| load | config | phase | goodput/s (% of C*/L0 in that phase) | 503/s | worst 2xx p99 ms | median 2xx p99 ms |"
  echo "|---|---|---|---:|---:|---:|---:|"
  awk -F, -v t1="$T1" -v t2="$T2" -v d="$DURATION" -v c="$CAPACITY" -v l="$LATENCY_MS" '
    NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
    {
      t = $col["t_s"]; if (t > d) next
      if (t <= t1) { ph = 1; s = 0 } else if (t <= t2) { ph = 2; s = t1 } else { ph = 3; s = t2 }
      skip = (t2 - t1) / 3; if (skip > 5) skip = 5
      if (t - s <= skip) next
      k = $col["group"] SUBSEP $col["label"] SUBSEP ph
      if (!(k in n)) order[++m] = k
      n[k]++; ok[k] += $col["ok_rps"]; r503[k] += $col["s503_rps"]
      p = $col["ok_p99_ms"]; if (p != "NaN") { ps[k, ++np[k]] = p; if (p > worst[k]) worst[k] = p }
    }
    END {
      split("full,halved,restored", names, ",")
      for (j = 1; j <= m; j++) {
        k = order[j]; split(k, f, SUBSEP)
        cap = (f[3] == 2 ? int(c / 2) : c) * 1000 / l
        # median of the per-second p99s
        cnt = np[k]; for (a = 1; a <= cnt; a++) v[a] = ps[k, a]
        for (a = 1; a <= cnt; a++) for (b = a + 1; b <= cnt; b++) if (v[b] + 0 < v[a] + 0) { x = v[a]; v[a] = v[b]; v[b] = x }
        med = cnt ? v[int((cnt + 1) / 2)] : "NaN"
        printf "| %s | %s | %s | %.0f (%.0f %%) | %.0f | %s | %s |\n", f[1], f[2], names[f[3]],
          ok[k] / n[k], 100 * ok[k] / n[k] / cap, r503[k] / n[k], (k in worst ? worst[k] : "NaN"), med
      }
    }' "$OUT/timeline.csv"
  echo
  echo "## Machine"; echo; echo '```'; cat "$OUT/machine.txt"; echo '```'
} > "$OUT/adaptive.md"
echo "== done: $OUT/adaptive.md, $OUT/adaptive-timeline.png"
