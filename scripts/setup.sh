#!/usr/bin/env bash
# Installs and starts what Gauntlet's build and tests need on a fresh machine of the
# project's kind (Debian, root): system packages, the PostgreSQL and Redis services
# the store and API tests talk to. Idempotent: a second run does nothing it needn't.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf 'setup: %s\n' "$*" >&2; }

# chromium: the browser the end-to-end tests (tests/e2e) and bench/web drive; runsc:
# gVisor, the `--isolation gvisor` backend, whose tests run in CI.
need_pkgs=()
for pair in "hyperfine:hyperfine" "bwrap:bubblewrap" "gcc:gcc" "python3:python3" "node:nodejs" "npm:npm" \
           "promtool:prometheus" "psql:postgresql-client" "chromium:chromium" "runsc:runsc"; do
    bin=${pair%%:*} pkg=${pair##*:}
    [ -x "/usr/bin/$bin" ] || need_pkgs+=("$pkg")
done
if [ ${#need_pkgs[@]} -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
        log "installing ${need_pkgs[*]}"
        apt-get update -qq
        # The prometheus package only provides promtool here: its service is not started.
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
        python3 -c 'import venv' 2>/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    else
        log "missing system packages: ${need_pkgs[*]} (install them, then run again)"
        exit 1
    fi
fi

# PostgreSQL and Redis: started when down (commands of this machine kind); the
# tests that need them say so and skip when they still cannot be reached.
if command -v pg_ctlcluster >/dev/null && ! (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; then
    log "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || log "PostgreSQL did not start"
fi
if command -v redis-server >/dev/null && ! (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then
    log "starting Redis"
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
        --dir /var/lib/redis --logfile /var/log/redis/ci.log || log "Redis did not start"
fi
