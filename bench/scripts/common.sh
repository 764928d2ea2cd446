# Shared helpers of the bench scripts. Sourced, not run. Nothing here installs anything.
# Every server a script starts is recorded in STARTED_PIDS and stopped (by its PID) on exit.

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BENCH_JAR="${BENCH_JAR:-$REPO_ROOT/bench/target/benchmarks.jar}"
JAVA="${JAVA:-java}"
STARTED_PIDS=()

die() { echo "error: $*" >&2; exit 1; }

# script_help "$@": -h or --help as the first argument prints the calling script's header
# comment (its usage and settings) and exits 0.
script_help() {
  case "${1:-}" in
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
  esac
}

# no_args "$@": for the scripts whose settings are all environment variables: --help, else any
# argument is refused (exit 2) rather than ignored.
no_args() {
  script_help "$@"
  if [ "$#" -gt 0 ]; then
    echo "error: $(basename "$0") takes no argument ('$1'): its settings are environment variables, see $(basename "$0") --help" >&2
    exit 2
  fi
}

need_jar() {
  [ -f "$1" ] || die "$1 not found; build it first: (cd $REPO_ROOT && mvn -B -ntp $2 package -DskipTests)"
}

need_cmd() {
  command -v "$1" >/dev/null 2>&1 || die "'$1' not found. $2"
}

# machine_info FILE: what the numbers were measured on
machine_info() {
  {
    echo "date (UTC): $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "host: $(uname -srm)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ //') x $(nproc) online"
    echo "memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo 2>/dev/null)"
    echo "load average before the run: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"
    echo "java: $("$JAVA" -version 2>&1 | head -1)"
    echo "git: $(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null) $(git -C "$REPO_ROOT" status --porcelain 2>/dev/null | wc -l | tr -d ' ') uncommitted paths"
    if command -v wrk >/dev/null 2>&1; then echo "wrk: $(wrk -v 2>&1 | head -1)"; fi
    local j
    for j in "$BENCH_JAR" "${DEMO_JAR:-}"; do
      if [ -n "$j" ] && [ -f "$j" ]; then
        echo "jar: $(basename "$j") built $(date -u -r "$j" +%Y-%m-%dT%H:%M:%SZ)"
      fi
    done
  } > "$1"
}

# default_pinning: unless PIN=0, or SERVER_CPUS / CLIENT_CPUS are set, split the online CPUs:
# servers on the first half, load generators on the second (2 cores: 0 and 1), with taskset.
# Sets SERVER_PIN / CLIENT_PIN (command prefixes) and PINNING (a sentence for the reports).
default_pinning() {
  local n
  n=$(nproc 2>/dev/null || echo 1)
  if [ "${PIN:-1}" != 0 ] && [ -z "${SERVER_CPUS:-}" ] && [ -z "${CLIENT_CPUS:-}" ] && [ "$n" -ge 2 ] \
      && command -v taskset >/dev/null 2>&1; then
    SERVER_CPUS="0-$((n / 2 - 1))"; CLIENT_CPUS="$((n / 2))-$((n - 1))"
    [ "$n" = 2 ] && SERVER_CPUS=0 && CLIENT_CPUS=1
  fi
  if [ "${PIN:-1}" = 0 ]; then SERVER_CPUS=""; CLIENT_CPUS=""; fi
  SERVER_PIN=(); CLIENT_PIN=()
  if [ -n "${SERVER_CPUS:-}" ]; then need_cmd taskset "It is in util-linux."; SERVER_PIN=(taskset -c "$SERVER_CPUS"); fi
  if [ -n "${CLIENT_CPUS:-}" ]; then need_cmd taskset "It is in util-linux."; CLIENT_PIN=(taskset -c "$CLIENT_CPUS"); fi
  if [ -n "${SERVER_CPUS:-}${CLIENT_CPUS:-}" ]; then
    PINNING="servers pinned to CPU(s) ${SERVER_CPUS:-any}, load generators to CPU(s) ${CLIENT_CPUS:-any} (taskset; PIN=0 turns it off)"
  else
    PINNING="not pinned: servers and load generators share all $n CPU(s) (PIN=0 or a single CPU)"
  fi
}

