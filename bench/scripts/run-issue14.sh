#!/usr/bin/env bash
# Issue 14 in one sitting: every row the issue asks for, netty-sync "before" and "after" side by
# side with the peers, then one Markdown report with medians, means, B/op, GC share, the ratio
# tables and the goals.
#
#   P1          UncontendedBenchmark: tryAcquire+release, acquire+release; nettysync, jdk, asyncutil, naive
#   same loop   SameLoopHandoffBenchmark: 16 and 1024 waiters; nettysync, naive, asyncutilInline, asyncutil
#   cross loop  CrossLoopHandoffBenchmark: burst 1 and 4; bareHop (the physical limit), nettysync,
#               asyncutil, asyncutilInline, naive; netty-sync reported as a fraction of bareHop
#   P2 (issue 5) ContendedHandoffBenchmark: 2 loops x 8 clients, 1 permit, pattern alternate
#   P3          DeepQueueBenchmark: releaseAndRequeue, cancelAndRequeue, randomTouch (control) at
#               10, 10^4, 10^6 waiters under G1, then release/cancel under each of DEEP_GCS
#   footprint   WaiterFootprint: bytes per queued waiter (10^6 waiters)
#   overload    load.sh phase C: demo-server at 10x overload, open loop; 503 latency from the
#               client (with the generator's lag) and from the server's own timer when exported
#
# "before" is the library built from git rev BEFORE; "after" the library of the checkout as it
# is (or of git rev AFTER). The benchmark code is always this checkout's: each version's library
# jar goes first on the class path (checked with BenchSuite --library), so the same benchmark
# bodies measure both. The "after" pass runs every peer, the "before" pass netty-sync only (the
# peers are the same code in both; BEFORE_PEERS=1 measures them twice, which shows the drift).
# The two passes are interleaved benchmark by benchmark, so both see the same machine.
#
# Settings (environment), defaults in brackets:
#   MODE [FULL]      FULL: ~18 min on 2 cores (class defaults: 2 x 1 s warm-up, 5 x 1 s measured,
#                    10 for the cross-loop rows; 1 GB pre-touched heap). QUICK: ~3 min smoke run
#                    (short iterations, small heap, no 10^6 depth), its numbers mean nothing.
#   BEFORE [026759b] git rev of the "before" library; BEFORE= (empty) skips the before pass
#   AFTER [worktree] "worktree" = this checkout as it is, or a git rev
#   DEEP_GCS [Parallel]  extra collectors for the deep-queue rows: Parallel, ZGC (space-separated)
#   BEFORE_PEERS [0] 1: run the peers in the before pass too
#   LOAD [1]         0 skips the overload phase (it needs curl; wrk is not used)
#   SKIP_BUILD [0]   1: reuse the jars of a previous run in OUT (same OUT)
#   MVN_ARGS [-B -ntp -q]  e.g. add -o when every dependency is already in ~/.m2
#   JMH_EXTRA []     extra JMH arguments for every pass (e.g. -foe true)
#   OUT [bench/results/issue14-<UTC timestamp>]
#
# Writes $OUT/report.md (everything), $OUT/summary.md (machine, goals, before/after table, overload),
# $OUT/jmh/*.json and logs, $OUT/footprint-*.md, $OUT/load-*/.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/common.sh"
no_args "$@"

MODE="${MODE:-FULL}"
BEFORE="${BEFORE-026759b}"
AFTER="${AFTER:-worktree}"
DEEP_GCS="${DEEP_GCS:-Parallel}"
BEFORE_PEERS="${BEFORE_PEERS:-0}"
LOAD="${LOAD:-1}"
SKIP_BUILD="${SKIP_BUILD:-0}"
MVN_ARGS="${MVN_ARGS:--B -ntp -q}"
JMH_EXTRA="${JMH_EXTRA:-}"
OUT="${OUT:-$REPO_ROOT/bench/results/issue14-$(date -u +%Y%m%dT%H%M%SZ)}"

