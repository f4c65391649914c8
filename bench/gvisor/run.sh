#!/usr/bin/env bash
# gVisor's cost, side by side in the same run with the namespace backend (and, for
# start-up, bubblewrap):
#   1. start-up: `gauntlet sandbox run [--isolation gvisor] -- /bin/true`, the bwrap
#      line of bench/sandbox/startup.sh, and gVisor's own quickest start
#      (`runsc --network=none do /bin/true`: no jail, no cgroup, no watchdogs around
#      it), in ROUNDS hyperfine runs that rotate the order (this VM's speed drifts by
#      more than some differences);
#   2. per grade: `gauntlet grade --isolation namespaces|gvisor` of a python
#      exercise (exercises/reverse-words) and a Solidity one
#      (exercises/erc20-allowances: Hardhat tests against an Anvil chain).
#
#   bench/gvisor/run.sh
#   RUNS=200 ROUNDS=4 GRADES=20 SOL_GRADES=4 bench/gvisor/run.sh
#
# Prints medians and ratios (gvisor / namespaces, gvisor / bwrap). Needs hyperfine,
# bwrap and runsc (scripts/setup.sh installs them), and root (gVisor runs need it).
set -euo pipefail
cd "$(dirname "$0")/../.."

RUNS=${RUNS:-120}
ROUNDS=${ROUNDS:-4}
GRADES=${GRADES:-12}
SOL_GRADES=${SOL_GRADES:-3}
for tool in hyperfine bwrap runsc; do
  command -v "$tool" >/dev/null || { echo "$tool is missing: scripts/setup.sh installs it" >&2; exit 2; }
done

cargo build --quiet --release --locked --bin gauntlet
G=$PWD/target/release/gauntlet
NS="$G sandbox run -- /bin/true"
GV="$G sandbox run --isolation gvisor -- /bin/true"
BWRAP="bwrap --unshare-all --die-with-parent --ro-bind /usr /usr --symlink usr/lib /lib --symlink usr/lib64 /lib64 --symlink usr/bin /bin --proc /proc --dev /dev --tmpfs /tmp --cap-drop ALL /bin/true"
$GV 2>/dev/null || { echo "gVisor does not work here: run '$G sandbox doctor'" >&2; exit 3; }

work=$(mktemp -d)
chmod 755 "$work"   # the jail user reaches the data dirs below it by path
trap 'rm -rf "$work"' EXIT
RUNSC="runsc --network=none --root=$work/runsc do /bin/true"

per_round=$(( (RUNS + ROUNDS - 1) / ROUNDS ))
for r in $(seq "$ROUNDS"); do
  case $(( r % 4 )) in
    1) order=("$NS" "$GV" "$BWRAP" "$RUNSC") ;;
    2) order=("$GV" "$BWRAP" "$RUNSC" "$NS") ;;
    3) order=("$BWRAP" "$RUNSC" "$NS" "$GV") ;;
    0) order=("$RUNSC" "$NS" "$GV" "$BWRAP") ;;
  esac
  hyperfine -N --style basic --warmup 5 --runs "$per_round" \
    --export-json "$work/start-$r.json" "${order[@]}" >&2
done

grade() { # isolation exercise: the command line of one grade
  echo "$G grade --isolation $1 --data-dir $work/data-$1 --exercise $2 --files $2/solution"
}
for ex in exercises/reverse-words exercises/erc20-allowances; do
  name=$(basename "$ex")
  runs=$GRADES
  [ "$name" = erc20-allowances ] && runs=$SOL_GRADES
  for iso in namespaces gvisor; do
    # Prepare the layer (and for Solidity the toolchain) once, and check it passes.
    out=$($(grade "$iso" "$ex"))
    echo "$out" | grep -q '"outcome": *"passed"' || { echo "$name under $iso did not pass: $out" >&2; exit 1; }
  done
  hyperfine -N --style basic --warmup 1 --runs "$runs" --export-json "$work/grade-$name.json" \
    -n namespaces "$(grade namespaces "$ex")" -n gvisor "$(grade gvisor "$ex")" >&2
done

python3 - "$work" "$NS" "$GV" "$RUNSC" <<'PY'
import glob, json, statistics, sys
work, ns_cmd, gv_cmd, runsc_cmd = sys.argv[1:5]
t = {"ns": [], "gv": [], "bwrap": [], "runsc": []}
for f in sorted(glob.glob(f"{work}/start-*.json")):
    for r in json.load(open(f))["results"]:
        t[{ns_cmd: "ns", gv_cmd: "gv", runsc_cmd: "runsc"}.get(r["command"], "bwrap")] += r["times"]
ns, gv, bw, rd = (statistics.median(t[k]) * 1000 for k in ("ns", "gv", "bwrap", "runsc"))
print(f"start-up, /bin/true          namespaces {ns:7.2f} ms   gvisor {gv:7.2f} ms   bwrap {bw:6.2f} ms   runsc do {rd:7.2f} ms")
print(f"  ratios                     gvisor/namespaces {gv/ns:5.1f}x   gvisor/bwrap {gv/bw:5.1f}x   "
      f"gvisor/runsc do {gv/rd:4.2f}x   namespaces/bwrap {ns/bw:4.2f}x")
for name in ("reverse-words", "erc20-allowances"):
    res = {x["command"]: x for x in json.load(open(f"{work}/grade-{name}.json"))["results"]}
    a, b = res["namespaces"]["median"] * 1000, res["gvisor"]["median"] * 1000
    n = len(res["gvisor"]["times"])
    print(f"grade {name:20s} namespaces {a:7.0f} ms   gvisor {b:7.0f} ms   ratio {b/a:4.1f}x  ({n} grades each)")
PY
