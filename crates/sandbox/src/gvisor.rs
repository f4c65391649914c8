//! gVisor as an inner layer (`Isolation::Gvisor`, docs/sandbox.md "gVisor").
//!
//! The jail is built as always: namespaces, the read-only root with the caller's
//! binds and overlays, the per-run `/tmp`, an empty network, the cgroup, the
//! watchdogs and the output capture. Then the payload does not become the command:
//! it becomes `runsc run`, with a bundle whose root is the jail's own root, read-only,
//! and whose only writable mounts are the jail's writable paths. The command runs on
//! gVisor's sentry, a user-space kernel: the host kernel sees only the sentry's and
//! the gofer's own system calls, which runsc filters with its own seccomp policy.
//!
//! Everything runsc starts stays inside the jail: its PID namespace (one kill takes
//! them all), its cgroup (their memory, threads and CPU count against the run's
//! limits) and its user namespace, where runsc is uid 0 mapped to an unprivileged
//! host uid ([`RUNSC_HOST_ID`]) and its sandbox process `nobody` mapped to another
//! ([`SENTRY_HOST_ID`]). runsc needs its capabilities there to build its own
//! namespaces and mounts, so the payload keeps them, and skips Landlock (a Landlock
//! domain forbids mounting) and the jail's seccomp filter (runsc needs `ptrace`,
//! `mount`, `clone` with namespace flags). The command inside has no capabilities,
//! and runsc applies the seccomp policy's refusals to it inside gVisor's kernel
//! (`--oci-seccomp` with [`crate::seccomp::oci_rules`]): the same EPERMs as under
//! the namespace backend.
//!
//! What differs for the command:
//! - fd 3 (the results channel) reaches it as runsc's stdin, which gVisor passes
//!   through as the command's fd 0; a `/bin/sh` shim inside gVisor moves it to fd 3
//!   and puts `/dev/null` on fd 0 before it `exec`s the command. runsc passes no
//!   other descriptor, so warm jails (fd 4) are namespaces-only.
//! - stdout, stderr and the results channel are sockets, not pipes: with the ptrace
//!   platform, one write of more than 64 KiB to a host pipe comes back short
//!   (runsc 2022-12), where Linux writes a blocking pipe whole, so a program that
//!   does not loop on short writes would lose output. A socket takes the whole write.
//! - a command killed by a signal shows as exit code 128 + the signal: runsc exits
//!   with that code itself.

use std::ffi::CStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{json, Value};

use crate::{Error, Network, Spec};

/// Where runsc may live: under `/usr`, which every jail binds read-only.
const RUNSC_CANDIDATES: &[&str] = &["/usr/bin/runsc", "/usr/sbin/runsc", "/usr/local/bin/runsc"];

/// The jail's folder for runsc: its bundle (`config.json`) and, on a tmpfs of its
/// own, its state. Hidden from the command by an empty tmpfs inside gVisor.
pub const DIR: &str = "/.gvisor";
pub const STATE: &CStr = c"/.gvisor/state";
pub const STATE_OPTS: &CStr = c"size=1m,nr_inodes=256,mode=0700";
const CONFIG: &str = "/.gvisor/config.json";

/// Host uid/gid of runsc itself (uid 0 of the jail's user namespace, root only).
pub const RUNSC_HOST_ID: u32 = 990_001;
/// Host uid/gid of gVisor's sandbox process (`nobody`, 65534, in the jail's user
/// namespace): runsc starts its sentry as that user.
pub const SENTRY_HOST_ID: u32 = 990_002;
pub const NOBODY: u32 = 65_534;

/// Threads gVisor needs on top of the command's own: the runsc parent, the gofer
/// and the sentry are Go programs, about 40 threads together on 2 CPUs (measured;
/// Go's scale with the CPU count). Added to the cgroup's pids limit, so that
/// `limits.pids` still bounds what the command itself may start.
pub fn pids_allowance() -> u64 {
    let cpus = std::thread::available_parallelism().map_or(2, |n| n.get()) as u64;
    64 + 4 * cpus
}

/// Memory gVisor needs on top of the command's own (the sentry's and gofer's heaps
/// and page tables: about 20 MiB for a python run, measured), added to the
/// cgroup's memory limit for the same reason.
pub const MEMORY_ALLOWANCE: u64 = 32 << 20;

/// The platform the sentry runs the command on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    /// Hardware virtualisation through `/dev/kvm`: the command runs in a guest ring.
    Kvm,
    /// `ptrace(2)` stubs: works everywhere, slower system calls.
    Ptrace,
}