case "$MODE" in
  FULL)
    JMH_OPTS=""                    # the classes' own @Warmup/@Measurement/@Fork
    DEPTHS="10,10000,1000000"
    FOOTPRINT_DEPTH=1000000
    export OL_DURATION="${OL_DURATION:-10}" OL_WARMUP="${OL_WARMUP:-5}"
    ;;
  QUICK)
    # short iterations, no pre-touch, small heap: checks that every row runs and the report builds
    JMH_OPTS="-f 1 -wi 1 -w 100ms -i 2 -r 100ms -jvmArgsAppend -Xms256m -jvmArgsAppend -Xmx256m -jvmArgsAppend -Dio.netty.leakDetection.level=disabled"
    DEPTHS="10,10000"
    FOOTPRINT_DEPTH=10000
    export OL_DURATION="${OL_DURATION:-2}" OL_WARMUP="${OL_WARMUP:-1}"
    ;;
  *) die "MODE must be FULL or QUICK, was $MODE" ;;
esac

mkdir -p "$OUT/jmh" "$OUT/lib"
machine_info "$OUT/machine.txt"
VERSIONS=(after)
[ -n "$BEFORE" ] && VERSIONS+=(before)

# ------------------------------------------------------------------ build
# build_rev REV DIR: the library and demo-server of git rev REV, built from a clean export in DIR
build_rev() {
  local rev="$1" dir="$2"
  git -C "$REPO_ROOT" rev-parse --verify -q "$rev^{commit}" >/dev/null || die "unknown git rev '$rev'"
  rm -rf "$dir"; mkdir -p "$dir"
  git -C "$REPO_ROOT" archive --format=tar "$rev" | tar -x -C "$dir"
  echo "== building netty-sync and demo-server at $rev ($(git -C "$REPO_ROOT" rev-parse --short "$rev")) in $dir"
  # shellcheck disable=SC2086
  (cd "$dir" && mvn $MVN_ARGS -pl netty-sync,demo-server -am package -DskipTests) || die "build of $rev failed"
}

lib_jar_of() {  # lib_jar_of DIR: the library jar built in DIR
  local j
  for j in "$1"/netty-sync/target/netty-sync-*.jar; do
    case "$j" in *-tests.jar|*-sources.jar|*-javadoc.jar) ;; *) echo "$j"; return 0 ;; esac
  done
  die "no library jar in $1/netty-sync/target"
}

if [ "$SKIP_BUILD" != 1 ]; then
  echo "== building this checkout (benchmarks.jar$( [ "$AFTER" = worktree ] && echo ", library and demo-server: the 'after' version"))"
  # shellcheck disable=SC2086
  (cd "$REPO_ROOT" && mvn $MVN_ARGS -pl netty-sync,demo-server,bench -am package -DskipTests) || die "build failed"
  cp "$BENCH_JAR" "$OUT/lib/benchmarks.jar"
  if [ "$AFTER" = worktree ]; then
    cp "$(lib_jar_of "$REPO_ROOT")" "$OUT/lib/netty-sync-after.jar"
    cp "$REPO_ROOT/demo-server/target/demo-server.jar" "$OUT/lib/demo-server-after.jar"
  else
    build_rev "$AFTER" "$OUT/src-after"
    cp "$(lib_jar_of "$OUT/src-after")" "$OUT/lib/netty-sync-after.jar"
    cp "$OUT/src-after/demo-server/target/demo-server.jar" "$OUT/lib/demo-server-after.jar"
  fi
  if [ -n "$BEFORE" ]; then
    build_rev "$BEFORE" "$OUT/src-before"
    cp "$(lib_jar_of "$OUT/src-before")" "$OUT/lib/netty-sync-before.jar"
    cp "$OUT/src-before/demo-server/target/demo-server.jar" "$OUT/lib/demo-server-before.jar"
  fi
fi
BENCH="$OUT/lib/benchmarks.jar"
need_jar "$BENCH" "-pl demo-server,bench -am"

describe_version() {  # describe_version after|before: the git rev the library was built from
  case "$1" in
    after)
      if [ "$AFTER" = worktree ]; then
        echo "$(git -C "$REPO_ROOT" rev-parse --short HEAD) + $(git -C "$REPO_ROOT" status --porcelain 2>/dev/null | wc -l | tr -d ' ') uncommitted paths (this checkout)"
      else
        echo "$(git -C "$REPO_ROOT" rev-parse --short "$AFTER") ($AFTER)"
      fi ;;
    before) echo "$(git -C "$REPO_ROOT" rev-parse --short "$BEFORE") ($BEFORE)" ;;
  esac
}

