//! One cgroup per run, on cgroup v2 or on v1/hybrid hierarchies: memory without
//! swap, a pids cap, CPU accounting, peak memory and OOM/pids-limit detection.
//!
//! Run cgroups live under the calling process's own cgroup, in `gauntlet/`, so a
//! delegated subtree is all Gauntlet needs. Each run's directory is removed when the
//! run ends (every process in it is gone by then: its PID namespace is dead).

use std::fs;
use std::io::{ErrorKind, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use crate::steps::Step;
use crate::Error;

/// Which hierarchy this host gives us, found once per process.
#[derive(Debug, Clone)]
pub enum Host {
    /// Pure cgroup v2: `base` is `<own cgroup>/gauntlet` with memory and pids enabled.
    V2 { base: PathBuf },
    /// v1 controllers: the `gauntlet` directory under our own cgroup in each.
    V1 {
        memory: PathBuf,
        pids: PathBuf,
        cpuacct: PathBuf,
        memsw: bool,
        /// `memory.kmem.tcp.limit_in_bytes` exists: kernel TCP/UDP buffers, which v1
        /// does not count in `memory.usage_in_bytes`, can be limited.
        tcp: bool,
    },
}

impl Host {
    /// What an administrator does so that this (unprivileged) user may create run
    /// cgroups, naming the exact folders.
    fn how_to_delegate(&self) -> String {
        let uid = crate::sys::geteuid();
        match self {
            Host::V2 { base } => format!(
                "run Gauntlet in a cgroup delegated to uid {uid} (e.g. `systemd-run --user \
                 --scope -p Delegate=yes gauntlet …`), or, as root, `chown -R {uid} {}`",
                base.display()
            ),
            Host::V1 {
                memory,
                pids,
                cpuacct,
                ..
            } => format!(
                "as root, `chown {uid} {} {} {}` (Gauntlet's folder in each v1 hierarchy)",
                memory.display(),
                pids.display(),
                cpuacct.display()
            ),
        }
    }

    pub fn is_v2(&self) -> bool {
        matches!(self, Host::V2 { .. })
    }

    pub fn name(&self) -> &'static str {
        match self {
            Host::V2 { .. } => "v2",
            Host::V1 { .. } => "v1",
        }
    }

    /// How kernel socket buffers are bounded (the report's `layers.socket_memory`):
    /// `memory_limit` (v2 charges them to the run's memory), `capped` (v1: a
    /// separate limit of a quarter of the memory limit, its peak added to
    /// `peak_memory_bytes`), or `uncapped` (v1 without kernel TCP accounting, or v2
    /// booted with `cgroup.memory=nosocket`).
    pub fn socket_memory(&self) -> &'static str {
        match self {
            Host::V2 { .. } if !nosocket() => "memory_limit",
            Host::V1 { tcp: true, .. } => "capped",
            _ => "uncapped",
        }
    }
}

/// The kernel was booted with `cgroup.memory=nosocket`: v2 does not charge sockets.
fn nosocket() -> bool {
    static NOSOCKET: OnceLock<bool> = OnceLock::new();
    *NOSOCKET.get_or_init(|| {
        fs::read_to_string("/proc/cmdline").is_ok_and(|c| {
            c.split_whitespace()
                .filter_map(|w| w.strip_prefix("cgroup.memory="))
                .any(|v| v.split(',').any(|o| o == "nosocket"))
        })
    })
}

/// The v1 limit on a run's kernel TCP/UDP buffers: a quarter of its memory limit,
/// at least 1 MiB. Loopback traffic of a test run (an RPC to a chain, a local HTTP
/// server) stays far below; a program that fills socket buffers on purpose gets
/// EAGAIN or blocks instead of pinning unaccounted kernel memory.
pub fn tcp_limit(memory: u64) -> u64 {
    (memory / 4).max(1 << 20)
}

const MOUNT: &str = "/sys/fs/cgroup";

/// Detects (once) and prepares the `gauntlet` parent cgroups.
pub fn host() -> Result<&'static Host, Error> {
    static HOST: OnceLock<Result<Host, String>> = OnceLock::new();
    HOST.get_or_init(|| {
        let host = detect()?;
        match &host {
            Host::V2 { base } => sweep(base),
            Host::V1 {
                memory,
                pids,
                cpuacct,
                ..
            } => [memory, pids, cpuacct].into_iter().for_each(|b| sweep(b)),
        }
        Ok(host)
    })
    .as_ref()
    .map_err(|e| Error::Unsupported(e.clone()))
}

