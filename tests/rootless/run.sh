#!/usr/bin/env bash
# Rootless, proven: the sandbox's own test binaries and `gauntlet sandbox run` run as
# an unprivileged host user in a cgroup subtree delegated to it the way
# docs/sandbox.md tells an operator to (see "Running it: host kinds").
#
# As root it creates (once) the system user `gauntlet-rootless`, delegates a subtree
# of each cgroup controller the sandbox uses to it, copies the test binaries and the
# CLI into a folder of that user's, moves a shell into the delegated cgroup(s), drops
# to the user and runs them there. Every test must pass; tests that need root by
# design print `skipped: …` (listed at the end). Idempotent; the cgroup subtree and
# the folder are removed afterwards, the user is kept.
#
# No subordinate ids: rootless, the jail maps only the caller's own uid and gid
# (`1000 <uid> 1`, setgroups denied; supervise.rs::hand_over), which needs none.
set -euo pipefail
cd "$(dirname "$0")/../.."

user=gauntlet-rootless
say() { echo "rootless: $*"; }
skip() {
    say "skipped: $*"
    exit 0
}

[ "$(id -u)" = 0 ] || skip "needs root (to create the user and delegate cgroups)"
command -v setpriv >/dev/null || skip "no setpriv (util-linux)"
[ "$(cat /proc/sys/user/max_user_namespaces 2>/dev/null || echo 0)" -gt 0 ] ||
    skip "user namespaces are off (user.max_user_namespaces = 0)"
if [ "$(cat /proc/sys/kernel/unprivileged_userns_clone 2>/dev/null || echo 1)" = 0 ]; then
    skip "unprivileged user namespaces are off (kernel.unprivileged_userns_clone = 0)"
fi
if [ "$(cat /proc/sys/kernel/apparmor_restrict_unprivileged_userns 2>/dev/null || echo 0)" = 1 ]; then
    skip "AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns = 1)"
fi

started=$(date +%s)

# --- the user --------------------------------------------------------------------
if ! id -u "$user" >/dev/null 2>&1; then
    useradd --system --no-create-home --user-group --shell /usr/sbin/nologin "$user"
    say "created user $user"
fi
uid=$(id -u "$user")
gid=$(id -g "$user")

# --- the binaries (built as the caller; cargo finds them wherever the target dir is)
say "building the sandbox's test binaries and the CLI"
mapfile -t tests < <(cargo test -p gauntlet-sandbox --no-run --locked --message-format=json |
    jq -r 'select(.reason == "compiler-artifact" and .profile.test and .executable) | .executable')
cli=$(cargo build -p gauntlet-cli --bin gauntlet --locked --message-format=json |
    jq -r 'select(.reason == "compiler-artifact" and .executable) | .executable' | tail -n1)
[ "${#tests[@]}" -gt 0 ] && [ -x "$cli" ] || {
    say "FAILED: no test binaries or no gauntlet binary from cargo"
    exit 1
}

# A folder of the user's (the clone and the target dir may sit under /root, 0700).
work=$(mktemp -d /tmp/gauntlet-rootless.XXXXXX)
mkdir "$work/bin" "$work/home" "$work/tmp"
install -m 0755 "${tests[@]}" "$cli" "$work/bin/"
chown -R "$uid:$gid" "$work"

