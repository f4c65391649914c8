#!/usr/bin/env bash
# The project's test command (README quick start; .ci/run runs exactly this).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --workspace --all-targets --locked
# The sandbox on Debian 12's 6.1 kernel (older Landlock ABI) with only cgroup v2, in a
# QEMU guest sharing this tree (tests/kvm/run.sh says how; its image is cached in target/).
tests/kvm/run.sh
# Lints are part of the build: clippy's warnings (the workspace denies undocumented
# unsafe blocks, among others) fail CI like errors.
cargo clippy --workspace --all-targets --locked -- -D warnings
# The pinned toolchains (npm, from the lockfile, no lifecycle scripts), shared by every
# test: in the machine's toolchains folder (/var/cache/gauntlet/toolchains as root), which
# the jail's user reaches wherever the clone is; GAUNTLET_TOOLCHAINS_DIR overrides it.
target/debug/gauntlet toolchains prepare
# The alert rules' own unit tests, and the API against its OpenAPI document.
promtool test rules deploy/prometheus/alerts_test.yml
tests/schemathesis/run.sh
# The web app: the committed bundle is what its sources and lockfile build, within its
# size budget, and it works end to end in Debian's Chromium against a real serve
# (Playwright, axe-core; the screenshots in docs/screenshots/ are refreshed).
scripts/web.sh check
bench/web/size.sh
tests/e2e/run.sh
# The sandbox rootless: its tests and a CLI run as an unprivileged user in a delegated
# cgroup (as root; prints why and passes when it cannot run); the systemd units verify.
tests/rootless/run.sh
deploy/systemd/verify.sh
# The sandbox's hostile, leak and results-channel tests again, every jail under gVisor
# (`--isolation gvisor`); crates/sandbox/tests/gvisor.rs runs with the rest below.
GAUNTLET_TEST_ISOLATION=gvisor cargo test -p gauntlet-sandbox --locked \
    --test hostile --test leaks --test results_channel -- --color never
# Last, so its summary closes the output.
cargo test --workspace --locked --no-fail-fast -- --color never
