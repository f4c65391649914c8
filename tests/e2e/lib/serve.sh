# Sourced by tests/e2e/run.sh and bench/web/latency.sh: starts real `gauntlet serve`
# processes on free loopback ports, each with a fresh temporary data dir and the repo's
# bundled exercises, waits for /readyz, and stops them all on exit (or interrupt).
#
#   source tests/e2e/lib/serve.sh        # from the repo root; sets GAUNTLET_BIN
#   serve_start main GAUNTLET_RATE_LIMITS=off ...   # sets SERVE_URL_main, SERVE_DATA_main
#   serve_stop_all                       # also run by the EXIT trap serve_install_trap sets
#
# GAUNTLET_BIN: the binary (default target/debug/gauntlet). GAUNTLET_WEB_DIR, when set in
# the caller's environment, is passed on: serve then reads the front end from that folder.

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
GAUNTLET_BIN=${GAUNTLET_BIN:-$REPO_ROOT/target/debug/gauntlet}
case $GAUNTLET_BIN in /*) ;; *) GAUNTLET_BIN=$REPO_ROOT/$GAUNTLET_BIN ;; esac
SERVE_TMP=${SERVE_TMP:-$(mktemp -d "${TMPDIR:-/tmp}/gauntlet-e2e.XXXXXX")}
# The jail's unprivileged user must traverse to the data dirs' layers and job folders.
chmod 711 "$SERVE_TMP"
SERVE_PIDS=()
SERVE_NAMES=()

serve_log() { printf 'e2e: %s\n' "$*" >&2; }

# A free TCP port on 127.0.0.1 (the kernel picks; the socket is closed right after, so a
# race is possible but unlikely on this machine).
serve_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# serve_start NAME [VAR=VALUE ...] [-- EXTRA SERVE ARGS]
serve_start() {
    local name=$1; shift
    local envs=() args=()
    while [ $# -gt 0 ]; do
        if [ "$1" = "--" ]; then shift; args=("$@"); break; fi
        envs+=("$1"); shift
    done
    if [ ! -x "$GAUNTLET_BIN" ]; then
        serve_log "no gauntlet binary at $GAUNTLET_BIN (build it with cargo build, or set GAUNTLET_BIN)"
        return 1
    fi
    local port data log
    port=$(serve_free_port)
    data=$SERVE_TMP/$name-data
    log=$SERVE_TMP/$name.log
    mkdir -p "$data"
    (
        cd "$REPO_ROOT"
        exec env \
            GAUNTLET_LISTEN="127.0.0.1:$port" \
            GAUNTLET_DATA_DIR="$data" \
            GAUNTLET_EXERCISES="$REPO_ROOT/exercises" \
            WORKER_ENABLED=true RUN_UNTRUSTED_CODE=true \
            WORKER_DRAIN_GRACE=2s GAUNTLET_SHUTDOWN_GRACE=2s \
            "${envs[@]}" \
            "$GAUNTLET_BIN" serve "${args[@]}"
    ) >"$log" 2>&1 &
    local pid=$!
    SERVE_PIDS+=("$pid")
    SERVE_NAMES+=("$name")
    printf -v "SERVE_URL_$name" '%s' "http://127.0.0.1:$port"
    printf -v "SERVE_DATA_$name" '%s' "$data"
    printf -v "SERVE_LOG_$name" '%s' "$log"
    local deadline=$((SECONDS + 90))
    until curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz" 2>/dev/null; do
        if ! kill -0 "$pid" 2>/dev/null; then
            serve_log "gauntlet serve ($name) exited during start-up; its log ($log):"
            tail -n 40 "$log" >&2
            return 1
        fi
        if [ $SECONDS -ge $deadline ]; then
            serve_log "gauntlet serve ($name) not ready after 90 s; its log ($log):"
            tail -n 40 "$log" >&2
            return 1
        fi
        sleep 0.2
    done
    serve_log "serve ($name) ready at http://127.0.0.1:$port (data dir $data, pid $pid)"
}

serve_stop_all() {
    local i pid
    for i in "${!SERVE_PIDS[@]}"; do
        pid=${SERVE_PIDS[$i]}
        kill -TERM "$pid" 2>/dev/null || continue
    done
    for i in "${!SERVE_PIDS[@]}"; do
        pid=${SERVE_PIDS[$i]}
        local n=0
        while kill -0 "$pid" 2>/dev/null && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
        if kill -0 "$pid" 2>/dev/null; then
            serve_log "serve (${SERVE_NAMES[$i]}) still running 5 s after SIGTERM: SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
    done
    SERVE_PIDS=()
    SERVE_NAMES=()
}

serve_cleanup() {
    serve_stop_all
    if [ -n "${KEEP_E2E_TMP:-}" ]; then
        serve_log "kept $SERVE_TMP (server logs and data dirs)"
    else
        rm -rf "$SERVE_TMP"
    fi
}

serve_install_trap() {
    trap 'serve_cleanup' EXIT
    trap 'serve_log "interrupted"; exit 130' INT
    trap 'serve_log "terminated"; exit 143' TERM
}
