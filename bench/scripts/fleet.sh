#!/usr/bin/env bash
# Fleet limit under overload: three demo instances share one --fleet-limit through one
# redis-server, in front of an upstream that records its own peak concurrency (PeakUpstream).
# wrk drives all three; one demo is killed with SIGKILL mid-run.
#
# Verdicts (the script exits 1 if either fails):
#   1. the upstream's peak concurrency over the whole run is <= FLEET_LIMIT (3 x the local
#      limit would reach it otherwise: each demo runs --max-concurrent FLEET_LIMIT). The demos
#      run with --backend-timeout 60s: a call abandoned by the demo (504) gives its permit back
#      while the upstream may still hold the request, which would count against the check;
#   2. after the kill, every lease held at that moment has left Redis within LEASE + 1 s: the
#      dead instance's permits came back by expiry alone, for the survivors to take.
#
# Needs: wrk, curl, redis-server, redis-cli (Debian: apt-get install wrk redis-server), and
#   mvn -B -ntp -pl netty-sync,netty-sync-redis,demo-server,bench -am package -DskipTests
# Settings (environment), defaults in brackets:
#   FLEET_LIMIT [8]  LATENCY_MS [20] upstream delay  LEASE_MS [2000]  DURATION [20] s of wrk
#   KILL_AT [8] s into the run  WRK_CONNECTIONS [64] per demo  WRK_THREADS [1]
#   BASE_PORT [18100] (redis, upstream, demos on the next free ports)  SERVER_JVM_OPTS [-Xms256m -Xmx256m]
#   DEMO_JAR [demo-server/target/demo-server.jar]  OUT [bench/results/fleet-<UTC timestamp>]
set -euo pipefail
source "$(dirname "$0")/common.sh"
no_args "$@"

DEMO_JAR="${DEMO_JAR:-$REPO_ROOT/demo-server/target/demo-server.jar}"
FLEET_LIMIT="${FLEET_LIMIT:-8}"
LATENCY_MS="${LATENCY_MS:-20}"
LEASE_MS="${LEASE_MS:-2000}"
DURATION="${DURATION:-20}"
KILL_AT="${KILL_AT:-8}"
WRK_CONNECTIONS="${WRK_CONNECTIONS:-64}"
WRK_THREADS="${WRK_THREADS:-1}"
SERVER_JVM_OPTS="${SERVER_JVM_OPTS:--Xms256m -Xmx256m}"
OUT="${OUT:-$REPO_ROOT/bench/results/fleet-$(date -u +%Y%m%dT%H%M%SZ)}"

need_jar "$BENCH_JAR" "-pl netty-sync,netty-sync-redis,demo-server,bench -am"
need_jar "$DEMO_JAR" "-pl netty-sync,netty-sync-redis,demo-server,bench -am"
need_cmd wrk "Install it (Debian/Ubuntu): apt-get install -y wrk"
need_cmd redis-server "Install it (Debian/Ubuntu): apt-get install -y redis-server"
need_cmd redis-cli "Install it (Debian/Ubuntu): apt-get install -y redis-tools"
need_cmd curl "Install curl."
mkdir -p "$OUT"
machine_info "$OUT/machine.txt"

next_port() { local p="$1"; while ! port_free "$p"; do p=$((p + 1)); done; echo "$p"; }
REDIS_PORT=$(next_port "${BASE_PORT:-18100}")
UP_PORT=$(next_port $((REDIS_PORT + 1)))

start_bg REDIS "$OUT/redis-server.log" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no
for _ in $(seq 1 100); do redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done
redis-cli -p "$REDIS_PORT" ping | grep -q PONG || die "redis-server did not start, see $OUT/redis-server.log"

start_bg UP "$OUT/upstream.log" "$JAVA" $SERVER_JVM_OPTS -cp "$BENCH_JAR" dev.nettysync.bench.load.PeakUpstream \
  --port "$UP_PORT" --delay-ms "$LATENCY_MS"
wait_http "http://127.0.0.1:$UP_PORT/peak" 30 || die "upstream did not come up, see $OUT/upstream.log"

DEMO_PORTS=()
DEMO_PIDS=()
port=$((UP_PORT + 1))
for i in 1 2 3; do
  port=$(next_port "$port")
  start_bg DEMO "$OUT/demo-$i.log" "$JAVA" $SERVER_JVM_OPTS -jar "$DEMO_JAR" --host 127.0.0.1 --port "$port" \
    --io-threads 1 --db-ready-delay 0 --upstream "http://127.0.0.1:$UP_PORT" \
    --redis "redis://127.0.0.1:$REDIS_PORT" --fleet-limit "$FLEET_LIMIT" --fleet-lease "${LEASE_MS}ms" \
    --max-concurrent "$FLEET_LIMIT" --max-queue 4096 --max-queue-wait 10s --backend-timeout 60s
  DEMO_PORTS+=("$port")
  DEMO_PIDS+=("$DEMO_PID")
  port=$((port + 1))
done
for p in "${DEMO_PORTS[@]}"; do
  wait_http "http://127.0.0.1:$p/readyz" 60 || die "demo on $p did not become ready, see $OUT/demo-*.log"
