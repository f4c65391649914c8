#!/usr/bin/env bash
# Grading overhead: `gauntlet grade` of a submission, side by side in the same
# hyperfine run with the same test command run by hand in a fresh copy of the
# workspace (no sandbox, no validation, no parsing). Prints the ratio of medians.
# Must: <= 1.3x.
#
#   bench/grade/overhead.sh [EXERCISE_DIR]     (default: exercises/reverse-words)
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
