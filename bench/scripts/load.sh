#!/usr/bin/env bash
# P4: demo-server against a bare Netty HTTP hello server, in the same run, on 127.0.0.1.
#
#   A. throughput: hello server and demo (instant backend, a limit that does not bind), both
#      driven by wrk with the same settings, alternately, ROUNDS times; prints demo/hello of the
#      medians (goal: >= 0.85).
#   B. binding limit: demo with --max-concurrent LIMIT and --backend-latency LATENCY_MS, wrk with
#      OVERLOAD x LIMIT connections (closed loop, the queue absorbs them): 2xx/s vs LIMIT/LATENCY
#      (goal: >= 95%).
#   C. overload: the same demo with a short queue (--max-queue QUEUE), open-loop at
#      OVERLOAD x LIMIT/LATENCY requests/s (OpenLoopClient, latencies from the intended send
#      time): p99 of the 503 answers (goal: < 2 ms), and 2xx/s vs LIMIT/LATENCY.
#
# Writes $OUT/load.md (tables and verdicts), the raw wrk/client outputs, machine.txt.
# Needs: wrk (Debian: apt-get install wrk), curl, the two jars:
#   mvn -B -ntp -pl demo-server,bench -am package -DskipTests
# Settings (environment), defaults in brackets:
#   DEMO_JAR [demo-server/target/demo-server.jar]   DEMO_ARGS [] extra demo flags for every start (last: they override)
#   HELLO_ARGS [] extra hello-server flags          SERVER_JVM_OPTS [-Xms512m -Xmx512m]
#   SERVER_THREADS [1] --io-threads of both servers (2 cores: 1 for the server, 1 for the client)
#   SERVER_CPUS, CLIENT_CPUS [first / second half of the CPUs: 0 and 1 on 2 cores] taskset CPU lists
#              for the servers and the load tools; PIN=0 runs everything unpinned
#   METRIC [demo_response_latency_seconds] the demo's server-side latency timer (decode -> flush),
#              read from its /metrics (Prometheus histogram, tag status) in phase C; when absent, the
#              coarser METRIC_FALLBACK [demo_http_requests_seconds] is reported instead, if present
#   WRK_THREADS [1] WRK_CONNECTIONS [64] WRK_DURATION [10s] WRK_WARMUP [5s] ROUNDS [3]
#   NONBINDING_LIMIT [100000]  LIMIT [16]  LATENCY_MS [20]  OVERLOAD [10]  QUEUE [64]
#   OL_DURATION [10] OL_WARMUP [5] OL_CONNECTIONS [1024] OL_THREADS [1]
#   PHASES [ABC]  HELLO_PORT [18081]  DEMO_PORT [18080]  OUT [bench/results/load-<UTC timestamp>]
# Default duration: A ~ 2 x ROUNDS x 10 s + warm-ups ~ 1.5 min; B ~ 25 s; C ~ 20 s: about 2.5 min.
set -euo pipefail
source "$(dirname "$0")/common.sh"
no_args "$@"

DEMO_JAR="${DEMO_JAR:-$REPO_ROOT/demo-server/target/demo-server.jar}"
DEMO_ARGS="${DEMO_ARGS:-}"
HELLO_ARGS="${HELLO_ARGS:-}"
SERVER_JVM_OPTS="${SERVER_JVM_OPTS:--Xms512m -Xmx512m}"
SERVER_THREADS="${SERVER_THREADS:-1}"
METRIC="${METRIC:-demo_response_latency_seconds}"
METRIC_FALLBACK="${METRIC_FALLBACK-demo_http_requests_seconds}"
server_fallback=""
WRK_THREADS="${WRK_THREADS:-1}"
WRK_CONNECTIONS="${WRK_CONNECTIONS:-64}"
WRK_DURATION="${WRK_DURATION:-10s}"
WRK_WARMUP="${WRK_WARMUP:-5s}"
ROUNDS="${ROUNDS:-3}"
NONBINDING_LIMIT="${NONBINDING_LIMIT:-100000}"
LIMIT="${LIMIT:-16}"
LATENCY_MS="${LATENCY_MS:-20}"
OVERLOAD="${OVERLOAD:-10}"
QUEUE="${QUEUE:-64}"
OL_DURATION="${OL_DURATION:-10}"
OL_WARMUP="${OL_WARMUP:-5}"
OL_CONNECTIONS="${OL_CONNECTIONS:-1024}"
OL_THREADS="${OL_THREADS:-1}"
PHASES="${PHASES:-ABC}"
HELLO_PORT="${HELLO_PORT:-18081}"
DEMO_PORT="${DEMO_PORT:-18080}"
OUT="${OUT:-$REPO_ROOT/bench/results/load-$(date -u +%Y%m%dT%H%M%SZ)}"
ITEM="/api/items/1"

