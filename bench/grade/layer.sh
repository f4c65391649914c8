#!/usr/bin/env bash
# Per-job set-up cost against the size of the prepared layer: the same trivial
# exercise graded with an empty prepared layer and with ~300 MB of extra files
# (a node_modules-like tree of many small and some large files, installed by the
# runtime's preparation step), interleaved in one process. The workspace is an overlay over the layer, so the cost must
# not grow with it. Must: within 10%. Timed inside one process (the server's case:
# packages are loaded and hashed once at start-up, not per job).
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${RUNS:-30}


work=$(mktemp -d)
chmod 755 "$work"   # the jail user reaches the data dir below it by path
trap 'rm -rf "$work"' EXIT

make_ex() { # id runtime
    local d=$work/$1
    mkdir -p "$d/starter" "$d/solution" "$d/tests"
    cat > "$d/exercise.yaml" <<YAML
id: $1
title: Layer size probe
runtime: $2
submission: files
starter:
  files:
    - path: answer.txt
test:
  command: ["sh", "tests/run.sh"]
  results: tap
scoring: per-test
YAML
    echo no > "$d/starter/answer.txt"
    echo yes > "$d/solution/answer.txt"
    printf '%s\n' 'if [ "$(cat answer.txt)" = yes ]; then echo "ok 1 - answer"; else echo "not ok 1 - answer"; fi' 'echo 1..1' > "$d/tests/run.sh"
}
# The same exercise twice: on the plain shell runtime, and on a runtime whose
# preparation step installs LAYER_MB (default 300) of node_modules-like files into
# the prepared layer (the bench registers it).
make_ex empty-layer shell
make_ex big-layer bulk
RUNS=$runs cargo bench --locked -q -p gauntlet-grader --bench layer -- "$work/data" "$work/empty-layer" "$work/big-layer"
du -sh "$work/data/prepared"/* >&2
