//! The jail: runs one command with every isolation layer on and reports how it ended.
//! No async runtime, no database, no HTTP; the only crate in the workspace with `unsafe`.
//!
//! How a jail is built, step by step, is in `jail.rs` (the child side) and `run`
//! below (the supervisor side); docs/sandbox.md walks through it.

mod cgroup;
mod control;
mod doctor;
mod gvisor;
mod jail;
mod landlock;
mod netns;
mod netpool;
mod plan;
mod seccomp;
mod steps;
mod supervise;
mod sys;
mod wire;

pub use control::Control;
pub use doctor::{doctor, Doctor};
pub use netns::{connect_tcp_in, NetNs};
pub use plan::DEFAULT_PATH;
pub use steps::{Side, Step};
pub use supervise::{run, run_controlled};

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

/// Resource limits of one run. `Default` gives the defaults docs/sandbox.md lists
/// ("`sandbox run` flags").
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Limits {
    pub wall_time: Duration,
    /// No byte on stdout or stderr for this long ends the run with `idle_timeout`.
    pub idle_timeout: Option<Duration>,
    pub cpu_time: Duration,
    /// Bytes of memory (no swap).
    pub memory: u64,
    pub pids: u64,
    /// Size of the per-run tmpfs behind `/tmp` and `/dev/shm`.
    pub tmp_size: u64,
    /// Bytes of stdout + stderr passed through before the run stops with `output_limit`.
    pub output_limit: u64,
}

impl Default for Limits {
    /// The defaults of `gauntlet sandbox run`.
    fn default() -> Self {
        Limits {
            wall_time: Duration::from_secs(10),
            idle_timeout: Some(Duration::from_secs(5)),
            cpu_time: Duration::from_secs(5),
            memory: 256 << 20,
            pids: 64,
            tmp_size: 64 << 20,
            output_limit: 64 << 10,
        }
    }
}

/// A host path made visible inside the jail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    pub host: PathBuf,
    pub inside: PathBuf,
}

/// A copy-on-write directory inside the jail: read-only host `lowers` (first wins)
/// under a writable upper layer that lives in a tmpfs of `size` bytes owned by the
/// jail, so writes are capped (ENOSPC past `size`) and vanish with the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overlay {
    pub lowers: Vec<PathBuf>,
    pub inside: PathBuf,
    pub size: u64,
}

/// The network the jail sees.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Network {
    /// A new network namespace with only `lo`, up.
    #[default]
    None,
    /// Join an existing network namespace, held by a descriptor: e.g. the one an
    /// Anvil chain listens in ([`Control::netns`]).
    Join(NetNs),
}

/// A file to read out of the jail after the command ends (e.g. a JUnit report in
/// the overlay workspace). Read by the jail's own init with no-follow and a size cap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collect {
    pub inside: PathBuf,
    pub max_bytes: u64,
}

/// What runs the command inside the jail (docs/sandbox.md, "gVisor").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Isolation {
    /// The command runs on the host kernel, behind every layer of the jail.
    #[default]
    Namespaces,
    /// The command runs on gVisor's user-space kernel (`runsc`), which itself runs
    /// inside the jail's namespaces, cgroup, watchdogs and output capture. Stronger:
    /// the host kernel sees only gVisor's own, filtered system calls. Ordered after
    /// [`Isolation::Namespaces`], so `max` gives the stronger of two.
    Gvisor,
}

impl Isolation {
    pub const ALL: [Isolation; 2] = [Isolation::Namespaces, Isolation::Gvisor];

    /// The name flags, settings and `exercise.yaml` use.
    pub fn name(self) -> &'static str {
        match self {
            Isolation::Namespaces => "namespaces",
            Isolation::Gvisor => "gvisor",
        }
    }
}

impl std::fmt::Display for Isolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Isolation {
    type Err = String;
    fn from_str(s: &str) -> Result<Isolation, String> {
        Isolation::ALL
            .into_iter()
            .find(|i| i.name() == s)
            .ok_or_else(|| format!("unknown isolation {s:?}: expected namespaces or gvisor"))
    }
}

