# Shared helpers of the stack/<service> launchers: jar fetching, pid files, waiting.
#
# Sourced, not run. Every launcher keeps its runtime state (jars, data, logs, pid file)
# under stack/.run/<service>/ and its Maven downloads in the user's local repository.
#
# A launcher defines the functions start, stop, status and reset, and the array STACK_ENV
# (NAME=VALUE settings that point bdp at its server), then hands its arguments to
# stack_main, so every stack/<service> takes the same commands:
#   start|stop|status|reset  as the launcher defines them
#   env                      print STACK_ENV as `export` lines, for
#                            `eval "$(stack/<service> env)"`; it only prints: the same
#                            lines whether or not the server runs (`status` tells that)

STACK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
STACK_RUN="$STACK_DIR/.run"

stack_log() { printf '%s: %s\n' "${STACK_SERVICE:-stack}" "$*" >&2; }
stack_die() {
  stack_log "$*"
  exit 1
}

# fetch_jars POM LIBDIR: copy the POM's runtime dependencies into LIBDIR, once per POM
# version (a stamp holding the POM's checksum tells whether the copy is current).
fetch_jars() {
  local pom="$1" lib="$2" stamp sum
  stamp="$lib/.fetched"
  sum="$(sha256sum "$pom" | cut -d' ' -f1)"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$sum" ]]; then
    return 0
  fi
  command -v mvn >/dev/null || stack_die "Maven (mvn) is needed to fetch the jars"
  stack_log "fetching jars with Maven (cached in the local Maven repository)"
  rm -rf "$lib"
  mkdir -p "$lib"
  if ! mvn -q -B -f "$pom" dependency:copy-dependencies \
    -DoutputDirectory="$lib" -DincludeScope=runtime >"$lib/../mvn.log" 2>&1; then
    tail -n 30 "$lib/../mvn.log" >&2
    stack_die "fetching the jars failed (log: $lib/../mvn.log)"
  fi
  echo "$sum" >"$stamp"
}

# pid_of PIDFILE: print the recorded pid if that process is still alive.
pid_of() {
  local pidfile="$1" pid
  [[ -f "$pidfile" ]] || return 1
  pid="$(cat "$pidfile")"
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

# stop_pid PIDFILE SECONDS: SIGTERM, wait up to SECONDS for a clean exit, then SIGKILL.
# Idempotent: a missing or stale pid file is a successful stop.
stop_pid() {
  local pidfile="$1" grace="$2" pid waited=0
  if ! pid="$(pid_of "$pidfile")"; then
    rm -f "$pidfile"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null && ((waited < grace * 10)); do
    sleep 0.1
    waited=$((waited + 1))
  done
  if kill -0 "$pid" 2>/dev/null; then
    stack_log "no clean exit after ${grace}s; sending SIGKILL to $pid"
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  fi
  rm -f "$pidfile"
}

# port_open HOST PORT: whether something accepts TCP connections there.
port_open() {
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

# wait_until SECONDS PID COMMAND...: run COMMAND every half second until it succeeds;
# fail when SECONDS pass or when process PID (the service being started) exits.
wait_until() {
  local seconds="$1" pid="$2" deadline
  shift 2
  deadline=$((SECONDS + seconds))
  until "$@"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      return 2
    fi
    if ((SECONDS >= deadline)); then
      return 1
    fi
    sleep 0.5
  done
}

# stack_env NAME=VALUE...: one `export NAME=VALUE` line each, the value quoted for the
# shell, so that `eval` sets exactly that value.
stack_env() {
  local setting
  for setting in "$@"; do
    printf 'export %s=%q\n' "${setting%%=*}" "${setting#*=}"
  done
}

# stack_main ARGS...: run the launcher command named by the first argument.
stack_main() {
  case "${1:-}" in
  start | stop | status | reset) "$1" ;;
  env) stack_env "${STACK_ENV[@]}" ;;
  *)
    echo "usage: $0 start|stop|status|reset|env${STACK_USAGE_EXTRA:-}" >&2
    exit 2
    ;;
  esac
}
