#!/usr/bin/env bash
# The sandbox on Debian 12's own kernel (6.1: Landlock ABI 2, older than the ABI
# the sandbox is written for) with only the unified cgroup hierarchy: boots it in a
# small KVM guest (QEMU's emulator where /dev/kvm cannot run it, below) that sees
# this host's root read-only (virtio-9p, under a tmpfs overlay, so every path is the
# host's), and runs there the sandbox crate's test binaries, `sandbox_cli`,
# `gauntlet sandbox doctor` and `gauntlet sandbox run` against each limit
# (tests/kvm/guest.sh), reading the facts off the reports.
#
#   tests/kvm/run.sh            build what the guest runs, boot, check; exit 1 on failure
#
# Idempotent. As root it installs what is missing (qemu-system-x86,
# linux-image-amd64, busybox-static); the initramfs is cached under
# <cargo target dir>/kvm/ (GAUNTLET_KVM_CACHE overrides), keyed by the kernel and
# the guest's stage scripts. Without root or a usable /dev/kvm it says why and
# skips (exit 0), unless CI=true and /dev/kvm exists: then that is a failure.
# GAUNTLET_KVM_TIMEOUT (seconds, default 900) bounds the guest's whole run;
# GAUNTLET_KVM_CMD='…' runs that one command (bash, in the repo) in the guest
# instead of the checks, to look into a failure there.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo"
timeout_s=${GAUNTLET_KVM_TIMEOUT:-900}
t0=$(date +%s)
say() { echo "kvm: $*"; }

skip() {
    if [ "${CI:-}" = true ] && [ -e /dev/kvm ]; then
        say "FAILED: $* (CI=true and /dev/kvm exists: the guest must run)" >&2
        exit 1
    fi
    say "skipped: $*"
    exit 0
}

[ "$(id -u)" -eq 0 ] || skip "not root (installing packages and the jail's root mode need it)"
# The accelerator: KVM when /dev/kvm can run an unmodified kernel (VT-x or AMD-V:
# kvm_intel or kvm_amd). A /dev/kvm from kvm_pvm (PVM, the nested KVM of some
# cloud sandboxes) runs only PVM-enabled guest kernels: Debian's hangs before its
# first line. There, and with GAUNTLET_KVM_ACCEL=tcg, QEMU's own emulator (TCG,
# one host thread per vCPU) runs the same guest, slower.
accel=${GAUNTLET_KVM_ACCEL:-auto}
if [ "$accel" = auto ]; then
    [ -e /dev/kvm ] || skip "no /dev/kvm (no hardware virtualisation here)"
    { exec 9<>/dev/kvm; } 2>/dev/null || skip "/dev/kvm cannot be opened read-write"
    exec 9>&-
    if [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ]; then
        accel=kvm
    else
        why="/dev/kvm is $(ls /sys/module | grep -m1 -E '^kvm_' || echo 'an unknown kvm'), not kvm_intel or kvm_amd: it cannot boot Debian's kernel"
        say "$why; using QEMU's emulator (TCG) instead"
        accel=tcg
    fi
fi
case $accel in
kvm) qemu_accel=(-enable-kvm -cpu host) ;;
tcg) qemu_accel=(-accel tcg,thread=multi -cpu max) ;;
*) say "GAUNTLET_KVM_ACCEL=$accel: kvm, tcg or auto" >&2; exit 2 ;;
esac

target=${CARGO_TARGET_DIR:-$repo/target}
mkdir -p "$target"
target=$(cd "$target" && pwd)
cache=${GAUNTLET_KVM_CACHE:-$target/kvm}

# --- packages ----------------------------------------------------------------
need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
compgen -G '/boot/vmlinuz-6.1.*' >/dev/null || need+=(linux-image-amd64)
[ "$(dpkg-query -W -f '${Status}' busybox-static 2>/dev/null)" = "install ok installed" ] ||
    need+=(busybox-static)