need_jar "$BENCH_JAR" "-pl demo-server,bench -am"
need_jar "$DEMO_JAR" "-pl demo-server,bench -am"
if [[ "$PHASES" == *[AB]* ]]; then need_cmd wrk "Install it (Debian/Ubuntu): sudo apt-get install -y wrk"; fi
need_cmd curl "Install curl."
mkdir -p "$OUT"
machine_info "$OUT/machine.txt"
MD="$OUT/load.md"

default_pinning
echo "== $PINNING"
pin() {  # pin CPUS CMD...: run CMD under taskset when CPUS is set (foreground commands)
  local cpus="$1"; shift
  if [ -n "$cpus" ]; then taskset -c "$cpus" "$@"; else "$@"; fi
}
# servers are started as plain commands (taskset execs), so the PID we keep is the JVM's own

start_hello() {
  port_free "$HELLO_PORT" || die "port $HELLO_PORT is in use: stop what listens there, or set HELLO_PORT to a free port"
  # shellcheck disable=SC2086
  start_bg HELLO "$OUT/hello-server.log" "${SERVER_PIN[@]}" "$JAVA" $SERVER_JVM_OPTS -cp "$BENCH_JAR" \
    dev.nettysync.bench.load.HelloServer --host 127.0.0.1 --port "$HELLO_PORT" --io-threads "$SERVER_THREADS" $HELLO_ARGS
  wait_http "http://127.0.0.1:$HELLO_PORT$ITEM" 30 || die "hello server did not come up, see $OUT/hello-server.log"
}

# start_demo LOGNAME ARGS...: demo-server on DEMO_PORT, waits until /readyz and the item route answer
start_demo() {
  local log="$1"; shift
  port_free "$DEMO_PORT" || die "port $DEMO_PORT is in use: stop what listens there, or set DEMO_PORT to a free port"
  # shellcheck disable=SC2086
  start_bg DEMO "$OUT/$log" "${SERVER_PIN[@]}" "$JAVA" $SERVER_JVM_OPTS -jar "$DEMO_JAR" \
    --host 127.0.0.1 --port "$DEMO_PORT" --io-threads "$SERVER_THREADS" --db-ready-delay 0 "$@" $DEMO_ARGS
  wait_http "http://127.0.0.1:$DEMO_PORT/readyz" 30 || die "demo did not become ready, see $OUT/$log"
  wait_http "http://127.0.0.1:$DEMO_PORT$ITEM" 10 || die "demo item route does not answer 200, see $OUT/$log"
}

stop_demo() { stop_pid "$DEMO_PID"; }
stop_hello() { stop_pid "$HELLO_PID"; }

# run_wrk NAME PORT CONNECTIONS DURATION: writes $OUT/NAME.txt
run_wrk() {
  run_fg "${CLIENT_PIN[@]}" wrk -t "$WRK_THREADS" -c "$3" -d "$4" --latency "http://127.0.0.1:$2$ITEM" > "$OUT/$1.txt" 2>&1 \
    || die "wrk failed, see $OUT/$1.txt"
}

# wrk_2xx_rps FILE: (requests - non-2xx) / seconds
wrk_2xx_rps() {
  awk '/requests in/ {n=$1; s=$4; sub(/s,?$/, "", s); if (s ~ /m$/) {sub(/m$/, "", s); s*=60}}
       /Non-2xx or 3xx responses:/ {bad=$NF}
       END {if (s > 0) printf "%.1f", (n-bad)/s; else print "nan"}' "$1"
}

ge() { awk -v a="$1" -v b="$2" 'BEGIN {exit !(a+0 >= b+0)}'; }
lt() { awk -v a="$1" -v b="$2" 'BEGIN {exit !(a+0 < b+0)}'; }
verdict() { if "$@"; then echo met; else echo MISSED; fi; }

CAPACITY=$(awk -v n="$LIMIT" -v l="$LATENCY_MS" 'BEGIN {printf "%.1f", n*1000/l}')
{
  echo "# netty-sync P4 load results"
  echo
  echo "Servers: \`--io-threads $SERVER_THREADS\`, JVM \`$SERVER_JVM_OPTS\`; $PINNING. Extra demo args: \`${DEMO_ARGS:-none}\`."
  echo
} > "$MD"