done

curl -s "http://127.0.0.1:$UP_PORT/reset" > /dev/null
WRK_PIDS=()
for i in 0 1 2; do
  wrk -t "$WRK_THREADS" -c "$WRK_CONNECTIONS" -d "${DURATION}s" --latency \
    "http://127.0.0.1:${DEMO_PORTS[$i]}/api/items/1" > "$OUT/wrk-$((i + 1)).txt" 2>&1 &
  WRK_PIDS+=("$!")
  STARTED_PIDS+=("$!")   # a SIGTERM or Ctrl-C of the script stops them too
done

sleep "$KILL_AT"
# Kill demo 3 while it holds a fleet permit: its lease ids start with the id it logged.
LEASES_KEY='nsync:sem:{demo-backend}:leases'
prefix=$(sed -nE "s/.*lease ids start with ([0-9a-f]+).*/\1/p" "$OUT/demo-3.log" | head -1)
[ -n "$prefix" ] || die "demo 3 did not log its lease id prefix, see $OUT/demo-3.log"
dead_leases=()
for _ in $(seq 1 200); do
  mapfile -t dead_leases < <(redis-cli -p "$REDIS_PORT" zrange "$LEASES_KEY" 0 -1 | grep "^$prefix-" || true)
  [ "${#dead_leases[@]}" -gt 0 ] && break
  sleep 0.01
done
kill -KILL "${DEMO_PIDS[2]}"
kill_ns=$(date +%s%N)
# what it held at the kill (taken again after it: no release can come from it any more)
mapfile -t dead_leases < <(redis-cli -p "$REDIS_PORT" zrange "$LEASES_KEY" 0 -1 | grep "^$prefix-" || true)
echo "killed demo 3 (pid ${DEMO_PIDS[2]}) at ~${KILL_AT}s holding ${#dead_leases[@]} lease(s)" | tee "$OUT/kill.txt"

# The survivors regain its permits when its leases leave Redis: by expiry alone, reaped by the
# next script the survivors run. Read from Redis, so the figure does not depend on how fast this
# machine lets the survivors fill the upstream.
regain_ms=""
deadline_ns=$((kill_ns + (LEASE_MS + 5000) * 1000000))
while [ "${#dead_leases[@]}" -gt 0 ] && [ "$(date +%s%N)" -lt "$deadline_ns" ]; do
  if ! redis-cli -p "$REDIS_PORT" zmscore "$LEASES_KEY" "${dead_leases[@]}" | grep -q '[0-9]'; then
    regain_ms=$(( ($(date +%s%N) - kill_ns) / 1000000 ))
    break
  fi
  sleep 0.05
done

for p in "${WRK_PIDS[@]}"; do wait "$p" || true; forget_pid "$p"; done
peak_line=$(curl -s "http://127.0.0.1:$UP_PORT/peak")
peak=$(echo "$peak_line" | sed -E 's/peak=([0-9]+).*/\1/')
leases=$(redis-cli -p "$REDIS_PORT" zcard 'nsync:sem:{demo-backend}:leases')

{
  echo "# Fleet limit: 3 demos, --fleet-limit $FLEET_LIMIT, lease ${LEASE_MS} ms, upstream delay ${LATENCY_MS} ms"
  echo
  echo "| demo | 2xx+non-2xx requests/s (wrk) | non-2xx |"
  echo "|---|---|---|"
  for i in 1 2 3; do
    rps=$( (grep -m1 'Requests/sec' "$OUT/wrk-$i.txt" || true) | awk '{print $2}')
    non2xx=$( (grep -m1 'Non-2xx' "$OUT/wrk-$i.txt" || true) | awk '{print $NF}')
    echo "| $i$([ "$i" = 3 ] && echo ' (SIGKILL at '"$KILL_AT"' s)') | ${rps:-n/a} | ${non2xx:-0} |"
  done
  echo
  echo "upstream: $peak_line; leases left in Redis after the run: $leases"
  echo
  if [ -n "$peak" ] && [ "$peak" -le "$FLEET_LIMIT" ]; then
    echo "PASS peak concurrency $peak <= fleet limit $FLEET_LIMIT"
  else
    echo "FAIL peak concurrency ${peak:-?} > fleet limit $FLEET_LIMIT"
  fi
  if [ "${#dead_leases[@]}" -eq 0 ]; then
    echo "FAIL demo 3 held no lease when killed: nothing to regain, rerun (or raise WRK_CONNECTIONS)"
  elif [ -n "$regain_ms" ] && [ "$regain_ms" -le $((LEASE_MS + 1000)) ]; then
    echo "PASS the dead instance's ${#dead_leases[@]} lease(s) were gone ${regain_ms} ms after the kill (lease + 1 s = $((LEASE_MS + 1000)) ms)"
  else
    echo "FAIL the dead instance's permits were not back within lease + 1 s (${regain_ms:-never} ms)"
  fi
} | tee "$OUT/fleet.md"
echo "results: $OUT"
! grep -q '^FAIL' "$OUT/fleet.md"