fn own_paths() -> Result<Vec<(String, String)>, String> {
    let text = fs::read_to_string("/proc/self/cgroup")
        .map_err(|e| format!("cgroups: cannot read /proc/self/cgroup: {e}"))?;
    Ok(text
        .lines()
        .filter_map(|l| {
            let mut it = l.splitn(3, ':');
            let _id = it.next()?;
            let ctrls = it.next()?.to_string();
            let path = it.next()?.to_string();
            Some((ctrls, path))
        })
        .collect())
}

fn detect() -> Result<Host, String> {
    let own = own_paths()?;
    let find = |ctrl: &str| {
        own.iter()
            .find(|(c, _)| c.split(',').any(|x| x == ctrl))
            .map(|(_, p)| p.clone())
    };
    if Path::new(MOUNT).join("cgroup.controllers").exists() {
        let rel = find("").unwrap_or_else(|| "/".into());
        return detect_v2(&Path::new(MOUNT).join(rel.trim_start_matches('/')));
    }
    let mem_mount = Path::new(MOUNT).join("memory");
    let pids_mount = Path::new(MOUNT).join("pids");
    let cpuacct_mount = Path::new(MOUNT).join("cpuacct");
    if !mem_mount.join("memory.limit_in_bytes").exists() {
        return Err("cgroups: no memory controller (neither cgroup v2 nor v1 memory)".into());
    }
    if !pids_mount.join("cgroup.procs").exists() {
        return Err("cgroups: no pids controller on the v1 hierarchy".into());
    }
    if !cpuacct_mount.join("cpuacct.usage").exists() {
        return Err("cgroups: no cpuacct controller on the v1 hierarchy".into());
    }
    let base = |mount: &Path, ctrl: &str| -> Result<PathBuf, String> {
        let rel = find(ctrl).unwrap_or_else(|| "/".into());
        let dir = mount.join(rel.trim_start_matches('/')).join("gauntlet");
        mkdir(&dir).map_err(|e| {
            format!(
                "cgroups: cannot create {} ({e}); Gauntlet needs a writable (delegated) {ctrl} cgroup",
                dir.display()
            )
        })?;
        Ok(dir)
    };
    let memory = base(&mem_mount, "memory")?;
    let memsw = memory.join("memory.memsw.limit_in_bytes").exists();
    let tcp = memory.join("memory.kmem.tcp.limit_in_bytes").exists();
    Ok(Host::V1 {
        tcp,
        pids: base(&pids_mount, "pids")?,
        cpuacct: base(&cpuacct_mount, "cpuacct")?,
        memory,
        memsw,
    })
}

fn detect_v2(own: &Path) -> Result<Host, String> {
    let controllers = fs::read_to_string(own.join("cgroup.controllers")).unwrap_or_default();
    for need in ["memory", "pids"] {
        if !controllers.split_whitespace().any(|c| c == need) {
            return Err(format!(
                "cgroups: the {need} controller is not available in {} (delegate it to Gauntlet's cgroup)",
                own.display()
            ));
        }
    }
    let base = own.join("gauntlet");
    let enable = |dir: &Path| write(&dir.join("cgroup.subtree_control"), "+memory +pids");
    if let Err(e) = enable(own) {
        // v2's "no internal processes" rule: a cgroup that hands controllers to its
        // children may hold no process itself. Move this process into a leaf of its
        // own cgroup (what a delegated service does anyway) and try again.
        if e.raw_os_error() != Some(libc::EBUSY) {
            return Err(format!(
                "cgroups: cannot enable memory and pids below {} ({e}); run Gauntlet in a \
                 delegated cgroup, e.g. `systemd-run --scope -p Delegate=yes gauntlet …`",
                own.display()
            ));
        }
        let leaf = own.join("gauntlet-supervisor");
        mkdir(&leaf)
            .and_then(|()| write(&leaf.join("cgroup.procs"), &std::process::id().to_string()))
            .and_then(|()| enable(own))
            .map_err(|e| {
                format!(
                    "cgroups: cannot enable memory and pids below {} ({e}), even after moving \
                     this process to {}; run Gauntlet in a delegated cgroup",
                    own.display(),
                    leaf.display()
                )
            })?;
    }
    mkdir(&base).map_err(|e| format!("cgroups: cannot create {} ({e})", base.display()))?;
    enable(&base).map_err(|e| {
        format!(
            "cgroups: cannot enable controllers in {} ({e})",
            base.display()
        )
    })?;
    Ok(Host::V2 { base })
}

