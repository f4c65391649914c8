//! `doctor`: what this host supports, checked by looking and then by running a
//! probe jail with every layer on.

use serde::Serialize;

use crate::{cgroup, gvisor, landlock, netpool, seccomp, Isolation, Spec};

/// The host support report (serialisable for `gauntlet sandbox doctor`).
#[derive(Debug, Clone, Serialize)]
pub struct Doctor {
    /// True when a probe jail ran `/bin/true` with every layer on.
    pub ok: bool,
    pub kernel: String,
    pub rootless: bool,
    /// `/proc/sys/user/max_user_namespaces` (0 means user namespaces are off).
    pub max_user_namespaces: Option<u64>,
    /// `v1`, `v2`, or why cgroups are unusable.
    pub cgroup: String,
    pub landlock_abi: Option<u32>,
    /// The pool of prepared network namespaces: where, and how many are pinned; or
    /// why runs get a fresh namespace each (see netpool.rs).
    pub network_pool: String,
    /// Syscalls the seccomp allow-list refuses outright (EPERM; `clone3` ENOSYS).
    pub seccomp_denied_syscalls: Vec<&'static str>,
    /// The refused groups, each with the reason.
    pub seccomp_policy: Vec<(&'static str, Vec<&'static str>)>,
    /// The allowed groups, each with the reason.
    pub seccomp_allowed: Vec<(&'static str, Vec<&'static str>)>,
    /// Syscalls decided by their arguments, each with the reason.
    pub seccomp_conditional: Vec<(&'static str, &'static str)>,
    /// What a syscall the policy does not know gets.
    pub seccomp_unknown: &'static str,
    /// The probe's outcome: `exited` or the error that stopped it.
    pub probe: String,
    /// Layers the probe had.
    pub layers: Option<crate::Layers>,
    /// gVisor (`--isolation gvisor`): runsc's version, the platform, and a probe.
    pub gvisor: gvisor::Doctor,
}

struct Discard;
impl crate::OutputSink for Discard {
    fn output(&mut self, _: crate::Stream, _: &[u8]) {}
}

/// Inspects the host and runs one probe jail.
pub fn doctor() -> Doctor {
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let max_user_namespaces = std::fs::read_to_string("/proc/sys/user/max_user_namespaces")
        .ok()
        .and_then(|s| s.trim().parse().ok());
    let cgroup = match cgroup::host() {
        Ok(h) => h.name().to_string(),
        Err(e) => e.to_string(),
    };
    let (probe, layers, ok) = run_probe(Isolation::Namespaces);
    let gvisor = gvisor::doctor(|| run_probe(Isolation::Gvisor).0);
    Doctor {
        ok,
        kernel,
        // SAFETY: a getter without side effects.
        rootless: unsafe { libc::geteuid() } != 0,
        max_user_namespaces,
        cgroup,
        landlock_abi: landlock::abi(),
        network_pool: netpool::describe(),
        seccomp_denied_syscalls: seccomp::denied_names(),
        seccomp_policy: groups(|a| a != seccomp::Action::Allow),
        seccomp_allowed: groups(|a| a == seccomp::Action::Allow),
        seccomp_conditional: seccomp::CONDITIONAL
            .iter()
            .map(|c| (c.syscall.0, c.why))
            .collect(),
        seccomp_unknown: "ENOSYS",
        probe,
        layers,
        gvisor,
    }
}

/// Runs `/bin/true` under `isolation`: its status (or the error that stopped it),
/// its layers, and whether it exited 0.
fn run_probe(isolation: Isolation) -> (String, Option<crate::Layers>, bool) {
    let mut spec = Spec::new(["/bin/true"]);
    spec.isolation = isolation;
    match crate::run(&spec, &mut Discard) {
        Ok(r) => {
            let ok = r.status == crate::Status::Exited && r.exit_code == Some(0);
            (
                serde_json::to_value(r.status)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
                    .unwrap_or_default(),
                Some(r.layers),
                ok,
            )
        }
        Err(e) => (e.to_string(), None, false),
    }
}

fn groups(pick: impl Fn(seccomp::Action) -> bool) -> Vec<(&'static str, Vec<&'static str>)> {
    seccomp::POLICY
        .iter()
        .filter(|g| pick(g.action))
        .map(|g| {
            let names = g.syscalls.iter().filter(|s| s.1 >= 0).map(|s| s.0);
            (g.why, names.collect())
        })
        .collect()
}
