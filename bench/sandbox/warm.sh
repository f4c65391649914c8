#!/usr/bin/env bash
# Claim to payload start with a warm jail, side by side with bubblewrap's start of
# /bin/true, in the same run (crates/sandbox/examples/warm_start.rs).
#
#   bench/sandbox/warm.sh        # 200 rounds
#   N=1000 bench/sandbox/warm.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v bwrap >/dev/null || { echo "bwrap is missing (apt-get install bubblewrap)" >&2; exit 2; }
cargo build --quiet --release -p gauntlet-sandbox --example warm_start
exec target/release/examples/warm_start "${N:-200}"
