#!/usr/bin/env bash
# A learner's novel edit of a Solidity contract graded through the service (POST to the
# `result` event on the stream, `gauntlet serve` with embedded workers and its warm
# jails, as it runs by default), side by side with the same kind of edit under a warm
# local `hardhat test` against a running Anvil, interleaved round by round. Prints the
# medians and their ratio. Must: <= 0.45x; goal: <= 0.3x.
#
#   bench/hardhat/service.sh [EXERCISE_ID]    (default: access-registry)
#   RUNS=10 bench/hardhat/service.sh           rounds (default 10)
#   WARM=0 bench/hardhat/service.sh            the service without warm jails
#
# Between rounds the bench waits until the pool has a ready jail again (a learner's
# next edit takes longer than that), so the local run never shares the CPU with a
# warm-up. Each edit appends a new comment to the contract: no compile output of an
# earlier round can be reused, on either side.
set -euo pipefail
cd "$(dirname "$0")/../.."
ex=${1:-access-registry}
runs=${RUNS:-10}
warm=${WARM:-2}

cargo build --release --quiet -p gauntlet-cli --bin gauntlet
cargo build --release --quiet -p gauntlet-server --example api_load
gauntlet=target/release/gauntlet
load=target/release/examples/api_load

# The prepared toolchain (the machine's, the one the service uses).
tool=$("$gauntlet" toolchains prepare 2>&1 | sed -n 's/^hardhat toolchain .* ready in //p' | tail -n1)
[ -d "$tool" ] || { echo "bench: no prepared hardhat toolchain" >&2; exit 1; }

# The service: tests/e2e/lib/serve.sh starts it on a free port with a fresh data dir
# and stops it on exit.
export GAUNTLET_BIN=$gauntlet
# shellcheck source=../../tests/e2e/lib/serve.sh
source tests/e2e/lib/serve.sh
anvil_pid=
trap '[ -n "$anvil_pid" ] && kill "$anvil_pid" 2>/dev/null; serve_cleanup' EXIT
serve_start svc GAUNTLET_WARM_JAILS="$warm" GAUNTLET_RATE_LIMITS=off RUST_LOG=warn
url=$SERVE_URL_svc
work=$SERVE_TMP

# The local peer: the exercise as an author has it, the toolchain's config, an Anvil.
local=$work/local
mkdir -p "$local/tests"
cp -r "exercises/$ex/starter/." "$local/"
cp -r "exercises/$ex/tests/." "$local/tests/"
cp -r "exercises/$ex/solution/." "$local/"
cp "$tool/workspace/package.json" "$local/"
ln -s "$tool/node_modules" "$local/node_modules"
contract=$(cd "exercises/$ex/solution" && find . -name '*.sol' | head -n1)
anvil_port=$(serve_free_port)
"$tool/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil" --host 127.0.0.1 --port "$anvil_port" \
    --silent --chain-id 31337 --hardfork prague --gas-limit 30000000 >/dev/null 2>&1 &
anvil_pid=$!
sleep 0.5

ready_jails() {
    curl -fsS "$url/metrics" | awk '$1 == "gauntlet_warm_jails_ready" { print $2 }'
}
wait_ready() {
    [ "$warm" = 0 ] && return 0
    for _ in $(seq 1 300); do
        [ "$(ready_jails)" != "" ] && [ "$(ready_jails)" != "0" ] && return 0
        sleep 0.05
    done
}
submit() {
    "$load" --url "$url" --exercise "$ex" --files "exercises/$ex/solution" --novel \
        latency --n 1 --warmup 0 2>/dev/null \
        | python3 -c 'import json, sys; print(json.load(sys.stdin)["p50_ms"])'
}
local_test() {
    printf '// local edit %s\n' "$1" >>"$local/$contract"
    local s e
    s=$(date +%s%N)
    (cd "$local" && RPC_URL=http://127.0.0.1:$anvil_port node "$tool/node_modules/hardhat/internal/cli/cli.js" \
        test --config "$tool/hardhat.config.js" >/dev/null 2>&1) || { echo "bench: local hardhat test failed" >&2; exit 1; }
    e=$(date +%s%N)
    echo $(( (e - s) / 1000 ))
}

# Round 0 warms both sides (the chains start, the layer is prepared, the pool fills).
submit >/dev/null
local_test 0 >/dev/null
: >"$work/times"
for i in $(seq 1 "$runs"); do
    wait_ready
    svc=$(submit)
    wait_ready
    loc=$(local_test "$i")
    echo "$svc $loc" >>"$work/times"
done
hits=$(curl -fsS "$url/metrics" | awk '$1 ~ /^gauntlet_warm_grades_total/ && /start="hit"/ { print $2 }')
python3 - "$work/times" "$runs" "$warm" "${hits:-0}" <<'PY'
import statistics, sys
rows = [tuple(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
svc = statistics.median(r[0] for r in rows)
loc = statistics.median(r[1] / 1000 for r in rows)
ratio = svc / loc
verdict = "goal met" if ratio <= 0.3 else ("must met" if ratio <= 0.45 else "OVER the 0.45x must")
print(f"solidity novel edit, {sys.argv[2]} rounds: through the service (warm jails {sys.argv[3]}, "
      f"{sys.argv[4]} warm hits in all) median {svc:.0f} ms, local warm hardhat test median {loc:.0f} ms, "
      f"ratio {ratio:.2f}x ({verdict})")
PY