/// Everything one run needs.
#[derive(Debug, Clone)]
pub struct Spec {
    pub argv: Vec<OsString>,
    pub limits: Limits,
    pub ro_binds: Vec<Bind>,
    pub rw_binds: Vec<Bind>,
    pub overlays: Vec<Overlay>,
    pub workdir: PathBuf,
    /// Exactly these variables, on top of a minimal PATH/HOME/LANG.
    pub env: Vec<(String, String)>,
    pub network: Network,
    pub collect: Vec<Collect>,
    /// The results channel: `None` = off; `Some(cap)` = the command gets the write
    /// end of a pipe as fd 3 (and `GAUNTLET_RESULTS_FD=3` in its environment), read
    /// by the supervisor like stdout and stderr. At most `cap` bytes are kept; more
    /// makes [`Report::results`] `None`. Nothing else in the jail holds that pipe: a
    /// runner that starts the learner's code without fd 3 owns the channel alone.
    pub results: Option<u64>,
    /// Start the jail before its job is known (a warm jail, docs/sandbox.md "Warm
    /// jails"): `None` for an ordinary run. Namespaces only.
    pub warm: Option<Warm>,
    /// What runs the command: the host kernel behind the jail's layers, or gVisor
    /// inside them. gVisor asked for and unusable is [`Error::Unsupported`].
    pub isolation: Isolation,
}

/// A jail started ahead of its job. The command (a trusted preamble) starts at once
/// with every layer on and gets one end of a socket as fd 4 (`GAUNTLET_JOB_FD=4`):
/// it loads what it needs, writes one byte `R` there when ready, and then reads its
/// job until EOF. The caller hands the job over with [`Control::deliver`]; only then
/// do the run's clocks start: `limits.wall_time`, the idle watchdog and
/// `limits.cpu_time` count from delivery, and the report's `wall_ms` and `cpu_ms` too.
/// Before delivery the jail is stopped when it waits longer than `max_wait`, uses
/// more than `preamble_cpu`, prints anything, or ends: a preamble that does any of
/// these is broken, and [`Report::warm`] says it never got its job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warm {
    pub max_wait: Duration,
    pub preamble_cpu: Duration,
    /// The preamble's niceness until delivery (0–19): warming up yields to running
    /// jobs. As root the supervisor also gives it to the preamble's session autogroup
    /// (what the kernel weighs sessions by), and puts every task and that autogroup
    /// back to 0 at delivery; rootless it cannot, so callers pass 0 there.
    pub nice: i32,
}

/// The descriptor a warm jail's command finds its job socket on.
pub const JOB_FD: i32 = plan::JOB_FD;

/// What a warm jail's report adds (`Report::warm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct WarmReport {
    /// False when the run ended before a job was delivered: the preamble failed
    /// (or the jail waited too long, or was stopped while waiting).
    pub delivered: bool,
    /// Whether the preamble had said it was ready when the job was delivered.
    pub ready_at_delivery: bool,
    /// From the clone to the delivery (or to the end, undelivered).
    pub waited_ms: u64,
    /// CPU the preamble used before delivery (not part of `cpu_ms`).
    pub preamble_cpu_ms: u64,
    /// The preamble wrote output before delivery (it is stopped for it).
    pub early_output: bool,
}

impl Spec {
    /// A spec for `argv` with default limits, no binds, no network, workdir `/tmp`.
    pub fn new<I, S>(argv: I) -> Spec
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        Spec {
            argv: argv.into_iter().map(Into::into).collect(),
            limits: Limits::default(),
            ro_binds: Vec::new(),
            rw_binds: Vec::new(),
            overlays: Vec::new(),
            workdir: PathBuf::from("/tmp"),
            env: Vec::new(),
            network: Network::None,
            collect: Vec::new(),
            results: None,
            warm: None,
            isolation: Isolation::Namespaces,
        }
    }
}

/// Memory and threads a gVisor run's cgroup gets on top of `Limits::memory` and
/// `Limits::pids`, for gVisor's own processes (docs/sandbox.md, "gVisor").
pub const GVISOR_MEMORY_ALLOWANCE: u64 = gvisor::MEMORY_ALLOWANCE;

/// The uid and gid inside every jail.
pub const JAIL_UID: u32 = plan::JAIL_UID;
pub const JAIL_GID: u32 = plan::JAIL_GID;
/// The host uid/gid the jail user maps to when Gauntlet runs as root. Files a
/// prepared layer should let the jail modify (through an overlay) belong to it.
pub const ROOT_MODE_HOST_ID: u32 = 990_000;

/// True when the caller is not root: the jail user is then the caller's own uid,
/// and the jail reaches bind sources by path, with the caller's rights (as root the
/// supervisor opens them and hands them over: see `Plan::open_sources`).
pub fn rootless() -> bool {
    sys::geteuid() != 0
}

