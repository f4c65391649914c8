#!/usr/bin/env bash
# bench/api: the HTTP API side by side with its peer, `gauntlet grade`.
#
#  1. submit->result latency of one trivial submission through the API (POST, then the
#     event stream until `result`), against `gauntlet grade` of the same files; prints
#     the ratio (requirement <= 1.5x, goal <= 1.1x);
#  2. sustained submissions per second from a closed-loop load generator on loopback
#     (C clients: submit, wait for the result, repeat);
#  3. (real grading only) submit->result p50 at 2 and at 4 concurrent clients, against
#     `gauntlet grade` in as many parallel loops (parallel_grade.py): the ratio the warm
#     pool is held to (<= 1.1x). WARM=0 runs the server without warm jails, to see what
#     the pool changes.
#
# Usage: bench/api/run.sh            real grading: `gauntlet serve` with embedded workers
#        bench/api/run.sh --fixture  the API over the canned executor (runs nothing): the
#                                    API's and queue's own overhead, no sandbox
# Environment: BENCH_EXERCISE (default dedupe-lines, a shell exercise), BENCH_N (20),
# BENCH_CONCURRENCY (4), BENCH_SECONDS (15). Rate limits are turned off for the run
# (GAUNTLET_RATE_LIMITS=off); queue caps stay on.
set -euo pipefail
cd "$(dirname "$0")/../.."

mode=serve
[ "${1:-}" = "--fixture" ] && mode=fixture
exercise=${BENCH_EXERCISE:-dedupe-lines}
n=${BENCH_N:-20}
conc=${BENCH_CONCURRENCY:-4}
secs=${BENCH_SECONDS:-15}
files=exercises/$exercise/solution

cargo build --release --quiet -p gauntlet-cli --bin gauntlet
cargo build --release --quiet -p gauntlet-server --example api_load --example api_fixture_server

work=$(mktemp -d)
# The jail's unprivileged user must traverse to the data dir's layers and job folders.
chmod 711 "$work"
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url=http://127.0.0.1:$port
common=(--listen "127.0.0.1:$port" --data-dir "$work/data" --exercises exercises)
export GAUNTLET_WARM_JAILS=${WARM:-2}
export GAUNTLET_RATE_LIMITS=off GAUNTLET_MAX_ACTIVE_PER_SESSION=1000 GAUNTLET_MAX_ACTIVE_PER_IP=1000 RUST_LOG=warn
if [ "$mode" = fixture ]; then
    target/release/examples/api_fixture_server "${common[@]}" >"$work/out" 2>"$work/err" &
else
    WORKER_ENABLED=true RUN_UNTRUSTED_CODE=true \
        target/release/gauntlet serve "${common[@]}" >"$work/out" 2>"$work/err" &
fi
pid=$!
for _ in $(seq 1 300); do
    curl -fsS "$url/readyz" >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || { cat "$work/err" >&2; echo "bench: the server did not start" >&2; exit 1; }
    sleep 0.1
done
curl -fsS "$url/readyz" >/dev/null || { echo "bench: server not ready" >&2; exit 1; }
echo "bench: $mode server at $url, exercise $exercise"

load=target/release/examples/api_load
api=$("$load" --url "$url" --exercise "$exercise" --files "$files" latency --n "$n" 2>/dev/null)
echo "api latency:    $api"
api_p50=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["p50_ms"])' "$api")

grade=(target/release/gauntlet grade --exercise "exercises/$exercise" --files "$files")
if command -v hyperfine >/dev/null; then
    hyperfine --warmup 2 --runs "$n" --export-json "$work/grade.json" -N "${grade[*]}" >/dev/null 2>&1 || true
fi
if [ -s "$work/grade.json" ]; then
    grade_p50=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][0]["median"]*1000)' "$work/grade.json")
else
    # No hyperfine: time the runs here (median of n).
    grade_p50=$(for _ in $(seq 1 "$n"); do
        s=$(date +%s%N); "${grade[@]}" >/dev/null 2>&1 || true; e=$(date +%s%N); echo $(( (e - s) / 1000 ))
    done | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]/1000}')
fi
python3 - "$api_p50" "$grade_p50" "$mode" <<'PY'
import sys
api, grade, mode = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
ratio = api / grade if grade else float("inf")
verdict = "goal met" if ratio <= 1.1 else ("within requirement" if ratio <= 1.5 else "OVER the 1.5x requirement")
print(f"submit->result p50: api {api:.1f} ms, gauntlet grade {grade:.1f} ms, ratio {ratio:.2f}x ({verdict}; {mode})")
PY

tp=$("$load" --url "$url" --exercise "$exercise" --files "$files" throughput --concurrency "$conc" --seconds "$secs" 2>/dev/null)
echo "throughput:     $tp"

[ "$mode" = serve ] || exit 0
# The pairs alternate in BENCH_ROUNDS short windows (default 3), so that the machine's
# drift over a minute falls on both sides alike; the medians of the windows' figures
# are compared.
rounds=${BENCH_ROUNDS:-3}
window=$(( secs / rounds > 3 ? secs / rounds : 3 ))
for c in ${BENCH_PAIRS:-2 4}; do
    : >"$work/pairs"
    for _ in $(seq 1 "$rounds"); do
        "$load" --url "$url" --exercise "$exercise" --files "$files" throughput --concurrency "$c" --seconds "$window" 2>/dev/null \
            | sed 's/^/api /' >>"$work/pairs"
        python3 bench/api/parallel_grade.py "$c" "$window" -- "${grade[@]}" | sed 's/^/grade /' >>"$work/pairs"
    done
    python3 - "$work/pairs" "$c" "${WARM:-2}" <<'PY'
import json, statistics, sys
rows = {"api": [], "grade": []}
for line in open(sys.argv[1]):
    side, data = line.split(" ", 1)
    rows[side].append(json.loads(data))
c, warm = sys.argv[2], sys.argv[3]
p50 = {k: statistics.median(r["p50_ms"] for r in v) for k, v in rows.items()}
rate = {k: statistics.median(r["per_second"] for r in v) for k, v in rows.items()}
ratio = p50["api"] / p50["grade"] if p50["grade"] else float("inf")
verdict = "met" if ratio <= 1.1 else "OVER the 1.1x target"
print(f"{c} clients: submit->result p50 api {p50['api']:.1f} ms ({rate['api']:.2f}/s), "
      f"gauntlet grade {p50['grade']:.1f} ms ({rate['grade']:.2f}/s), ratio {ratio:.2f}x "
      f"({verdict}; warm jails {warm}; medians of {len(rows['api'])} alternating windows)")
PY
done
