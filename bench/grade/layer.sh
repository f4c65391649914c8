#!/usr/bin/env bash
# Per-job set-up cost against the size of the prepared layer: the same trivial
# exercise graded with an empty prepared layer and with ~300 MB of extra files
# (a node_modules-like tree of many small and some large files), side by side in
# one hyperfine run. The workspace is an overlay over the layer, so the cost must
# not grow with it. Must: within 10%. Timed inside one process (the server's case:
# packages are loaded and hashed once at start-up, not per job).
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${RUNS:-30}


work=$(mktemp -d)
chmod 755 "$work"   # the jail user reaches the data dir below it by path
trap 'rm -rf "$work"' EXIT

make_ex() { # id extra_mb
    local d=$work/$1
    mkdir -p "$d/starter" "$d/solution" "$d/tests"
    cat > "$d/exercise.yaml" <<YAML
id: $1
title: Layer size probe
runtime: shell
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
    if [ "$2" -gt 0 ]; then
        python3 - "$d/starter/node_modules" "$2" <<'PY'
import os, sys
root, mb = sys.argv[1], int(sys.argv[2])
total, i = 0, 0
while total < mb << 20:
    d = os.path.join(root, f"pkg{i // 50}", "lib")
    os.makedirs(d, exist_ok=True)
    size = 4096 if i % 100 else 4 << 20
    with open(os.path.join(d, f"f{i}.js"), "wb") as f:
        f.write(os.urandom(size))
    total += size
    i += 1
print(f"{root}: {i} files, {total >> 20} MiB", file=sys.stderr)
PY
    fi
}
make_ex empty-layer 0
make_ex big-layer 300
RUNS=$runs cargo bench --locked -q -p gauntlet-grader --bench layer -- "$work/data" "$work/empty-layer" "$work/big-layer"
du -sh "$work/data/prepared"/* >&2
