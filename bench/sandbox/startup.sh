#!/usr/bin/env bash
# Start-up cost of one jail, side by side with bubblewrap in the same run.
#
#   bench/sandbox/startup.sh            # hyperfine, ratio of medians, jails/second
#   RUNS=1000 bench/sandbox/startup.sh
#
# Prints the two medians, their ratio (ours / bwrap; the issue asks <= 1.0, goal
# <= 0.5), and jails/second on two cores for both, through the CLI (one process
# per jail, as hyperfine measures) and through the library (threads calling
# gauntlet_sandbox::run, as the server does). Needs hyperfine and bwrap.
set -euo pipefail
cd "$(dirname "$0")/../.."

RUNS=${RUNS:-300}
JOBS=${JOBS:-600}
command -v hyperfine >/dev/null || { echo "hyperfine is missing (apt-get install hyperfine)" >&2; exit 2; }
command -v bwrap >/dev/null || { echo "bwrap is missing (apt-get install bubblewrap)" >&2; exit 2; }

cargo build --quiet --release -p gauntlet-cli -p gauntlet-sandbox --examples --bins
G=target/release/gauntlet
OURS="$G sandbox run -- /bin/true"
BWRAP="bwrap --unshare-all --die-with-parent --ro-bind /usr /usr --symlink usr/lib /lib --symlink usr/lib64 /lib64 --symlink usr/bin /bin --proc /proc --dev /dev --tmpfs /tmp --cap-drop ALL /bin/true"

"$G" sandbox run -- /bin/true 2>/dev/null || { echo "the sandbox does not work here: run '$G sandbox doctor'" >&2; exit 3; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
hyperfine -N --warmup 30 --runs "$RUNS" --export-json "$tmp/h.json" "$OURS" "$BWRAP" >&2

per_second() { # command…: JOBS runs, two at a time, jails/second
  local start end
  start=$(date +%s.%N)
  seq "$JOBS" | xargs -P2 -I{} "$@" >/dev/null 2>&1
  end=$(date +%s.%N)
  /usr/bin/python3 -c "print(f'{$JOBS/($end-$start):.0f}')"
}
cli_ours=$(per_second $OURS)
# shellcheck disable=SC2086
cli_bwrap=$(per_second $BWRAP)
lib_ours=$(target/release/examples/throughput 2 "$JOBS")

/usr/bin/python3 - "$tmp/h.json" "$cli_ours" "$cli_bwrap" "$lib_ours" <<'PY'
import json, sys
res = json.load(open(sys.argv[1]))["results"]
ours, bwrap = (r["median"] * 1000 for r in res)
print(f"gauntlet sandbox run -- /bin/true   median {ours:6.2f} ms")
print(f"bwrap --unshare-all … /bin/true     median {bwrap:6.2f} ms")
print(f"ratio of medians (ours / bwrap)     {ours / bwrap:6.2f}")
print(f"jails/second, 2 at a time, CLI      ours {sys.argv[2]}, bwrap {sys.argv[3]}")
print(f"jails/second, 2 threads, library    ours {sys.argv[4]}")
PY
