#!/usr/bin/env bash
# The web app's transfer size: raw and gzip -9 bytes of what a first visit downloads
# (index.html, app.js, app.css, as committed in web/dist/). Fails when the gzip total
# is over the budget of issue 14: 250 KiB (250 * 1024 bytes). Override with BUDGET=.
set -euo pipefail
cd "$(dirname "$0")/../.."
dist=${DIST:-web/dist}
budget=${BUDGET:-$((250 * 1024))}

raw_total=0
gz_total=0
printf '%-12s %10s %10s\n' file raw gzip-9
for f in index.html app.js app.css; do
  [[ -f $dist/$f ]] || { echo "size.sh: $dist/$f is missing: run scripts/web.sh build" >&2; exit 1; }
  raw=$(wc -c <"$dist/$f")
  gz=$(gzip -9 -c "$dist/$f" | wc -c)
  raw_total=$((raw_total + raw))
  gz_total=$((gz_total + gz))
  printf '%-12s %10d %10d\n' "$f" "$raw" "$gz"
done
printf '%-12s %10d %10d\n' total "$raw_total" "$gz_total"
awk -v g="$gz_total" -v b="$budget" 'BEGIN { printf "gzip total %.1f KiB of a %.1f KiB budget (%.0f%%)\n", g / 1024, b / 1024, 100 * g / b }'
if ((gz_total > budget)); then
  echo "size.sh: FAIL: the compressed bundle is $gz_total bytes, over the budget of $budget" >&2
  exit 1
fi
