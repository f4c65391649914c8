#!/usr/bin/env bash
# Checks the shipped unit files with `systemd-analyze verify`, unchanged: they are
# copied into a scratch root (--root) that also holds an executable at ExecStart's
# path, /usr/local/bin/gauntlet (verify refuses a unit whose binary is missing).
# Then prints systemd's own exposure score of each (`security --offline`).
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v systemd-analyze >/dev/null; then
    echo "systemd units: skipped: no systemd-analyze on this host"
    exit 0
fi
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/usr/local/bin" "$root/etc/systemd/system"
printf '#!/bin/sh\n' >"$root/usr/local/bin/gauntlet"
chmod 0755 "$root/usr/local/bin/gauntlet"
units=(gauntlet-serve.service gauntlet-worker.service)
for u in "${units[@]}"; do cp "$u" "$root/etc/systemd/system/"; done
status=0
for u in "${units[@]}"; do
    # Any output is a finding (verify exits 0 on some warnings): it fails the check.
    if out=$(systemd-analyze verify --man=no --generators=no --recursive-errors=no \
        --root="$root" "$root/etc/systemd/system/$u" 2>&1) && [ -z "$out" ]; then
        echo "systemd units: $u verifies"
    else
        echo "systemd units: $u FAILED:"
        echo "$out"
        status=1
    fi
    systemd-analyze security --offline=yes --root="$root" --no-pager \
        "$root/etc/systemd/system/$u" 2>/dev/null | tail -n1 | sed "s/^/systemd units: $u: /" || true
done
exit "$status"
