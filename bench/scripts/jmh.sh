#!/usr/bin/env bash
# Runs the JMH suite (all benchmarks, every peer as a @Param, -prof gc) and writes
#   $OUT/jmh.json      JMH's JSON result
#   $OUT/jmh.md        Markdown: one table per benchmark with ratios to netty-sync, the P1-P3
#                      verdicts, and the bytes-per-queued-waiter table
#   $OUT/jmh.log, $OUT/footprint.md, $OUT/machine.txt
#
# Usage: bench/scripts/jmh.sh [extra JMH args, e.g. a benchmark regexp or -p depth=10,1000]
# Settings (environment):
#   JMH_OPTS   JMH run settings. Default "-f 1 -wi 2 -w 1s -i 3 -r 1s": about 18 minutes for the
#              whole suite on 2 cores (about 120 forks, each pre-touching a 1 GB heap; an estimate:
#              the limiter subset alone took 4.5 min on 2026-11-26).
#              JMH_OPTS=" " uses the classes' own defaults (-wi 2 -i 5, 10 iterations for cross-loop).
#   PROF       profilers, default "-prof gc" (B/op); set PROF= to drop it
#   OUT        output directory, default bench/results/jmh-<UTC timestamp>
#   FOOTPRINT_DEPTH  waiters for the footprint table, default 1000000 (0 skips it)
#   SMOKE=1    sanity run (1 fork, 1 short iteration, small params): checks that everything
#              runs, the numbers mean nothing; still one JVM per row (about 115 forks), so
#              minutes, not the seconds of iterations JMH's first ETA counts
# Build first: mvn -B -ntp -pl demo-server,bench -am package -DskipTests
set -euo pipefail
source "$(dirname "$0")/common.sh"
script_help "$@"
need_jar "$BENCH_JAR" "-pl demo-server,bench -am"

STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
OUT="${OUT:-$REPO_ROOT/bench/results/jmh-$STAMP}"
PROF="${PROF--prof gc}"
if [ "${SMOKE:-0}" = 1 ]; then
  JMH_OPTS="${JMH_OPTS:--f 1 -wi 1 -w 200ms -i 1 -r 300ms -p depth=10,1000 -p waiters=10,100}"
  FOOTPRINT_DEPTH="${FOOTPRINT_DEPTH:-10000}"
else
  JMH_OPTS="${JMH_OPTS:--f 1 -wi 2 -w 1s -i 3 -r 1s}"
  FOOTPRINT_DEPTH="${FOOTPRINT_DEPTH:-1000000}"
fi
mkdir -p "$OUT"
machine_info "$OUT/machine.txt"
echo "== JMH: $JMH_OPTS $PROF $*  -> $OUT"
# shellcheck disable=SC2086  # JMH_OPTS and PROF are word lists on purpose
if ! "$JAVA" -jar "$BENCH_JAR" --json "$OUT/jmh.json" --md "$OUT/jmh.md" $JMH_OPTS $PROF "$@" 2>&1 | tee "$OUT/jmh.log"; then
  die "JMH failed, see $OUT/jmh.log"   # (under set -e a bare failing pipeline ended the script before any message)
fi

if [ "$FOOTPRINT_DEPTH" != 0 ]; then
  echo "== waiter footprint ($FOOTPRINT_DEPTH waiters)"
  "$JAVA" -Xms2g -Xmx2g -cp "$BENCH_JAR" dev.nettysync.bench.jmh.WaiterFootprint "$FOOTPRINT_DEPTH" | tee "$OUT/footprint.md"
  { echo; echo "## P3: bytes per queued waiter"; echo; cat "$OUT/footprint.md"; } >> "$OUT/jmh.md"
fi
{ echo; echo "## Machine"; echo; echo '```'; cat "$OUT/machine.txt"; echo '```'; } >> "$OUT/jmh.md"
if grep -q "<failure>" "$OUT/jmh.log"; then
  die "some benchmarks failed, see $OUT/jmh.log"
fi
echo "== done: $OUT/jmh.md and $OUT/jmh.json"
