#!/usr/bin/env bash
# End-to-end tests of the web app in Debian's Chromium, driven by Playwright, against a
# real `gauntlet serve`. One command:
#
#   tests/e2e/run.sh [playwright test args, e.g. specs/python.spec.js or -g "archive"]
#
# - GAUNTLET_BIN: the binary to serve (default target/debug/gauntlet from the repo root).
# - GAUNTLET_WEB_DIR: passed on to serve (front-end assets read from that folder).
# - E2E_WORKERS: Playwright workers (default 2).
# - KEEP_E2E_TMP=1 keeps the servers' logs and data dirs.
#
# Three servers, each with a fresh temporary data dir and the repo's exercises/:
# "main" with GAUNTLET_RATE_LIMITS=off (most tests submit often), "limited" with the rate
# limits on and one submission per session per minute (the rate limit's countdown), and
# "busy", whose queue is always full (GAUNTLET_MAX_QUEUE=0: every submission gets 503
# busy). All are stopped on exit, failure or interrupt.
# Without /usr/bin/chromium: fails under CI=..., else says SKIPPED and exits 0.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
START=$SECONDS

if [ ! -x /usr/bin/chromium ]; then
    reason="/usr/bin/chromium is missing: install Debian's chromium package (scripts/setup.sh does, as root)"
    if [ -n "${CI:-}" ]; then
        echo "e2e: FAILED: $reason" >&2
        exit 1
    fi
    echo "e2e: SKIPPED: $reason" >&2
    exit 0
fi

cd "$HERE"
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    echo "e2e: npm ci (Playwright's own browser download is skipped: the tests use /usr/bin/chromium)" >&2
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --ignore-scripts --no-audit --no-fund >&2
fi

# shellcheck source=lib/serve.sh
source "$HERE/lib/serve.sh"
serve_install_trap

if [ ! -x "$GAUNTLET_BIN" ]; then
    echo "e2e: FAILED: no gauntlet binary at $GAUNTLET_BIN (cargo build --bin gauntlet, or set GAUNTLET_BIN)" >&2
    exit 1
fi

# The Solidity exercises need the Hardhat toolchain; prepared once per machine (a no-op
# when it is ready), before the servers start, so they do not race to prepare it.
(cd "$REPO_ROOT" && "$GAUNTLET_BIN" toolchains prepare >"$SERVE_TMP/toolchains.log" 2>&1) ||
    { echo "e2e: gauntlet toolchains prepare failed (the Solidity test will say why):" >&2; tail -n 20 "$SERVE_TMP/toolchains.log" >&2; }

# GAUNTLET_CPU_TIME: the Solidity exercises take the default CPU limit (5 s), which a
# Hardhat run (solc, the chain, mocha) overran on this 2-core machine while it was busy;
# the tests are about the web app, not that limit, so they get more room.
serve_start main GAUNTLET_RATE_LIMITS=off GAUNTLET_MAX_ACTIVE_PER_IP=64 \
    GAUNTLET_MAX_STREAMS_PER_IP=64 GAUNTLET_MAX_STREAMS_PER_SESSION=16 GAUNTLET_PREPARE_TOOLCHAINS=false \
    GAUNTLET_CPU_TIME=30s
serve_start limited GAUNTLET_SESSION_PER_MINUTE=1 WORKER_MAX_CONCURRENCY=1 GAUNTLET_PREPARE_TOOLCHAINS=false
serve_start busy GAUNTLET_MAX_QUEUE=0 GAUNTLET_BUSY_RETRY_AFTER=9 WORKER_MAX_CONCURRENCY=1 GAUNTLET_PREPARE_TOOLCHAINS=false

export GAUNTLET_URL=$SERVE_URL_main
export GAUNTLET_DATA_DIR_MAIN=$SERVE_DATA_main
export GAUNTLET_RL_URL=$SERVE_URL_limited
export GAUNTLET_BUSY_URL=$SERVE_URL_busy
export GAUNTLET_REPO=$REPO_ROOT

# Playwright runs in the background so that a TERM or INT sent to this script alone is
# handled at once (bash runs traps only between foreground commands): the trap stops
# Playwright, then the servers.
status=0
./node_modules/.bin/playwright test "$@" &
PW_PID=$!
trap 'serve_log "interrupted"; kill -TERM "$PW_PID" 2>/dev/null; wait "$PW_PID" 2>/dev/null; exit 130' INT
trap 'serve_log "terminated"; kill -TERM "$PW_PID" 2>/dev/null; wait "$PW_PID" 2>/dev/null; exit 143' TERM
wait "$PW_PID" || status=$?
if [ $status -ne 0 ]; then
    for name in main limited busy; do
        log_var=SERVE_LOG_$name
        echo "e2e: last lines of serve ($name)'s log (${!log_var}):" >&2
        tail -n 30 "${!log_var}" >&2 || true
    done
fi
echo "e2e: $([ $status -eq 0 ] && echo passed || echo FAILED) in $((SECONDS - START)) s" >&2
exit $status
