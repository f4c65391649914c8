#!/usr/bin/env bash
# bench/web/latency.sh: starts a real `gauntlet serve` (as tests/e2e/run.sh does: a free
# loopback port, a fresh temporary data dir, the bundled exercises, rate limits off),
# then runs bench/web/latency.mjs against it in Debian's Chromium:
#   (a) exercise page navigation -> performance.mark("gauntlet:interactive"), N times
#       (target p95 <= 1000 ms);
#   (b) job finished_at in the SQLite store -> data-result-rendered-at in the page, M
#       submissions (target p50 <= 100 ms).
# Prints a table; exits 1 when a target is missed.
#
# Environment: GAUNTLET_BIN (default target/debug/gauntlet; a release build measures
# what ships), GAUNTLET_WEB_DIR (passed on to serve), BENCH_N (20), BENCH_M (20),
# BENCH_COLD (5 first visits, each in a new browser context, for information),
# BENCH_EXERCISE (reverse-words), BENCH_JSON (a file for the raw figures).
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ ! -x /usr/bin/chromium ]; then
    echo "bench/web: /usr/bin/chromium is missing: install Debian's chromium package (scripts/setup.sh does, as root)" >&2
    exit 1
fi
if [ ! -f tests/e2e/node_modules/.package-lock.json ] || [ tests/e2e/package-lock.json -nt tests/e2e/node_modules/.package-lock.json ]; then
    (cd tests/e2e && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --ignore-scripts --no-audit --no-fund >&2)
fi

# shellcheck source=../../tests/e2e/lib/serve.sh
source tests/e2e/lib/serve.sh
serve_install_trap
serve_start bench GAUNTLET_RATE_LIMITS=off GAUNTLET_PREPARE_TOOLCHAINS=false

node bench/web/latency.mjs --url "$SERVE_URL_bench" --data-dir "$SERVE_DATA_bench" \
    --n "${BENCH_N:-20}" --m "${BENCH_M:-20}" --cold "${BENCH_COLD:-5}" --exercise "${BENCH_EXERCISE:-reverse-words}" \
    ${BENCH_JSON:+--json "$BENCH_JSON"}
