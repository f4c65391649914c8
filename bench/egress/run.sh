#!/usr/bin/env bash
# Controlled egress against a peer in the same run (crates/grader/benches/egress.rs):
#
# - proxy: bulk download and upload, 1 KiB round trips in one connection, and
#   connection set-up, each through the egress proxy (a CONNECT tunnel on loopback)
#   and straight to the same loopback servers, alternating; then the round trips again
#   with the process pinned to one core. Env: MIB (512), REPS (5), ROUND_TRIPS
#   (10000), SETUPS (200).
# - deps: one job's grade with and without an installed dependency set (python:
#   reverse-words plus pytest-anagrams' requirements; node: word-frequency plus
#   jest-isbn's lock), same tests and command, RUNS (30) of each interleaved after one
#   warm-up each; the set's one-time install reported apart. Must: within 1.1×.
#   Needs pypi.org and registry.npmjs.org; a pair whose registry is unreachable is
#   skipped, saying why.
#
# Run as root (the grades run in the sandbox). Prints both modes' output, then a table.
set -euo pipefail
cd "$(dirname "$0")/../.."

work=$(mktemp -d)
chmod 755 "$work"   # the jail user reaches the data dir below it by path
trap 'rm -rf "$work"' EXIT

bench() { cargo bench --locked -q -p gauntlet-grader --bench egress -- "$@"; }
bench proxy | tee "$work/proxy.out"
# The round trips again with every thread on one core: unpinned, each hop may wake
# another vCPU, and on a VM that swings the figure by 10x from run to run.
taskset -c 0 cargo bench --locked -q -p gauntlet-grader --bench egress -- proxy round-trips \
     | tee "$work/pinned.out"
bench deps "$work/deps" | tee "$work/deps.out"

echo
echo "| | direct / without | proxied / with | ratio |"
echo "|---|---|---|---|"
grep -h '^|' "$work/proxy.out" "$work/pinned.out" "$work/deps.out"
