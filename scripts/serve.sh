#!/usr/bin/env bash
# Runs the grader on its embedded defaults: SQLite in .data/, the bundled exercises,
# embedded workers. Workers run learners' code only when the caller says so:
#   WORKER_ENABLED=true RUN_UNTRUSTED_CODE=true scripts/serve.sh
# (without both, `gauntlet serve` refuses to start and says why).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release --locked --bin gauntlet
target/release/gauntlet toolchains prepare
exec target/release/gauntlet serve "$@"