# ---------------------------------------------------------------- A
if [[ "$PHASES" == *A* ]]; then
  echo "== A: hello vs demo (instant backend, limit $NONBINDING_LIMIT), wrk -t$WRK_THREADS -c$WRK_CONNECTIONS -d$WRK_DURATION, $ROUNDS rounds"
  start_hello
  start_demo demo-A.log --backend-latency 0 --max-concurrent "$NONBINDING_LIMIT" --max-queue "$NONBINDING_LIMIT"
  run_wrk A-warmup-hello "$HELLO_PORT" "$WRK_CONNECTIONS" "$WRK_WARMUP"
  run_wrk A-warmup-demo "$DEMO_PORT" "$WRK_CONNECTIONS" "$WRK_WARMUP"
  : > "$OUT/A-hello.rps"; : > "$OUT/A-demo.rps"
  {
    echo "## A. Throughput: demo-server vs bare Netty hello (wrk \`-t$WRK_THREADS -c$WRK_CONNECTIONS -d$WRK_DURATION\`)"
    echo
    echo "| round | hello req/s | hello p99 | demo req/s | demo p99 | demo non-2xx |"
    echo "|---:|---:|---:|---:|---:|---:|"
  } >> "$MD"
  for r in $(seq 1 "$ROUNDS"); do
    run_wrk "A-hello-$r" "$HELLO_PORT" "$WRK_CONNECTIONS" "$WRK_DURATION"
    run_wrk "A-demo-$r" "$DEMO_PORT" "$WRK_CONNECTIONS" "$WRK_DURATION"
    h=$(wrk_rps "$OUT/A-hello-$r.txt"); d=$(wrk_rps "$OUT/A-demo-$r.txt")
    echo "$h" >> "$OUT/A-hello.rps"; echo "$d" >> "$OUT/A-demo.rps"
    echo "  round $r: hello $h req/s, demo $d req/s"
    echo "| $r | $h | $(wrk_p99 "$OUT/A-hello-$r.txt") | $d | $(wrk_p99 "$OUT/A-demo-$r.txt") | $(wrk_non2xx "$OUT/A-demo-$r.txt") |" >> "$MD"
  done
  stop_demo; stop_hello
  hm=$(median < "$OUT/A-hello.rps"); dm=$(median < "$OUT/A-demo.rps")
  ratio=$(awk -v d="$dm" -v h="$hm" 'BEGIN {printf "%.3f", d/h}')
  echo "A: median hello $hm req/s, median demo $dm req/s, demo/hello = $ratio"
  {
    echo
    echo "Medians: hello $hm req/s, demo $dm req/s. **demo/hello = $ratio** (goal ≥ 0.85: $(verdict ge "$ratio" 0.85))."
    echo
  } >> "$MD"
fi

# ---------------------------------------------------------------- B
if [[ "$PHASES" == *B* ]]; then
  conns=$((OVERLOAD * LIMIT))
  queueB=$((conns > 256 ? conns : 256))
  echo "== B: binding limit $LIMIT, backend ${LATENCY_MS} ms (capacity $CAPACITY/s), wrk -c$conns"
  start_demo demo-B.log --backend-latency "${LATENCY_MS}ms" --max-concurrent "$LIMIT" --max-queue "$queueB" --max-queue-wait 10s
  run_wrk B-warmup "$DEMO_PORT" "$conns" "$WRK_WARMUP"
  run_wrk B "$DEMO_PORT" "$conns" "$WRK_DURATION"
  stop_demo
  ok=$(wrk_2xx_rps "$OUT/B.txt")
  frac=$(awk -v a="$ok" -v c="$CAPACITY" 'BEGIN {printf "%.3f", a/c}')
  echo "B: 2xx $ok req/s = $frac of N/L"
  {
    echo "## B. Binding limit: N = $LIMIT, L = $LATENCY_MS ms, N/L = $CAPACITY req/s (wrk \`-c$conns -d$WRK_DURATION\`, queue $queueB)"
    echo
    echo "2xx: $ok req/s = **$frac of N/L** (goal ≥ 0.95: $(verdict ge "$frac" 0.95)); wrk p99 $(wrk_p99 "$OUT/B.txt"), non-2xx $(wrk_non2xx "$OUT/B.txt")."
    echo
  } >> "$MD"
fi