/// The host (uid, gid) that the jail's uid/gid 1000 maps to: the caller's own ids
/// when rootless, [`ROOT_MODE_HOST_ID`] when running as root.
pub fn jail_host_ids() -> (u32, u32) {
    if rootless() {
        // SAFETY: a getter without side effects.
        (sys::geteuid(), unsafe { libc::getegid() })
    } else {
        (ROOT_MODE_HOST_ID, ROOT_MODE_HOST_ID)
    }
}

/// Creates a fresh directory (it must not exist) owned by the jail user, for use as
/// an rw bind. The host never chowns an existing path: a jail could have swapped it
/// for a symlink (Judge0 CVE-2024-28189); this creates, opens without following,
/// and then changes the descriptor only.
pub fn create_jail_dir(path: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    std::fs::DirBuilder::new().mode(0o700).create(path)?;
    let dir = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW)
        .open(path)?;
    let (uid, gid) = jail_host_ids();
    std::os::unix::fs::fchown(&dir, Some(uid), Some(gid))?;
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o755))
}

/// How the run ended (docs/sandbox.md, "The report").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Exited,
    Signaled,
    WallTimeout,
    CpuTimeout,
    IdleTimeout,
    MemoryLimit,
    PidsLimit,
    OutputLimit,
    SetupError,
}

/// Which isolation layers this run had.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Layers {
    pub namespaces: bool,
    pub pivot_root: bool,
    pub seccomp: bool,
    pub landlock: bool,
    pub cgroup: String,
    pub no_new_privs: bool,
    pub capabilities_dropped: bool,
    /// Landlock ABI version used (0 when the kernel has none).
    pub landlock_abi: u32,
    /// What that ABI could not restrict that the newest one the sandbox knows would
    /// (empty on ABI 6 and later): e.g. `truncate` below ABI 3. The other layers still
    /// hold (the PID namespace keeps signals in; the mount namespace, devices).
    pub landlock_unrestricted: Vec<&'static str>,
    /// `none` (own namespace, loopback only) or `joined`.
    pub network: String,
    /// True when the jail user maps to the caller's own uid (no root involved).
    pub rootless: bool,
    /// How kernel socket buffers are bounded: `memory_limit` (charged to the run's
    /// memory, cgroup v2), `capped` (cgroup v1: a separate limit of a quarter of
    /// the memory limit, its peak added to `peak_memory_bytes`) or `uncapped`.
    pub socket_memory: String,
    /// The host uid that owns the jail's user namespace (990000 as root, the
    /// caller's uid when rootless): kernel per-user counters charge it, not root.
    pub userns_owner: u32,
    /// `namespaces` or `gvisor` ([`Spec::isolation`]).
    pub isolation: Isolation,
    /// Under gVisor: the platform its sentry ran the command on (`ptrace` or `kvm`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gvisor_platform: Option<&'static str>,
}

/// The report of one run; its JSON is documented in docs/sandbox.md, "The report".
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub status: Status,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub wall_ms: u64,
    pub cpu_ms: u64,
    pub peak_memory_bytes: u64,
    pub stdout_bytes: u64,
    pub stderr_bytes: u64,
    pub truncated: bool,
    pub layers: Layers,
    /// Why the command could not start (`setup_error`), e.g. `exec: No such file or directory`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Contents of `Spec::collect`, in order; `None` when absent, not a regular
    /// file, or over its cap.
    #[serde(skip)]
    pub collected: Vec<Option<Vec<u8>>>,
    /// What arrived on the results channel (`Spec::results`): `None` when the
    /// channel was off, or when more than its cap arrived (over-cap results are
    /// never trusted).
    #[serde(skip)]
    pub results: Option<Vec<u8>>,
    /// Bytes written to the results channel, counted past the cap too; present only
    /// when the channel was on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub results_bytes: Option<u64>,
    /// Present for a warm jail ([`Spec::warm`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warm: Option<WarmReport>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// Receives the command's output as it happens, already capped at
/// `Limits::output_limit` (the last call carries the truncation marker).
pub trait OutputSink {
    fn output(&mut self, stream: Stream, bytes: &[u8]);
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The host cannot provide a layer: the caller must not run the command (exit 3).
    #[error("isolation unavailable: {0}")]
    Unsupported(String),
    /// The spec itself is wrong (exit 2).
    #[error("invalid sandbox spec: {0}")]
    InvalidSpec(String),
    /// A set-up step failed; names the step.
    #[error("sandbox setup failed at {step}: {source}")]
    Setup {
        step: &'static str,
        source: std::io::Error,
    },
}