# lag_cells CSV: for each data row of an OpenLoopClient CSV, "latency [generator lag]" cells for
# p50, p90, p99, p99.9, max and the 503 p99, separated by " | " (markdown), one row per line.
lag_cells() {
  awk -F, 'NR==1 {for (i=1;i<=NF;i++) c[$i]=i; next}
    function cell(lat, lag) { return (lat in c ? $c[lat] : "n/a") " [" (lag in c ? $c[lag] : "n/a") "]" }
    {print cell("p50_ms","gen_lag_p50_ms") " | " cell("p90_ms","gen_lag_p90_ms") " | " cell("p99_ms","gen_lag_p99_ms") " | " \
       cell("p999_ms","gen_lag_p999_ms") " | " cell("max_ms","gen_lag_max_ms") " | " cell("s503_p99_ms","gen_lag_p99_ms")}' "$1"
}

port_free() {
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# start_bg NAME LOGFILE CMD...: starts CMD in the background, remembers its PID in STARTED_PIDS
start_bg() {
  local name="$1" log="$2"; shift 2
  "$@" > "$log" 2>&1 &
  local pid=$!
  STARTED_PIDS+=("$pid")
  eval "${name}_PID=$pid"
}

# forget_pid PID: drops PID from STARTED_PIDS once it has been waited for (its number may then be
# given to another process, which stop_all must not signal)
forget_pid() {
  local p kept=()
  for p in "${STARTED_PIDS[@]}"; do
    if [ "$p" != "$1" ]; then kept+=("$p"); fi
  done
  STARTED_PIDS=("${kept[@]}")
}

# run_fg CMD...: runs CMD (a load generator) to its end, as a child that SIGTERM or Ctrl-C of
# this script stops at once: a command in the foreground would delay the script's traps (and so
# the stop of its servers) until it ended by itself. Returns CMD's status.
run_fg() {
  "$@" &
  local pid=$! rc=0
  STARTED_PIDS+=("$pid")
  wait "$pid" || rc=$?
  forget_pid "$pid"
  return "$rc"
}

# stop_pid PID: stops one server this script started (TERM, then KILL after 15 s)
stop_pid() {
  local pid="$1" i
  if ! kill -0 "$pid" 2>/dev/null; then wait "$pid" 2>/dev/null || true; forget_pid "$pid"; return 0; fi
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 150); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; forget_pid "$pid"; return 0; }
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  forget_pid "$pid"
}

stop_all() {
  local pid
  for pid in "${STARTED_PIDS[@]}"; do
    stop_pid "$pid"
  done
  STARTED_PIDS=()
}
trap stop_all EXIT
trap 'exit 130' INT TERM

# wait_http URL SECONDS: waits until URL answers 200
wait_http() {
  local url="$1" secs="$2" i
  for i in $(seq 1 $((secs * 10))); do
    if [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$url" 2>/dev/null)" = "200" ]; then
      return 0
    fi
    sleep 0.1
  done
  return 1
}

# wrk_rps FILE: Requests/sec from a wrk output file
wrk_rps() { awk '/^Requests\/sec:/ {print $2}' "$1"; }
# wrk_non2xx FILE: non-2xx/3xx responses (0 if the line is absent)
wrk_non2xx() { awk '/Non-2xx or 3xx responses:/ {n=$NF} END {print n+0}' "$1"; }
# wrk_p99 FILE: the 99% latency line of wrk --latency
wrk_p99() { awk '$1=="99%" {print $2}' "$1"; }

median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) {print "nan"} else if (NR%2) {print a[(NR+1)/2]} else {print (a[NR/2]+a[NR/2+1])/2}}'; }