# ---------------------------------------------------------------- C
if [[ "$PHASES" == *C* ]]; then
  rate=$(awk -v o="$OVERLOAD" -v c="$CAPACITY" 'BEGIN {printf "%d", o*c}')
  echo "== C: ${OVERLOAD}x overload, open loop at $rate req/s, queue $QUEUE"
  start_demo demo-C.log --backend-latency "${LATENCY_MS}ms" --max-concurrent "$LIMIT" --max-queue "$QUEUE"
  rm -f "$OUT/C.csv" "$OUT/C-metrics-before.prom" "$OUT/C-metrics-after.prom"
  # the server's own timer, scraped with curl (light) when the measured window opens and after it
  ( sleep "$OL_WARMUP"; curl -s --max-time 5 "http://127.0.0.1:$DEMO_PORT/metrics" > "$OUT/C-metrics-before.prom" 2>/dev/null || true ) &
  scrape_pid=$!
  pin "$CLIENT_CPUS" "$JAVA" -cp "$BENCH_JAR" dev.nettysync.bench.load.OpenLoopClient \
    --url "http://127.0.0.1:$DEMO_PORT$ITEM" --rates "$rate" --duration "$OL_DURATION" --warmup "$OL_WARMUP" \
    --connections "$OL_CONNECTIONS" --threads "$OL_THREADS" --label overload --csv "$OUT/C.csv" \
    --hgrm-dir "$OUT/hgrm" | tee "$OUT/C.txt"
  wait "$scrape_pid" 2>/dev/null || true
  curl -s --max-time 5 "http://127.0.0.1:$DEMO_PORT/metrics" > "$OUT/C-metrics-after.prom" 2>/dev/null || true
  stop_demo
  col() { awk -F, -v name="$1" 'NR==1 {for (i=1;i<=NF;i++) if ($i==name) c=i} NR==2 {print (c ? $c : "nan")}' "$OUT/C.csv"; }
  p99_503=$(col s503_p99_ms); n503=$(col count_503); okrps=$(col ok_rps); lag=$(col gen_lag_p99_ms)
  frac=$(awk -v a="$okrps" -v c="$CAPACITY" 'BEGIN {printf "%.3f", a/c}')
  server=$("$JAVA" -cp "$BENCH_JAR" dev.nettysync.bench.load.PromHistogram --name "$METRIC" --tag status=503 \
    --before "$OUT/C-metrics-before.prom" "$OUT/C-metrics-after.prom" 2>&1 || true)
  if [[ "$server" == *absent* ]] && [ -n "$METRIC_FALLBACK" ]; then
    # an older demo: its request timer by status (its histogram starts at 1 ms: coarse below that)
    fallback=$("$JAVA" -cp "$BENCH_JAR" dev.nettysync.bench.load.PromHistogram --name "$METRIC_FALLBACK" --tag status=503 \
      --before "$OUT/C-metrics-before.prom" "$OUT/C-metrics-after.prom" 2>&1 || true)
    [[ "$fallback" == *absent* ]] || server_fallback="$fallback"
  fi
  echo "$server${server_fallback:+ / fallback: $server_fallback}" > "$OUT/C-server-503.txt"
  server_p99=$(echo "$server" | awk '{for (i=1;i<NF;i++) if ($i=="p99_ms") print $(i+1)}')
  echo "C: 503 p99 $p99_503 ms (generator lag p99 $lag ms) over $n503 answers; 2xx $okrps req/s = $frac of N/L"
  echo "C: server-side 503 latency: $server${server_fallback:+ (fallback: $server_fallback)}"
  {
    echo "## C. ${OVERLOAD}× overload: open loop at $rate req/s, N = $LIMIT, L = $LATENCY_MS ms, queue $QUEUE"
    echo
    echo "Client side (from each request's intended send time); in brackets the load generator's own lag at the same percentile:"
    echo
    echo "| offered/s | 2xx/s | 2xx | 503 | other | errors | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | 503 p99 ms |"
    echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    paste -d'|' <(awk -F, 'NR>1 {printf "| %s | %s | %s | %s | %s | %s ", $2,$5,$6,$7,$8,$9}' "$OUT/C.csv") \
                <(lag_cells "$OUT/C.csv" | sed 's/^/ /; s/$/ |/')
    echo
    echo "503 p99 (client) = **$p99_503 ms** with generator lag p99 $lag ms (issue 5 goal < 2 ms: $(verdict lt "$p99_503" 2)); 2xx under overload = $frac of N/L."
    echo "A generator lag that is not small against the latencies means the load generator itself fell behind (busy machine) and the row overstates latency."
    echo
    if [ -n "$server_p99" ]; then
      echo "Server side (\`$METRIC{status=\"503\"}\`, decode → flush, measured window only): \`$server\`; p99 = **$server_p99 ms** (issue 14 goal < 1 ms: $(verdict lt "$server_p99" 1))."
    else
      echo "Server side: \`$METRIC\` with \`status=\"503\"\` is not exported by this demo build (\`$server\`)."
      if [ -n "${server_fallback:-}" ]; then
        echo "Its request timer instead (\`$METRIC_FALLBACK{status=\"503\"}\`, measured window only; its buckets start at 1 ms, so it cannot resolve the < 1 ms goal): \`$server_fallback\`."
      fi
    fi
    echo
  } >> "$MD"
fi

{ echo "## Machine"; echo; echo '```'; cat "$OUT/machine.txt"; echo '```'; } >> "$MD"
echo "== done: $MD"
