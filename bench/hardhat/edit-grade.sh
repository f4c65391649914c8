#!/usr/bin/env bash
# A learner's edit-and-grade of a Solidity contract (compile + tests, sandboxed, on a
# pooled chain) side by side with the same edit under a warm local `hardhat test`
# against a running Anvil, interleaved round by round. Prints the ratio of medians.
# Cold jail: must <= 1.2x, goal <= 0.8x. Warm jail (the service's pool): must <= 0.45x, goal <= 0.3x.
#
#   bench/hardhat/edit-grade.sh [EXERCISE_DIR]   (default: exercises/access-registry)
#   RUNS=10 RESUBMIT=1 bench/hardhat/edit-grade.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
ex=${1:-exercises/access-registry}
# The machine's toolchains folder, the one `gauntlet toolchains prepare` fills.
if [ -z "${GAUNTLET_TOOLCHAINS_DIR:-}" ]; then
    if [ "$(id -u)" = 0 ]; then tools=/var/cache/gauntlet/toolchains
    else tools=${XDG_CACHE_HOME:-$HOME/.cache}/gauntlet/toolchains; fi
else
    tools=$GAUNTLET_TOOLCHAINS_DIR
fi
mkdir -p "$tools"
work=$(mktemp -d)
chmod 755 "$work"   # the jail user reaches the data dir below it by path
trap 'rm -rf "$work"' EXIT
cargo bench --locked -q -p gauntlet-grader --bench hardhat -- "$(realpath "$tools")" "$work" "$(realpath "$ex")"
