//! The jail: runs one command with every isolation layer on and reports how it ended.
//! No async runtime, no database, no HTTP; the only crate in the workspace with `unsafe`.
//!
//! INTERFACE NOTE (skeleton): the types below are the contract that the grader and
//! the CLI code against. The implementation fills them in; changing a public shape
//! means changing its callers in `crates/grader` and `crates/cli` in the same commit.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

/// Resource limits of one run. `Default` gives the safe defaults of CONTRACTS §2.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// Join an existing network namespace (a path to an nsfs file such as
    /// `/proc/PID/ns/net`), e.g. the one an Anvil chain listens in.
    Join(PathBuf),
}

/// A file to read out of the jail after the command ends (e.g. a JUnit report in
/// the overlay workspace). Read by the jail's own init with no-follow and a size cap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collect {
    pub inside: PathBuf,
    pub max_bytes: u64,
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
}

/// How the run ended (CONTRACTS §2).
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
}

/// The report of one run (CONTRACTS §2, plus `layers` and `collected`).
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
    /// Contents of `Spec::collect`, in order; `None` when absent, not a regular
    /// file, or over its cap.
    #[serde(skip)]
    pub collected: Vec<Option<Vec<u8>>>,
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

/// Runs `spec` to completion. Safe to call from a multi-threaded process.
pub fn run(_spec: &Spec, _sink: &mut dyn OutputSink) -> Result<Report, Error> {
    Err(Error::Unsupported("not implemented yet".into()))
}
