#!/usr/bin/env bash
# bench/queue: the job queue side by side with its peer, graphile-worker, on the same
# PostgreSQL in the same run.
#
#  1. add->start latency: one no-op job at a time into an idle worker (the wake-up comes
#     from the store's signal: LISTEN/NOTIFY on PostgreSQL, in-process on SQLite; the
#     fallback poll is 60 s); p50/p90/p99/max/mean in ms;
#  2. throughput: adds/s from one client, then no-op jobs/s draining a pre-filled queue.
#
# Targets: p50 <= 5 ms on PostgreSQL, <= 2 ms on SQLite. Published anchor: graphile-worker
# 4.16 ms average add->start on PostgreSQL.
#
# Usage: bench/queue/run.sh [LATENCY_JOBS [THROUGHPUT_JOBS [CONCURRENCY]]]
# Environment: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test; each
# run creates and drops its own databases). The peer is skipped when npm is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."

lat=${1:-1000}
thr=${2:-5000}
conc=${3:-8}
admin=${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}

cargo bench --quiet -p gauntlet-queue --bench queue -- \
  --latency-jobs "$lat" --throughput-jobs "$thr" --concurrency "$conc" | tee /tmp/gauntlet-queue-bench.$$
ours=$(grep '^postgres ' /tmp/gauntlet-queue-bench.$$ || true)
rm -f /tmp/gauntlet-queue-bench.$$

if ! command -v npm >/dev/null || ! command -v psql >/dev/null || [ -z "$ours" ]; then
  echo "peer skipped (needs npm, psql and a reachable PostgreSQL)"
  exit 0
fi
(cd bench/queue/graphile && npm ci --silent --no-audit --no-fund >/dev/null 2>&1 || npm install --silent --no-audit --no-fund >/dev/null)
db=gauntlet_bench_peer_$$
base=${admin%%\?*}
base=${base%/*}
psql -q "$admin" -c "CREATE DATABASE $db"
trap 'psql -q "$admin" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"' EXIT
peer=$(BENCH_PG_URL="$base/$db" node bench/queue/graphile/bench.mjs "$lat" "$thr" "$conc")
python3 - "$ours" "$peer" <<'PY'
import json, sys
ours = sys.argv[1].split()
peer = json.loads(sys.argv[2])
o = dict(p50=float(ours[1]), p90=float(ours[2]), p99=float(ours[3]), max=float(ours[4]),
         mean=float(ours[5]), adds=float(ours[6]), jobs=float(ours[7]))
print(f"{'graphile':<9} {peer['p50']:>9.3f} {peer['p90']:>9.3f} {peer['p99']:>9.3f} "
      f"{peer['max']:>9.3f} {peer['mean']:>9.3f} {peer['adds_per_s']:>12.0f} {peer['jobs_per_s']:>12.0f}"
      "   (graphile-worker 0.16.6, same server, same run)")
print(f"ratio gauntlet/graphile on PostgreSQL: p50 {o['p50']/peer['p50']:.2f}x, "
      f"mean {o['mean']/peer['mean']:.2f}x (lower is better); "
      f"no-op throughput {o['jobs']/peer['jobs_per_s']:.2f}x (higher is better)")
PY
