#!/usr/bin/env bash
# netty-sync's fleet limiters vs Redisson on one redis-server, same run, same server.
#   BENCH=semaphore (default): RedisSemaphore vs RPermitExpirableSemaphore: commands per
#     uncontended acquire+release (INFO commandstats), pairs/s with p50/p99.
#   BENCH=rate: RedisRateLimiter vs RRateLimiter: commands per admission, admissions/s with
#     p50/p99 under a limit that does not bind, then admitted/s against a binding rate.
#
#   bench/scripts/redis.sh [extra flags of the bench class, e.g. --seconds=30 --concurrency=128]
#   BENCH=rate bench/scripts/redis.sh [extra RedisRateLimiterBench flags, e.g. --binding-rate=5000]
#
# Starts its own redis-server (--save '' --appendonly no) on a free port unless REDIS_URI is
# set (never point it at a Redis that serves anything: the tool calls CONFIG RESETSTAT).
# Writes $OUT/{machine.txt,redis.md} (BENCH=rate: redis-rate.md); --help of a class:
#   java -cp bench/target/benchmarks.jar dev.nettysync.bench.redis.RedisRateLimiterBench --help
#   BENCH [semaphore]   OUT [bench/results/redis-<UTC time>, BENCH=rate: redis-rate-<UTC time>]
#   REDIS_PORT [6390]   REDIS_CPUS [0] (taskset for redis-server when available)
# Needs redis-server and redis-cli (Debian/Ubuntu: apt-get install redis-server) and
#   mvn -B -ntp -pl netty-sync,netty-sync-redis,bench -am package -DskipTests
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
script_help "$@"

BENCH="${BENCH:-semaphore}"
case "$BENCH" in
  semaphore) class=RedisSemaphoreBench; report=redis.md; prefix=redis ;;
  rate) class=RedisRateLimiterBench; report=redis-rate.md; prefix=redis-rate ;;
  *) echo "error: BENCH=$BENCH: expected semaphore or rate" >&2; exit 2 ;;
esac
need_jar "$BENCH_JAR" "-pl netty-sync,netty-sync-redis,bench -am"
OUT="${OUT:-$REPO_ROOT/bench/results/$prefix-$(date -u +%Y%m%dT%H%M%SZ)}"
need_cmd redis-cli "Install it (Debian/Ubuntu: apt-get install redis-server, or redis-tools for the client alone)."
mkdir -p "$OUT"

if [ -z "${REDIS_URI:-}" ]; then
  need_cmd redis-server "Install it (Debian/Ubuntu: apt-get install redis-server)."
  port="${REDIS_PORT:-6390}"
  while ! port_free "$port"; do port=$((port + 1)); done
  pin=()
  if command -v taskset >/dev/null 2>&1; then pin=(taskset -c "${REDIS_CPUS:-0}"); fi
  start_bg REDIS "$OUT/redis-server.log" "${pin[@]}" redis-server --port "$port" --bind 127.0.0.1 \
    --save '' --appendonly no
  for _ in $(seq 1 100); do
    if redis-cli -p "$port" ping 2>/dev/null | grep -q PONG; then break; fi
    sleep 0.1
  done
  redis-cli -p "$port" ping 2>/dev/null | grep -q PONG || die "redis-server did not start on port $port, see $OUT/redis-server.log"
  REDIS_URI="redis://127.0.0.1:$port"
fi

machine_info "$OUT/machine.txt"
echo "redis: $REDIS_URI $(redis-cli -u "$REDIS_URI" info server 2>/dev/null | grep -m1 redis_version || true)" >> "$OUT/machine.txt"
"$JAVA" -cp "$BENCH_JAR" "dev.nettysync.bench.redis.$class" --redis="$REDIS_URI" "$@" \
  | tee "$OUT/$report"
echo "results: $OUT"
