#!/usr/bin/env bash
# Grading overhead: `gauntlet grade` of a submission, side by side in the same
# hyperfine run with the same test command run by hand in a fresh copy of the
# workspace (no sandbox, no validation, no parsing). Prints the ratio of medians.
# Must: <= 1.3x.
#
#   bench/grade/overhead.sh [EXERCISE_DIR]     (default: exercises/reverse-words)
#
# With BASELINE=path/to/older/gauntlet (and BASELINE_EXERCISE, the same exercise as
# that build's tree has it; default EXERCISE_DIR), both builds grade in ROUNDS
# alternating hyperfine runs, and the ratio of medians (this build / baseline) is
# printed as well: what a change costs per grade, measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/../.."
ex=${1:-exercises/reverse-words}
runs=${RUNS:-30}
command -v hyperfine >/dev/null || { echo "hyperfine missing: scripts/setup.sh installs it" >&2; exit 1; }
cargo build --release --locked --bin gauntlet >/dev/null 2>&1
bin=$PWD/target/release/gauntlet
work=$(mktemp -d)
chmod 755 "$work"   # the jail user reaches the data dir below it by path
trap 'rm -rf "$work"' EXIT
data=$work/data

# The hand-run workspace: starter, tests, solution laid over, as the grader builds it.
mkdir -p "$work/ws/tests"
cp -r "$ex/starter/." "$work/ws/"
cp -r "$ex/tests/." "$work/ws/tests/"
cp -r "$ex/solution/." "$work/ws/"
# The runners the python, node and shell runtimes ship at .gauntlet/runner/.
mkdir -p "$work/ws/.gauntlet/runner"
cp crates/grader/runners/* "$work/ws/.gauntlet/runner/"
cmd=$(sed -n 's/^  command: *\[\(.*\)\] *$/\1/p' "$ex/exercise.yaml" | tr -d '",')
[ -n "$cmd" ] || { echo "no test.command in $ex/exercise.yaml" >&2; exit 1; }

"$bin" grade --data-dir "$data" --exercise "$ex" --files "$ex/solution" >/dev/null   # prepare the layer once

hyperfine -N --warmup 3 --runs "$runs" --export-json "$work/h.json" \
  -n gauntlet "$bin grade --data-dir $data --exercise $ex --files $ex/solution" \
  -n by-hand "bash -c 'rm -rf $work/run && cp -r $work/ws $work/run && cd $work/run && PATH=/usr/bin:/bin $cmd >/dev/null'" \
  >&2
python3 - "$work/h.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
g, h = r["gauntlet"]["median"] * 1000, r["by-hand"]["median"] * 1000
print(f"gauntlet grade median {g:.1f} ms, by hand median {h:.1f} ms, ratio {g/h:.2f}x (must <= 1.3x)")
PY

[ -n "${BASELINE:-}" ] || exit 0
base_ex=${BASELINE_EXERCISE:-$ex}
"$BASELINE" grade --data-dir "$work/base-data" --exercise "$base_ex" --files "$base_ex/solution" >/dev/null
ours="$bin grade --data-dir $data --exercise $ex --files $ex/solution"
theirs="$BASELINE grade --data-dir $work/base-data --exercise $base_ex --files $base_ex/solution"
rounds=${ROUNDS:-6}
for r in $(seq "$rounds"); do
  if (( r % 2 )); then a=(-n ours "$ours" -n baseline "$theirs"); else a=(-n baseline "$theirs" -n ours "$ours"); fi
  hyperfine -N --style basic --warmup 3 --runs "$runs" --export-json "$work/b$r.json" "${a[@]}" >/dev/null 2>&1
done
python3 - "$work" "$rounds" <<'PY'
import json, statistics, sys
work, rounds = sys.argv[1], int(sys.argv[2])
times = {"ours": [], "baseline": []}
per_round = []
for r in range(1, rounds + 1):
    res = {x["command"]: x for x in json.load(open(f"{work}/b{r}.json"))["results"]}
    for k in times:
        times[k] += res[k]["times"]
    per_round.append(res["ours"]["median"] / res["baseline"]["median"])
o, b = statistics.median(times["ours"]) * 1000, statistics.median(times["baseline"]) * 1000
print(f"this build {o:.1f} ms, baseline {b:.1f} ms, ratio {o/b:.3f}x over {len(times['ours'])} grades each")
print("ratio per round: " + " ".join(f"{x:.2f}" for x in per_round))
PY
