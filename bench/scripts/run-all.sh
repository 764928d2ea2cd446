#!/usr/bin/env bash
# Runs the three measurements one after the other into one directory and writes summary.md:
#   jmh.sh -> $OUT/jmh/, load.sh -> $OUT/load/, openloop.sh -> $OUT/openloop/
# About 20 minutes on 2 cores with the defaults. Every setting of the three scripts applies
# (JMH_OPTS, DEMO_ARGS, SERVER_CPUS, ...); OUT defaults to bench/results/run-<UTC timestamp>.
# Build first: mvn -B -ntp -pl demo-server,bench -am package -DskipTests
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/common.sh"
no_args "$@"
BASE="${OUT:-$REPO_ROOT/bench/results/run-$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$BASE"
OUT="$BASE/jmh" "$HERE/jmh.sh"
OUT="$BASE/load" "$HERE/load.sh"
OUT="$BASE/openloop" "$HERE/openloop.sh"
{
  echo "# netty-sync benchmark run $(basename "$BASE")"
  echo
  echo "JMH: [jmh/jmh.md](jmh/jmh.md) ([JSON](jmh/jmh.json)); load: [load/load.md](load/load.md); open loop: [openloop/openloop.md](openloop/openloop.md)."
  echo
  sed -n '/^## Goals/,/^## P3: bytes/p' "$BASE/jmh/jmh.md" | sed '$d' | sed 's|(computed from the medians above)|(computed from the medians of the tables in jmh/jmh.md)|'
  sed -n '/^## P3: bytes/,/^## Machine/p' "$BASE/jmh/jmh.md" | sed '$d'
  sed -n '/^## A\./,/^## Machine/p' "$BASE/load/load.md" | sed '$d'
  echo "## Latency against offered load"
  echo
  echo "![latency vs offered load](openloop/latency-vs-load.png)"
  echo
  echo "## Machine"
  echo
  echo '```'
  cat "$BASE/jmh/machine.txt"
  echo '```'
} > "$BASE/summary.md"
echo "== all done: $BASE/summary.md"
