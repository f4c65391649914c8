#!/usr/bin/env bash
# Start-up cost of one jail, side by side with bubblewrap in the same run.
#
#   bench/sandbox/startup.sh            # hyperfine, ratio of medians, jails/second
#   RUNS=1000 ROUNDS=10 bench/sandbox/startup.sh
#   BASELINE=/path/to/older/gauntlet bench/sandbox/startup.sh   # and an older binary
#
# Prints the two medians, their ratio (ours / bwrap; the issue asks <= 1.0, goal
# <= 0.5), and jails/second on two cores for both, through the CLI (one process
# per jail, as hyperfine measures) and through the library (threads calling
# gauntlet_sandbox::run, as the server does). Needs hyperfine and bwrap.
#
# A VM's speed drifts over a minute by more than the difference being measured, and
# hyperfine runs all of one command before the other. So the RUNS are split into
# ROUNDS hyperfine runs that alternate which command goes first; the medians are
# over all runs of each command, and each round's ratio is printed too.
set -euo pipefail
cd "$(dirname "$0")/../.."

RUNS=${RUNS:-400}
ROUNDS=${ROUNDS:-5}
JOBS=${JOBS:-600}
command -v hyperfine >/dev/null || { echo "hyperfine is missing (apt-get install hyperfine)" >&2; exit 2; }
command -v bwrap >/dev/null || { echo "bwrap is missing (apt-get install bubblewrap)" >&2; exit 2; }

cargo build --quiet --release -p gauntlet-cli -p gauntlet-sandbox --examples --bins
G=target/release/gauntlet
OURS="$G sandbox run -- /bin/true"
BASE=${BASELINE:+$BASELINE sandbox run -- /bin/true}
BWRAP="bwrap --unshare-all --die-with-parent --ro-bind /usr /usr --symlink usr/lib /lib --symlink usr/lib64 /lib64 --symlink usr/bin /bin --proc /proc --dev /dev --tmpfs /tmp --cap-drop ALL /bin/true"

"$G" sandbox run -- /bin/true 2>/dev/null || { echo "the sandbox does not work here: run '$G sandbox doctor'" >&2; exit 3; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
per_round=$(( (RUNS + ROUNDS - 1) / ROUNDS ))
for r in $(seq "$ROUNDS"); do
  if (( r % 2 )); then first=$OURS second=$BWRAP; else first=$BWRAP second=$OURS; fi
  # shellcheck disable=SC2086
  hyperfine -N --style basic --warmup 20 --runs "$per_round" \
    --export-json "$tmp/round-$r.json" "$first" "$second" ${BASE:+"$BASE"} >&2
done

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

/usr/bin/python3 - "$tmp" "$OURS" "$cli_ours" "$cli_bwrap" "$lib_ours" "$BASE" <<'PY'
import glob, json, statistics, sys
tmp, ours_cmd, base_cmd = sys.argv[1], sys.argv[2], sys.argv[6]
times = {"ours": [], "bwrap": [], "baseline": []}
ratios = []
for f in sorted(glob.glob(f"{tmp}/round-*.json")):
    med = {}
    for r in json.load(open(f))["results"]:
        key = {ours_cmd: "ours", base_cmd: "baseline"}.get(r["command"], "bwrap")
        times[key] += r["times"]
        med[key] = r["median"]
    ratios.append(med["ours"] / med["bwrap"])
ours, bwrap = (statistics.median(times[k]) * 1000 for k in ("ours", "bwrap"))
print(f"gauntlet sandbox run -- /bin/true   median {ours:6.2f} ms  ({len(times['ours'])} runs)")
print(f"bwrap --unshare-all … /bin/true     median {bwrap:6.2f} ms  ({len(times['bwrap'])} runs)")
print(f"ratio of medians (ours / bwrap)     {ours / bwrap:6.2f}")
if times["baseline"]:
    base = statistics.median(times["baseline"]) * 1000
    print(f"baseline {base_cmd.split()[0]}  median {base:6.2f} ms  ({base / bwrap:.2f} of bwrap)")
print("ratio per round                     " + " ".join(f"{x:.2f}" for x in ratios))
print(f"jails/second, 2 at a time, CLI      ours {sys.argv[3]}, bwrap {sys.argv[4]}")
print(f"jails/second, 2 threads, library    ours {sys.argv[5]}")
PY