/// Removes run cgroups left by supervisors that died (SIGKILL, OOM): `run-<pid>-<n>`
/// whose pid is gone. A cgroup that still holds a process refuses rmdir; no harm.
fn sweep(base: &Path) {
    let Ok(entries) = fs::read_dir(base) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("run-"))
            .and_then(|n| n.split('-').next())
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = fs::remove_dir(e.path());
        }
    }
}

fn mkdir(p: &Path) -> std::io::Result<()> {
    match fs::create_dir(p) {
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(()),
        r => r,
    }
}

fn write(p: &Path, v: &str) -> std::io::Result<()> {
    let mut f = fs::OpenOptions::new().write(true).open(p)?;
    f.write_all(v.as_bytes())
}

fn read_u64(p: &Path) -> u64 {
    fs::read_to_string(p)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// `key value` lines (memory.events, pids.events, cpu.stat, memory.oom_control).
fn read_key(p: &Path, key: &str) -> u64 {
    fs::read_to_string(p)
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                let (k, v) = l.split_once(' ')?;
                (k == key).then(|| v.trim().parse().ok()).flatten()
            })
        })
        .unwrap_or(0)
}

/// The cgroup(s) of one run.
#[derive(Debug)]
pub struct RunCgroup {
    dirs: Vec<PathBuf>,
    v2: bool,
}

/// Descriptors through which a jail enters its run cgroup(s): see [`RunCgroup::entry`].
#[derive(Debug)]
pub struct Entry {
    /// v2: the cgroup directory for `CLONE_INTO_CGROUP`.
    pub dir: Option<OwnedFd>,
    /// v1: one `tasks` file per hierarchy, written by the init itself.
    pub tasks: Vec<OwnedFd>,
}

/// What the cgroup saw.
#[derive(Debug, Default, Clone, Copy)]
pub struct Usage {
    pub cpu_ns: u64,
    pub peak_memory: u64,
    pub oom_kills: u64,
    pub pids_limit_hits: u64,
}

static SEQ: AtomicU64 = AtomicU64::new(0);

impl RunCgroup {
    /// Creates the run's cgroup(s) with the limits set.
    pub fn create(host: &Host, memory: u64, pids: u64) -> Result<RunCgroup, Error> {
        let name = format!(
            "run-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let setup = |e: std::io::Error| match e.kind() {
            ErrorKind::PermissionDenied => Error::Unsupported(format!(
                "cgroups: no permission to create run cgroups in Gauntlet's cgroup ({e}); \
                 without root, Gauntlet needs it delegated to its user: {}",
                host.how_to_delegate()
            )),
            _ => Error::Setup {
                step: Step::CgroupCreate.name(),
                source: e,
            },
        };
        let limits = |e: std::io::Error| Error::Setup {
            step: Step::CgroupLimits.name(),
            source: e,
        };
        match host {
            Host::V2 { base } => {
                let dir = base.join(&name);
                fs::create_dir(&dir).map_err(setup)?;
                let cg = RunCgroup {
                    dirs: vec![dir.clone()],
                    v2: true,
                };
                write(&dir.join("memory.max"), &memory.to_string()).map_err(limits)?;
                if dir.join("memory.swap.max").exists() {
                    write(&dir.join("memory.swap.max"), "0").map_err(limits)?;
                }
                // On OOM kill the whole group, not one victim.
                let _ = write(&dir.join("memory.oom.group"), "1");
                write(&dir.join("pids.max"), &pids.to_string()).map_err(limits)?;
                Ok(cg)
            }
            Host::V1 {
                memory: m,
                pids: p,
                cpuacct: c,
                memsw,
                tcp,
            } => {
                let mut cg = RunCgroup {
                    dirs: Vec::with_capacity(3),
                    v2: false,
                };
                for base in [m, p, c] {
                    let d = base.join(&name);
                    fs::create_dir(&d).map_err(setup)?;
                    cg.dirs.push(d);
                }
                let md = &cg.dirs[0];
                write(&md.join("memory.limit_in_bytes"), &memory.to_string()).map_err(limits)?;
                if *memsw {
                    write(&md.join("memory.memsw.limit_in_bytes"), &memory.to_string())
                        .map_err(limits)?;
                }
                if *tcp {
                    let tcp_max = tcp_limit(memory).to_string();
                    write(&md.join("memory.kmem.tcp.limit_in_bytes"), &tcp_max).map_err(limits)?;
                }
                let _ = write(&md.join("memory.swappiness"), "0");
                write(&cg.dirs[1].join("pids.max"), &pids.to_string()).map_err(limits)?;
                Ok(cg)
            }
        }
    }