for v in "${VERSIONS[@]}"; do
  lib="$OUT/lib/netty-sync-$v.jar"
  need_jar "$lib" "-pl netty-sync"
  loaded=$("$JAVA" -cp "$lib:$BENCH" dev.nettysync.bench.jmh.BenchSuite --library)
  [ "$loaded" = "$(basename "$lib")" ] || die "$v: the library's classes load from $loaded, not $(basename "$lib")"
  echo "== $v: netty-sync $(describe_version "$v"), classes from $loaded"
done

# ------------------------------------------------------------------ JMH
# Each spec: NAME|JMH arguments (regexp, -p, -jvmArgs). Peers are chosen with -p impl=...
SPECS=(
  "p1|UncontendedBenchmark -p impl=nettysync,jdk,asyncutil,naive"
  "sameloop|SameLoopHandoffBenchmark"
  "crossloop|CrossLoopHandoffBenchmark"
  "p2|ContendedHandoffBenchmark -p permits=1 -p pattern=alternate -p clientsPerLoop=8"
  "deep|DeepQueueBenchmark -p depth=$DEPTHS"
)
for gc in $DEEP_GCS; do
  case "$gc" in
    Parallel|parallel) flag=-XX:+UseParallelGC ;;
    ZGC|Z|zgc|z) flag=-XX:+UseZGC ;;
    Serial|serial) flag=-XX:+UseSerialGC ;;
    G1|g1) continue ;;
    *) die "unknown collector '$gc' in DEEP_GCS (Parallel, ZGC, Serial)" ;;
  esac
  SPECS+=("deep-$gc|DeepQueueBenchmark\\.(releaseAndRequeue|cancelAndRequeue) -p depth=$DEPTHS -p impl=nettysync,naive -jvmArgs $flag")
done

FAILED=()
run_spec() {  # run_spec VERSION NAME ARGS: one JMH invocation -> $OUT/jmh/NAME-VERSION.json
  local v="$1" name="$2" args="$3" lib="$OUT/lib/netty-sync-$1.jar" json="$OUT/jmh/$2-$1.json"
  if [ "$v" = before ] && [ "$BEFORE_PEERS" != 1 ]; then
    args="$(echo "$args" | sed -E 's/-p impl=[^ ]*//') -p impl=nettysync"
  fi
  echo "== [$v] $name: $args $JMH_OPTS $JMH_EXTRA -prof gc"
  # shellcheck disable=SC2086  # word lists on purpose
  "$JAVA" -cp "$lib:$BENCH" dev.nettysync.bench.jmh.BenchSuite --json "$json" $args $JMH_OPTS $JMH_EXTRA -prof gc \
    > "$OUT/jmh/$name-$v.log" 2>&1 || FAILED+=("$name-$v (exit $?)")
  if grep -q "<failure>" "$OUT/jmh/$name-$v.log"; then FAILED+=("$name-$v (a benchmark threw, see jmh/$name-$v.log)"); fi
  # the result table of the run, without the profiler's rows
  grep -E '^(Benchmark +\(|[A-Z][A-Za-z]+Benchmark\.)' "$OUT/jmh/$name-$v.log" | grep -v -e 'gc\.' -e 'result is saved' | sed 's/^/   /' || true
}

case "$MODE" in
  FULL) echo "== FULL: about 17 min of JMH, footprint and overload on a quiet 2-core machine (from here)" ;;
  QUICK) echo "== QUICK: a few minutes; the numbers mean nothing" ;;
esac
START=$(date +%s)
for spec in "${SPECS[@]}"; do
  name="${spec%%|*}"; args="${spec#*|}"
  for v in "${VERSIONS[@]}"; do
    run_spec "$v" "$name" "$args"
  done
done
echo "== JMH took $(( ($(date +%s) - START) / 60 )) min"