if [ ${#need[@]} -gt 0 ]; then
    say "installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends "${need[@]}" >/dev/null 2>&1 || {
        apt-get update -qq && apt-get install -y --no-install-recommends "${need[@]}"
    } >/dev/null || skip "apt-get install ${need[*]} failed"
fi
vmlinuz=$(ls /boot/vmlinuz-6.1.* 2>/dev/null | sort -V | tail -1)
[ -n "$vmlinuz" ] || skip "no 6.1 kernel in /boot after installing linux-image-amd64"
kver=${vmlinuz#/boot/vmlinuz-}
moddir=/lib/modules/$kver
[ -f "$moddir/modules.dep" ] || skip "no $moddir/modules.dep"

# --- the initramfs (cached) ----------------------------------------------------
mkdir -p "$cache"
key=$(cat "$here/init" "$here/stage2" /bin/busybox "$moddir/modules.dep" | sha256sum | cut -c1-16)
initrd=$cache/initramfs-$kver-$key.cpio.gz
if [ ! -s "$initrd" ]; then
    say "building the initramfs for $kver"
    stage=$(mktemp -d "$cache/stage.XXXXXX")
    trap 'rm -rf "$stage"' EXIT
    mkdir -p "$stage/bin" "$stage/lib/modules"
    cp /bin/busybox "$stage/bin/busybox"
    cp "$here/init" "$stage/init"
    cp "$here/stage2" "$stage/stage2"
    chmod 755 "$stage/init" "$stage/stage2"
    # The modules and what they need, dependencies first (modules.dep lists each
    # module's dependencies, the ones loaded last first).
    declare -A seen=()
    load=()
    add() {
        local path=$1 deps d
        [ -n "${seen[$path]:-}" ] && return
        seen[$path]=1
        deps=$(awk -v m="$path:" '$1 == m { $1 = ""; print }' "$moddir/modules.dep")
        for d in $(tr ' ' '\n' <<<"$deps" | tac); do add "$d"; done
        load+=("$path")
    }
    for m in virtio_pci 9pnet_virtio 9p overlay; do
        p=$(awk -F: -v m="/$m.ko" 'index($1, m) == length($1) - length(m) + 1 { print $1; exit }' "$moddir/modules.dep")
        [ -n "$p" ] || skip "module $m not in $moddir (built in?)"
        add "$p"
    done
    for p in "${load[@]}"; do
        mkdir -p "$stage/lib/modules/$(dirname "$p")"
        case $p in
        *.ko) cp "$moddir/$p" "$stage/lib/modules/$p" ;;
        *.ko.xz) xz -dc "$moddir/$p" >"$stage/lib/modules/${p%.xz}" ;;
        *.ko.zst) zstd -qdc "$moddir/$p" >"$stage/lib/modules/${p%.zst}" ;;
        esac
    done
    printf '%s\n' "${load[@]}" | sed -E 's/\.(xz|zst)$//' >"$stage/modules.load"
    rm -f "$cache"/initramfs-*.cpio.gz
    (cd "$stage" && find . | cpio -o -H newc --quiet | gzip -1) >"$initrd.tmp"
    mv "$initrd.tmp" "$initrd"
    rm -rf "$stage"
    trap - EXIT
fi
t_ready=$(date +%s)

# --- what the guest runs -----------------------------------------------------
say "building the sandbox's test binaries and gauntlet"
build_json=$cache/build.json
cargo test -p gauntlet-sandbox --locked --no-run --message-format=json >"$build_json"
cargo test -p gauntlet-cli --locked --test sandbox_cli --no-run --message-format=json >>"$build_json"
cargo build -p gauntlet-cli --bin gauntlet --locked
gauntlet=$target/debug/gauntlet
tests=$(/usr/bin/python3 - "$build_json" "$repo" <<'EOF'
import json, sys, os
seen = set()
for line in open(sys.argv[1]):
    try:
        a = json.loads(line)
    except ValueError:
        continue
    if a.get("reason") != "compiler-artifact" or not a.get("executable") or not a["profile"]["test"]:
        continue
    name = a["target"]["name"]
    if a["target"]["kind"] == ["lib"]:
        name = "unit"
    if name in seen:
        continue
    seen.add(name)
    crate = os.path.dirname(a["manifest_path"])
    print(f"{name}|{crate}|{a['executable']}")
EOF
)
job=$cache/job.env
{
    echo "# written by tests/kvm/run.sh for one guest run"
    printf 'REPO=%q\nGAUNTLET=%q\nTESTS=(\n' "$repo" "$gauntlet"
    while read -r t; do printf '  %q\n' "$t"; done <<<"$tests"
    echo ")"
    printf 'GUEST_CMD=%q\n' "${GAUNTLET_KVM_CMD:-}"
    printf 'ACCEL=%q\n' "$accel"
} >"$job"
say "guest runs: $(cut -d'|' -f1 <<<"$tests" | tr '\n' ' ')+ doctor and limit checks"
t_built=$(date +%s)

# --- boot --------------------------------------------------------------------
log=$cache/guest.log
say "booting $vmlinuz with $accel (timeout ${timeout_s}s), serial console in $log"
set +e
timeout -k 10 "$timeout_s" qemu-system-x86_64 \
    "${qemu_accel[@]}" -m 1536 -smp 2 \
    -nodefaults -no-user-config -nographic -serial stdio -monitor none -no-reboot \
    -kernel "$vmlinuz" -initrd "$initrd" \
    -append "console=ttyS0 quiet loglevel=3 panic=-1 systemd.unified_cgroup_hierarchy=1 cgroup_no_v1=all gauntlet.guest=$here/guest.sh gauntlet.job=$job" \
    -virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap" \
    </dev/null 2>&1 | tee "$log"
qemu_rc=${PIPESTATUS[0]}
set -e
t_end=$(date +%s)

# --- the verdict ---------------------------------------------------------------
marker=$(grep -a 'GAUNTLET-KVM-RESULT:' "$log" | tail -1 | tr -d '\r')
echo
echo "===== kvm summary ($kver, $accel) ====="
grep -a -E '^KVM-(FACT|CHECK|TEST|TEST-FAILED|SKIP) ' "$log" | tr -d '\r' | sed -E 's/^KVM-//' || true
echo "timings: initramfs $((t_ready - t0))s, build $((t_built - t_ready))s, guest $((t_end - t_built))s, total $((t_end - t0))s"
if [ "$qemu_rc" -eq 124 ] || [ "$qemu_rc" -eq 137 ]; then
    say "FAILED: the guest did not finish within ${timeout_s}s"
    exit 1
fi
case $marker in
*"GAUNTLET-KVM-RESULT: PASS") say "passed"; exit 0 ;;
"") say "FAILED: no result marker (qemu exit $qemu_rc); see $log"; exit 1 ;;
*) say "FAILED: ${marker#*RESULT: }"; exit 1 ;;
esac