    /// Opens what the jail's init needs to enter the run's cgroup(s) at birth, with no
    /// migration by the supervisor. A supervisor-side write of a pid to
    /// `cgroup.procs` takes the global thread-group lock, whose writer waits for an
    /// RCU grace period (milliseconds, the largest share of a jail's start-up tail):
    ///
    /// - v2: the cgroup directory, for `clone3(CLONE_INTO_CGROUP)`; the child is
    ///   created inside it and never migrates.
    /// - v1: each hierarchy's `tasks` file, opened here (the kernel checks the
    ///   opener's credentials), into which the init writes `0`: a thread moving
    ///   itself skips the thread-group lock.
    pub fn entry(&self) -> Result<Entry, Error> {
        let open = |p: PathBuf, dir: bool| -> Result<OwnedFd, Error> {
            let mut o = fs::OpenOptions::new();
            if dir {
                o.read(true)
                    .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC);
            } else {
                o.write(true).custom_flags(libc::O_CLOEXEC);
            }
            o.open(&p).map(OwnedFd::from).map_err(|e| Error::Setup {
                step: Step::SendCgroup.name(),
                source: e,
            })
        };
        if self.v2 {
            Ok(Entry {
                dir: Some(open(self.dirs[0].clone(), true)?),
                tasks: Vec::new(),
            })
        } else {
            let tasks = self
                .dirs
                .iter()
                .map(|d| open(d.join("tasks"), false))
                .collect::<Result<_, _>>()?;
            Ok(Entry { dir: None, tasks })
        }
    }

    pub fn cpu_ns(&self) -> u64 {
        if self.v2 {
            read_key(&self.dirs[0].join("cpu.stat"), "usage_usec") * 1000
        } else {
            read_u64(&self.dirs[2].join("cpuacct.usage"))
        }
    }

    /// Memory charged to the run now (v1: without kernel socket buffers).
    pub fn memory_current(&self) -> u64 {
        if self.v2 {
            read_u64(&self.dirs[0].join("memory.current"))
        } else {
            read_u64(&self.dirs[0].join("memory.usage_in_bytes"))
        }
    }

    /// Every task (thread) in the run, by host thread id.
    pub fn tasks(&self) -> Vec<libc::pid_t> {
        let file = if self.v2 {
            self.dirs[0].join("cgroup.threads")
        } else {
            self.dirs[2].join("tasks")
        };
        fs::read_to_string(file)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }

    pub fn pids_limit_hits(&self) -> u64 {
        let d = if self.v2 {
            &self.dirs[0]
        } else {
            &self.dirs[1]
        };
        read_key(&d.join("pids.events"), "max")
    }

    pub fn oom_kills(&self) -> u64 {
        if self.v2 {
            read_key(&self.dirs[0].join("memory.events"), "oom_kill")
        } else {
            read_key(&self.dirs[0].join("memory.oom_control"), "oom_kill")
        }
    }

    pub fn usage(&self) -> Usage {
        // v1 keeps kernel TCP/UDP buffers in a counter of their own: its peak is
        // added (the sum of two peaks, an upper bound of the peak of the sum).
        let peak = if self.v2 {
            read_u64(&self.dirs[0].join("memory.peak"))
        } else {
            read_u64(&self.dirs[0].join("memory.max_usage_in_bytes"))
                + read_u64(&self.dirs[0].join("memory.kmem.tcp.max_usage_in_bytes"))
        };
        Usage {
            cpu_ns: self.cpu_ns(),
            peak_memory: peak,
            oom_kills: self.oom_kills(),
            pids_limit_hits: self.pids_limit_hits(),
        }
    }
}

impl Drop for RunCgroup {
    fn drop(&mut self) {
        for d in &self.dirs {
            // The PID namespace is dead before we get here; a memory cgroup may still
            // be busy for a moment while the kernel uncharges pages.
            for _ in 0..50 {
                match fs::remove_dir(d) {
                    Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                        std::thread::sleep(std::time::Duration::from_millis(1))
                    }
                    _ => break,
                }
            }
        }
    }
}