impl Platform {
    pub fn name(self) -> &'static str {
        match self {
            Platform::Kvm => "kvm",
            Platform::Ptrace => "ptrace",
        }
    }
}

/// The runsc found on this host.
#[derive(Debug, Clone)]
pub struct Runsc {
    pub path: PathBuf,
    /// `runsc --version`'s first line.
    pub version: String,
}

/// runsc, found and run once (`--version`); the error names what is missing.
pub fn runsc() -> Result<&'static Runsc, Error> {
    static FOUND: OnceLock<Result<Runsc, String>> = OnceLock::new();
    FOUND
        .get_or_init(find)
        .as_ref()
        .map_err(|e| Error::Unsupported(e.clone()))
}

/// The variable that names runsc when it is not in one of [`RUNSC_CANDIDATES`].
pub const RUNSC_VAR: &str = "GAUNTLET_RUNSC";

fn find() -> Result<Runsc, String> {
    let path = match std::env::var_os(RUNSC_VAR) {
        Some(p) => {
            let p = PathBuf::from(p);
            if !p.is_absolute() || !p.starts_with("/usr") {
                return Err(format!(
                    "gVisor was asked for, but {RUNSC_VAR}={} is not under /usr, the only host \
                     folder every jail sees",
                    p.display()
                ));
            }
            if !p.is_file() {
                return Err(format!(
                    "gVisor was asked for, but runsc is not installed: {} ({RUNSC_VAR}) does not exist",
                    p.display()
                ));
            }
            p
        }
        None => RUNSC_CANDIDATES
            .iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
            .ok_or_else(|| {
                format!(
                    "gVisor was asked for, but runsc is not installed (looked for {}; on Debian \
                     and Ubuntu: apt install runsc)",
                    RUNSC_CANDIDATES.join(", ")
                )
            })?,
    };
    let out = Command::new(&path).arg("--version").output().map_err(|e| {
        format!(
            "gVisor was asked for, but {} does not run: {e}",
            path.display()
        )
    })?;
    let text = String::from_utf8_lossy(&out.stdout);
    let version = text.lines().next().unwrap_or("").trim().to_string();
    if !out.status.success() || !version.starts_with("runsc version") {
        return Err(format!(
            "gVisor was asked for, but `{} --version` failed ({}): {}",
            path.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(Runsc { path, version })
}

/// The platform gVisor runs on here, chosen once: KVM when `/dev/kvm` is usable by
/// the jail's unprivileged users and a probe jail boots on it within a few seconds,
/// otherwise ptrace. (A `/dev/kvm` can exist and still not work for gVisor: nested
/// or paravirtualised KVM, such as PVM, hangs or fails the KVM platform; the probe
/// catches that.) Also returns why KVM was not chosen, for `doctor`.
pub fn platform() -> Platform {
    choice().0
}

fn choice() -> &'static (Platform, String) {
    static CHOSEN: OnceLock<(Platform, String)> = OnceLock::new();
    CHOSEN.get_or_init(|| {
        if !kvm_usable() {
            return (
                Platform::Ptrace,
                "/dev/kvm is missing or not readable and writable by others".into(),
            );
        }
        match probe(Platform::Kvm) {
            Ok(()) => (Platform::Kvm, String::new()),
            Err(why) => (Platform::Ptrace, format!("a probe on KVM failed: {why}")),
        }
    })
}

/// `/dev/kvm` is a character device that others may read and write: the sentry
/// runs as an unprivileged host uid without supplementary groups.
pub fn kvm_usable() -> bool {
    use std::os::unix::fs::FileTypeExt;
    match std::fs::metadata("/dev/kvm") {
        Ok(m) => m.file_type().is_char_device() && m.permissions().mode() & 0o006 == 0o006,
        Err(_) => false,
    }
}

/// Runs `/bin/true` under gVisor on `platform`, with a short wall limit; why not,
/// when it does not exit 0 (its status and the start of its stderr).
fn probe(platform: Platform) -> Result<(), String> {
    struct Stderr(Vec<u8>);
    impl crate::OutputSink for Stderr {
        fn output(&mut self, stream: crate::Stream, bytes: &[u8]) {
            if stream == crate::Stream::Stderr && self.0.len() < 512 {
                self.0.extend_from_slice(bytes);
            }
        }
    }
    let mut spec = Spec::new(["/bin/true"]);
    spec.isolation = crate::Isolation::Gvisor;
    spec.limits.wall_time = Duration::from_secs(5);
    spec.limits.idle_timeout = None;
    let mut err = Stderr(Vec::new());
    FORCED.with(|f| f.set(Some(platform)));
    let r = crate::run(&spec, &mut err);
    FORCED.with(|f| f.set(None));
    match r {
        Ok(r) if r.status == crate::Status::Exited && r.exit_code == Some(0) => Ok(()),
        Ok(r) => Err(format!(
            "{:?} {:?}: {}",
            r.status,
            r.exit_code,
            String::from_utf8_lossy(&err.0).trim()
        )),
        Err(e) => Err(e.to_string()),
    }
}

thread_local! {
    /// The platform a probe forces on this thread (the probe runs before the choice
    /// is made, so it cannot ask [`platform`]).
    static FORCED: std::cell::Cell<Option<Platform>> = const { std::cell::Cell::new(None) };
}

/// The platform this run uses.
pub fn platform_for_run() -> Platform {
    FORCED.with(|f| f.get()).unwrap_or_else(platform)
}

/// What a plan needs to run the command under gVisor (plan.rs takes it apart).
pub struct GvisorPlan {
    pub platform: Platform,
    /// The bundle's `config.json`: where in the jail's root, and its bytes.
    pub config: (&'static str, Vec<u8>),
    /// runsc's path and command line (plan.rs makes them the payload's).
    pub runsc: PathBuf,
    pub argv: Vec<String>,
}

/// Checks that gVisor can run `spec` and prepares runsc's command line and bundle.
/// `env` is the command's environment, as the namespace backend would give it.
pub fn prepare(
    spec: &Spec,
    env: &[(String, String)],
    writable: &[PathBuf],
    rlimits: &[(libc::__rlimit_resource_t, u64, u64)],
) -> Result<GvisorPlan, Error> {
    let runsc = runsc()?;
    if crate::rootless() {
        return Err(Error::Unsupported(
            "gVisor needs Gauntlet to run as root: runsc needs uids 0 and 65534 in the jail's \
             user namespace, and an unprivileged caller can map only its own uid"
                .into(),
        ));
    }
    if spec.warm.is_some() {
        return Err(Error::InvalidSpec(
            "warm jails run under the namespaces isolation only (runsc passes no job socket)"
                .into(),
        ));
    }
    let platform = platform_for_run();
    let config = serde_json::to_vec_pretty(&config(spec, env, writable, rlimits)?)
        .map_err(|e| Error::InvalidSpec(format!("gVisor bundle: {e}")))?;
    let network = match spec.network {
        Network::None => "none",
        Network::Join(_) => "host",
    };
    let argv = [
        "runsc".to_string(),
        format!("--root={}", STATE.to_str().unwrap_or_default()),
        "--ignore-cgroups".into(),
        "--oci-seccomp".into(),
        format!("--network={network}"),
        format!("--platform={}", platform.name()),
        "run".into(),
        format!("--bundle={DIR}"),
        "gauntlet".into(),
    ];
    Ok(GvisorPlan {
        platform,
        config: (CONFIG, config),
        runsc: runsc.path.clone(),
        argv: argv.to_vec(),
    })
}

/// The OCI runtime spec of the bundle: the jail's root, read-only; the jail's
/// writable paths bound writable; gVisor's own `/proc` and `/dev`; uid/gid 1000
/// with no capabilities and `no_new_privs`; the command's environment, working
/// directory and rlimits.
fn config(
    spec: &Spec,
    env: &[(String, String)],
    writable: &[PathBuf],
    rlimits: &[(libc::__rlimit_resource_t, u64, u64)],
) -> Result<Value, Error> {
    let utf8 = |s: &std::ffi::OsStr| {
        s.to_str().map(String::from).ok_or_else(|| {
            Error::InvalidSpec(format!(
                "under gVisor the command line must be UTF-8: {:?}",
                String::from_utf8_lossy(s.as_bytes())
            ))
        })
    };
    let mut args: Vec<String> = spec
        .argv
        .iter()
        .map(|a| utf8(a))
        .collect::<Result<_, _>>()?;
    if spec.results.is_some() {
        // The results channel arrives as fd 0 (runsc's stdin): to fd 3, and stdin
        // from /dev/null, before anything the caller runs.
        let shim = [
            "/bin/sh",
            "-c",
            "exec 3<&0 </dev/null; exec \"$@\"",
            "gauntlet-results",
        ];
        args.splice(0..0, shim.iter().map(|s| s.to_string()));
    }
    let mut mounts = vec![json!({"destination": "/proc", "type": "proc", "source": "proc"})];
    for p in writable {
        let p = p.to_str().ok_or_else(|| {
            Error::InvalidSpec(format!("under gVisor paths must be UTF-8: {}", p.display()))
        })?;
        mounts.push(json!({
            "destination": p, "type": "bind", "source": p,
            "options": ["rbind", "rw", "nosuid", "nodev"],
        }));
    }
    mounts.push(json!({
        "destination": DIR, "type": "tmpfs", "source": "tmpfs",
        "options": ["ro", "nosuid", "nodev", "noexec"],
    }));
    let mut namespaces = vec![
        json!({"type": "pid"}),
        json!({"type": "ipc"}),
        json!({"type": "uts"}),
        json!({"type": "mount"}),
    ];
    if matches!(spec.network, Network::None) {
        namespaces.push(json!({"type": "network"}));
    }
    let rlimits: Vec<Value> = rlimits
        .iter()
        .filter_map(|&(r, soft, hard)| {
            Some(json!({"type": rlimit_name(r)?, "soft": soft, "hard": hard}))
        })
        .collect();
    let no_caps: [&str; 0] = [];
    Ok(json!({
        "ociVersion": "1.0.2",
        "process": {
            "user": {"uid": crate::JAIL_UID, "gid": crate::JAIL_GID},
            "args": args,
            "env": env.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>(),
            "cwd": spec.workdir.to_str().unwrap_or("/"),
            "capabilities": {
                "bounding": no_caps, "effective": no_caps, "inheritable": no_caps,
                "permitted": no_caps, "ambient": no_caps,
            },
            "rlimits": rlimits,
            "noNewPrivileges": true,
        },
        "root": {"path": "/", "readonly": true},
        "hostname": "gauntlet",
        "mounts": mounts,
        "linux": {"namespaces": namespaces, "seccomp": crate::seccomp::oci_rules()},
    }))
}

fn rlimit_name(r: libc::__rlimit_resource_t) -> Option<&'static str> {
    Some(match r {
        libc::RLIMIT_CORE => "RLIMIT_CORE",
        libc::RLIMIT_NOFILE => "RLIMIT_NOFILE",
        libc::RLIMIT_FSIZE => "RLIMIT_FSIZE",
        libc::RLIMIT_STACK => "RLIMIT_STACK",
        libc::RLIMIT_CPU => "RLIMIT_CPU",
        libc::RLIMIT_MEMLOCK => "RLIMIT_MEMLOCK",
        libc::RLIMIT_MSGQUEUE => "RLIMIT_MSGQUEUE",
        _ => return None,
    })
}

/// The rlimits runsc itself runs under: the command's, but with room for gVisor's
/// descriptors (the gofer holds one per open file of the command) and no file size
/// limit (the sentry keeps the command's memory in one large memory file; the
/// command's own limit is in the bundle, and the tmpfs sizes still cap its files).
pub fn runsc_rlimits(
    command: &[(libc::__rlimit_resource_t, u64, u64)],
) -> Vec<(libc::__rlimit_resource_t, u64, u64)> {
    let mut hard = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit fills the struct.
    let nofile_max = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut hard) } == 0 {
        hard.rlim_max.min(65_536)
    } else {
        4096
    };
    command
        .iter()
        .map(|&(r, soft, hard)| match r {
            libc::RLIMIT_NOFILE => (r, nofile_max, nofile_max),
            libc::RLIMIT_FSIZE => (r, libc::RLIM_INFINITY, libc::RLIM_INFINITY),
            _ => (r, soft, hard),
        })
        .collect()
}

/// What `sandbox doctor` shows about gVisor.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Doctor {
    /// `runsc --version`, or why gVisor cannot be used.
    pub runsc: String,
    /// The platform runs would use (`kvm` or `ptrace`), when runsc works.
    pub platform: Option<&'static str>,
    /// `/dev/kvm` is usable by the jail's users (what the KVM platform needs first).
    pub kvm_device_usable: bool,
    /// Why the platform is not KVM (empty when it is).
    pub platform_reason: String,
    /// A probe jail ran `/bin/true` under gVisor.
    pub probe: String,
}

pub fn doctor(probe_run: impl FnOnce() -> String) -> Doctor {
    match runsc() {
        Ok(r) => Doctor {
            runsc: format!("{} ({})", r.version, r.path.display()),
            platform: Some(platform().name()),
            kvm_device_usable: kvm_usable(),
            platform_reason: choice().1.clone(),
            probe: probe_run(),
        },
        Err(e) => Doctor {
            runsc: e.to_string(),
            platform: None,
            kvm_device_usable: kvm_usable(),
            platform_reason: String::new(),
            probe: "not run".into(),
        },
    }
}