# --- the delegated cgroup(s) -----------------------------------------------------
# The sandbox puts its cgroups under the caller's own (/proc/self/cgroup), in
# `gauntlet/`: so the user's shell is moved into a subtree it owns.
delegated=()
cleanup() {
    # Bottom-up: run cgroups, the sandbox's `gauntlet` folder, the delegated subtree.
    for d in "${delegated[@]}"; do
        [ -d "$d" ] || continue
        find "$d" -depth -mindepth 1 -type d -exec rmdir {} + 2>/dev/null || true
        rmdir "$d" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

# This shell's cgroup in a hierarchy ("" for v2's unified one), from /proc/self/cgroup.
own_cgroup() {
    awk -F: -v c="$1" '{ n = split($2, a, ","); for (i = 1; i <= n; i++) if (a[i] == c) { print $3; exit } }
        c == "" && $2 == "" { print $3; exit }' /proc/self/cgroup
}

if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
    # Pure v2, as systemd's Delegate=yes: a child of the root cgroup (exempt from the
    # no-internal-processes rule) with memory and pids enabled above it, owned by the
    # user together with the files a delegatee writes (cgroup.procs,
    # cgroup.subtree_control, cgroup.threads). The sandbox moves its own process into
    # a leaf (`gauntlet-supervisor`) when it enables the controllers below.
    kind=v2
    for c in memory pids; do
        grep -qw "$c" /sys/fs/cgroup/cgroup.controllers || skip "no $c controller on cgroup v2"
    done
    echo "+memory +pids" >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null ||
        skip "cannot enable memory and pids in /sys/fs/cgroup (a container's cgroup namespace?)"
    d=/sys/fs/cgroup/$user
    mkdir -p "$d"
    delegated+=("$d")
    chown "$uid:$gid" "$d" "$d/cgroup.procs" "$d/cgroup.subtree_control" "$d/cgroup.threads"
else
    # v1/hybrid: the three hierarchies cgroup.rs uses (memory, pids, cpuacct), each a
    # subtree below this shell's own cgroup (on a plain host: /sys/fs/cgroup/<ctrl>/
    # gauntlet-rootless), its folder and control files owned by the user.
    kind=v1
    for c in memory pids cpuacct; do
        [ -d "/sys/fs/cgroup/$c" ] || skip "no v1 $c hierarchy at /sys/fs/cgroup/$c"
        d=/sys/fs/cgroup/$c$(own_cgroup "$c")
        d=${d%/}/$user
        mkdir -p "$d"
        delegated+=("$d")
        chown -R "$uid:$gid" "$d"
    done
fi
say "cgroup $kind delegated to $user ($uid): ${delegated[*]}"

# Each run starts in the subtree as delegated, as a service (re)started by systemd
# would: what the last run left (the sandbox's `gauntlet` folders, v2's supervisor
# leaf and enabled controllers, which would refuse a process in the subtree's own
# cgroup) is removed first.
fresh() {
    for d in "${delegated[@]}"; do
        find "$d" -depth -mindepth 1 -type d -exec rmdir {} + 2>/dev/null || true
        if [ "$kind" = v2 ]; then echo "-memory -pids" >"$d/cgroup.subtree_control"; fi
    done
}

# Runs "$@" as the user, in the delegated cgroup(s), from its folder, with a clean
# environment. The subshell moves itself (as root) before dropping privileges.
as_user() {
    fresh
    (
        for d in "${delegated[@]}"; do echo "$BASHPID" >"$d/cgroup.procs"; done
        cd "$work/home"
        exec setpriv --reuid="$uid" --regid="$gid" --init-groups \
            env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$work/home" USER="$user" \
            LANG=C.UTF-8 TMPDIR="$work/tmp" RUST_BACKTRACE=1 "$@"
    )
}

# --- the tests --------------------------------------------------------------------
failed=0
log=$work/tests.log
for t in "${tests[@]}"; do
    name=$(basename "$t")
    say "running ${name%-*} as $user"
    # --show-output prints each passed test's output under its name: the reasons of
    # those that skipped themselves.
    if ! as_user "$work/bin/$name" --color never --show-output 2>&1 | tee -a "$log"; then
        failed=1
    fi
done

# --- the CLI: every layer on, rootless ---------------------------------------------
say "gauntlet sandbox run -- /bin/true as $user"
set +e
as_user "$work/bin/gauntlet" sandbox run --report "$work/tmp/report.json" -- /bin/true
code=$?
set -e
report=$(cat "$work/tmp/report.json" 2>/dev/null || true)
echo "$report"
if [ "$code" != 0 ] || ! jq -e '.status == "exited" and .exit_code == 0 and .layers.rootless == true
        and .layers.namespaces and .layers.pivot_root and .layers.seccomp and .layers.landlock
        and (.layers.cgroup == "v1" or .layers.cgroup == "v2") and .layers.no_new_privs
        and .layers.capabilities_dropped and .layers.userns_owner == '"$uid" <<<"$report" >/dev/null; then
    say "FAILED: the CLI's report is not rootless with every layer on (exit $code)"
    failed=1
fi

echo
say "tests skipped by design without root:"
awk '/^---- .* stdout ----$/ { name = $2 } /^skipped:|needs root/ && name { print "  " name ": " $0 }' "$log"
if [ "$failed" != 0 ]; then
    say "FAILED ($(($(date +%s) - started))s)"
    exit 1
fi
say "ok: every test passed as $user, cgroup $kind ($(($(date +%s) - started))s)"
