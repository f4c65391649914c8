#!/usr/bin/env bash
# Contract test of the HTTP API: schemathesis (pinned in requirements.txt) generates
# requests from the OpenAPI document the server itself serves at /api/v1/openapi.json
# and checks every answer against it (status codes, schemas, headers, server errors).
#
# Without GAUNTLET_URL it builds and spawns the API fixture server (real router, real
# store and worker engine, a canned executor that runs no code) on a free port over a
# throw-away SQLite store and the bundled exercises, and stops it afterwards.
#   GAUNTLET_URL=http://127.0.0.1:8080 ADMIN_TOKEN=... tests/schemathesis/run.sh
# Environment: ST_MAX_EXAMPLES (default 40), SCHEMATHESIS_VENV (default
# target/schemathesis-venv), extra arguments are passed to `st run`.
set -euo pipefail
cd "$(dirname "$0")/../.."

venv=$(realpath -m "${SCHEMATHESIS_VENV:-target/schemathesis-venv}")
if ! "$venv/bin/st" --version >/dev/null 2>&1; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check -r tests/schemathesis/requirements.txt
fi

pid= work= stdir=
cleanup() {
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    rm -rf ${work:+"$work"} ${stdir:+"$stdir"}
}
trap cleanup EXIT

url=${GAUNTLET_URL:-}
token=${ADMIN_TOKEN:-schemathesis-admin-token-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')}
if [ -z "$url" ]; then
    cargo build --quiet -p gauntlet-server --example api_fixture_server
    work=$(mktemp -d)
    ADMIN_TOKEN=$token GAUNTLET_RATE_LIMITS=off GAUNTLET_MAX_ACTIVE_PER_IP=1000 RUST_LOG=warn \
        target/debug/examples/api_fixture_server --listen 127.0.0.1:0 \
        --data-dir "$work/data" --exercises exercises >"$work/out" 2>"$work/err" &
    pid=$!
    for _ in $(seq 1 200); do
        url=$(sed -n 's/^listening on //p' "$work/out")
        [ -n "$url" ] && break
        kill -0 "$pid" 2>/dev/null || { cat "$work/err" >&2; echo "schemathesis: the server did not start" >&2; exit 1; }
        sleep 0.1
    done
    [ -n "$url" ] || { echo "schemathesis: no listening line from the server" >&2; exit 1; }
fi

echo "schemathesis: testing $url"
# st keeps a .schemathesis/ folder in its working directory: not in the checkout.
stdir=$(mktemp -d)
cd "$stdir"
"$venv/bin/st" run "$url/api/v1/openapi.json" \
    --checks all \
    --header "Authorization: Bearer $token" \
    --max-examples "${ST_MAX_EXAMPLES:-40}" \
    --no-color \
    "$@"