# ------------------------------------------------------------------ footprint
for v in "${VERSIONS[@]}"; do
  impls=""
  if [ "$v" = before ] && [ "$BEFORE_PEERS" != 1 ]; then impls=nettysync; fi
  echo "== [$v] waiter footprint, $FOOTPRINT_DEPTH waiters"
  # shellcheck disable=SC2086
  "$JAVA" -Xms2g -Xmx2g -cp "$OUT/lib/netty-sync-$v.jar:$BENCH" dev.nettysync.bench.jmh.WaiterFootprint "$FOOTPRINT_DEPTH" $impls \
    > "$OUT/footprint-$v.md" 2> "$OUT/footprint-$v.log" || FAILED+=("footprint-$v")
  cat "$OUT/footprint-$v.md"
done

# ------------------------------------------------------------------ overload (load.sh phase C)
if [ "$LOAD" = 1 ]; then
  for v in "${VERSIONS[@]}"; do
    echo "== [$v] demo-server at 10x overload"
    PHASES=C DEMO_JAR="$OUT/lib/demo-server-$v.jar" BENCH_JAR="$BENCH" OUT="$OUT/load-$v" "$HERE/load.sh" \
      > "$OUT/load-$v.log" 2>&1 || FAILED+=("load-$v (see load-$v.log)")
    grep -E "^(==|C:)" "$OUT/load-$v.log" | sed 's/^/   /' || true
  done
fi

# ------------------------------------------------------------------ report
{
  echo "Mode: $MODE. Library versions: after = $(describe_version after)$( [ -n "$BEFORE" ] && echo "; before = $(describe_version before)")."
  echo "Machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ //')), load average before the run $(grep 'load average' "$OUT/machine.txt" | cut -d: -f2- | sed 's/^ //'), now $(cut -d' ' -f1-3 /proc/loadavg); $("$JAVA" -version 2>&1 | head -1); benchmark code at $(git -C "$REPO_ROOT" rev-parse --short HEAD)."
  echo "JMH: \`${JMH_OPTS:-class defaults (2 x 1 s warm-up, 5 x 1 s measured, 10 for cross-loop; 1 fork; -Xms1g -Xmx1g -XX:+AlwaysPreTouch)}\` -prof gc ${JMH_EXTRA}; deep-queue collectors: G1 $DEEP_GCS."
} > "$OUT/header.md"
files=()
for v in "${VERSIONS[@]}"; do
  for f in "$OUT"/jmh/*-"$v".json; do [ -s "$f" ] && files+=("$f=$v"); done
done
[ "${#files[@]}" -gt 0 ] || die "no JMH results in $OUT/jmh"
"$JAVA" -cp "$BENCH" dev.nettysync.bench.jmh.BenchReport --md "$OUT/report.md" --header "$(cat "$OUT/header.md")" "${files[@]}"
{
  echo; echo "## Bytes per queued waiter"; echo
  for v in "${VERSIONS[@]}"; do echo "### $v"; echo; cat "$OUT/footprint-$v.md"; echo; done
  if [ "$LOAD" = 1 ]; then
    echo "## Demo overload (load.sh phase C)"; echo
    for v in "${VERSIONS[@]}"; do
      echo "### $v"; echo
      sed -n '/^## C\./,/^## Machine/p' "$OUT/load-$v/load.md" 2>/dev/null | sed '1d;$d' || echo "(no result, see load-$v.log)"
      echo
    done
  fi
  echo "## Machine"; echo; echo '```'; cat "$OUT/machine.txt"; echo '```'
} >> "$OUT/report.md"

{
  echo "# Issue 14 run $(basename "$OUT")"
  echo
  cat "$OUT/header.md"
  echo
  echo "Full tables: [report.md](report.md)."
  echo
  sed -n '/^## netty-sync after vs/,/^## Goals/p' "$OUT/report.md" | sed '$d'
  sed -n '/^## Goals/,/^Ratios to a peer/p' "$OUT/report.md"
  sed -n '/^## Bytes per queued waiter/,$p' "$OUT/report.md"
  if [ "${#FAILED[@]}" -gt 0 ]; then
    echo; echo "**Failures:** ${FAILED[*]}"
  fi
} > "$OUT/summary.md"

echo
sed -n '/^## Goals/,/^Ratios to a peer/p' "$OUT/report.md"
echo
echo "== total $(( ($(date +%s) - START) / 60 )) min after the build; report: $OUT/report.md, summary: $OUT/summary.md"
if [ "${#FAILED[@]}" -gt 0 ]; then
  die "failures: ${FAILED[*]}"
fi
