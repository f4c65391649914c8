#!/usr/bin/env bash
# The project's test command (README quick start; .ci/run runs exactly this).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --workspace --all-targets --locked
cargo test --workspace --locked -- --color never
