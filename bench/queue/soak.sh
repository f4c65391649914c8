#!/usr/bin/env bash
# bench/queue/soak.sh: the crash-recovery soak (crates/cli/tests/chaos.rs) as a benchmark.
#
# Both back ends, two busy loops loading the cores, random SIGKILLs of `serve` and of
# standalone workers, one PostgreSQL restart, JOBS submissions a dozen at a time; prints
# jobs/s, p50 and p99 submit->result, and how many results were wrong, for this build
# and, side by side with the same random schedule (same seed), for an earlier binary.
#
# Usage: bench/queue/soak.sh [JOBS]
# Environment: BASELINE (an earlier `gauntlet` binary, e.g. one built from the last
# release tag; without it only this build runs), GAUNTLET_CHAOS_SEED (the schedule;
# default: the time).
set -euo pipefail
cd "$(dirname "$0")/../.."

jobs=${1:-200}
seed=${GAUNTLET_CHAOS_SEED:-$(date +%s)}
baseline=${BASELINE:-}

cargo test --release --quiet -p gauntlet-cli --test chaos --no-run 2>/dev/null
run() {
  GAUNTLET_BIN="$1" GAUNTLET_SOAK_LABEL="$2" GAUNTLET_CHAOS_JOBS="$jobs" GAUNTLET_CHAOS_SEED="$seed" \
    cargo test --release --quiet -p gauntlet-cli --test chaos soak -- --ignored --nocapture 2>/dev/null \
    | grep -E '^soak|^    wrong' || true
}
echo "soak: $jobs jobs per back end, seed $seed, $(nproc) cores, 2 busy loops"
run "$PWD/target/release/gauntlet" "this build"
if [ -n "$baseline" ] && [ -x "$baseline" ]; then
  run "$baseline" "baseline"
else
  echo "baseline skipped (set BASELINE to an earlier gauntlet binary)"
fi
