//! `gauntlet sandbox run` and `gauntlet sandbox doctor`: flag parsing (docs/sandbox.md
//! lists every flag)
//! and wiring to `gauntlet_sandbox::run`; exit 2 on bad usage, 3 when isolation is
//! unavailable, 1 when the command ran but did not exit 0.

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};
use gauntlet_sandbox as sandbox;

use crate::Exit;

#[derive(Subcommand)]
pub enum SandboxCommand {
    /// Run one command in the sandbox and print a JSON report.
    Run(Box<RunArgs>),
    /// Check what this host supports and run a probe jail; exit 3 when a layer is
    /// missing.
    Doctor(DoctorArgs),
}

#[derive(Args)]
pub struct DoctorArgs {
    /// Print the full report as JSON (for scripts) instead of a summary.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct RunArgs {
    /// Wall-clock limit (a duration: 500ms, 10s, 1.5m, ...).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    wall_time: Duration,
    /// Stop when stdout and stderr are silent this long ("off" disables).
    #[arg(long, default_value = "5s")]
    idle_timeout: String,
    /// CPU-time limit (a duration).
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    cpu_time: Duration,
    /// Memory limit, no swap (a size: 256MiB, 1G, ...).
    #[arg(long, default_value = "256MiB", value_parser = parse_size)]
    memory: u64,
    /// Maximum number of processes and threads.
    #[arg(long, default_value = "64")]
    pids: String,
    /// Size of /tmp and of /dev/shm.
    #[arg(long, default_value = "64MiB", value_parser = parse_size)]
    tmp_size: u64,
    /// Combined cap on stdout + stderr.
    #[arg(long, default_value = "64KiB", value_parser = parse_size)]
    output_limit: u64,
    /// HOST:INSIDE, read-only (repeatable).
    #[arg(long, value_name = "HOST:INSIDE")]
    ro_bind: Vec<String>,
    /// HOST:INSIDE, writable (repeatable).
    #[arg(long, value_name = "HOST:INSIDE")]
    rw_bind: Vec<String>,
    /// LOWER[:LOWER…]:INSIDE[:SIZE], a copy-on-write dir whose writes stay in the
    /// jail (capped at SIZE, default 64MiB) (repeatable).
    #[arg(long, value_name = "LOWERS:INSIDE[:SIZE]")]
    overlay: Vec<String>,
    /// Working directory inside the jail.
    #[arg(long, default_value = "/tmp")]
    workdir: String,
    /// KEY=VALUE (repeatable); the only variables besides PATH, HOME and LANG.
    #[arg(long, value_name = "KEY=VALUE")]
    env: Vec<String>,
    /// `none` (own namespace, loopback only) or a network namespace file to join.
    #[arg(long, default_value = "none")]
    network: String,
    /// Write the JSON report here instead of stderr's last line.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Open the results channel (fd 3, `GAUNTLET_RESULTS_FD=3`) and save what
    /// arrives on it here, for runner authors; nothing is written when more than
    /// --results-limit arrives.
    #[arg(long, value_name = "FILE")]
    results: Option<PathBuf>,
    /// Cap on the results channel (with --results).
    #[arg(long, default_value = "1MiB", requires = "results", value_parser = parse_size)]
    results_limit: u64,
    /// What runs the command: `namespaces` (the jail's layers on the host kernel) or
    /// `gvisor` (gVisor's kernel inside the jail); exit 3 when gVisor is missing or broken.
    #[arg(long, default_value = "namespaces",
          value_parser = gauntlet_server::settings::isolation_parser())]
    isolation: sandbox::Isolation,
    /// The command and its arguments.
    #[arg(last = true, required = true)]
    command: Vec<OsString>,
}

pub fn run(cmd: SandboxCommand) -> Result<ExitCode, Exit> {
    match cmd {
        SandboxCommand::Run(args) => run_one(*args),
        SandboxCommand::Doctor(args) => {
            let d = sandbox::doctor();
            if args.json {
                let json = serde_json::to_string_pretty(&d).map_err(Exit::failed)?;
                crate::common::print_stdout(&json)?;
            } else {
                crate::common::print_stdout(summary(&d).trim_end())?;
            }
            if d.ok {
                Ok(ExitCode::SUCCESS)
            } else {
                Err(Exit::unsupported(format!(
                    "this host cannot run the sandbox: {}",
                    d.probe
                )))
            }
        }
    }
}

/// `sandbox doctor`'s summary for people: one line per layer, then the verdict.
fn summary(d: &sandbox::Doctor) -> String {
    let yes_no = |b: bool| if b { "yes" } else { "NO" };
    let mut rows: Vec<(&str, String)> = vec![
        ("kernel", d.kernel.clone()),
        (
            "mode",
            if d.rootless {
                "rootless: the jail user is your own uid".into()
            } else {
                format!(
                    "root: the jail user is host uid {}, which owns the jails' user namespaces",
                    sandbox::ROOT_MODE_HOST_ID
                )
            },
        ),
        (
            "user namespaces",
            match d.max_user_namespaces {
                Some(0) => "OFF (user.max_user_namespaces = 0)".into(),
                Some(n) => format!("on (at most {n})"),
                None => "unknown".into(),
            },
        ),
        ("cgroups", d.cgroup.clone()),
        (
            "landlock",
            d.landlock_abi.map_or(
                "not in this kernel: writes are limited by the mounts only".into(),
                |v| format!("ABI {v}"),
            ),
        ),
        ("network pool", d.network_pool.clone()),
        (
            "seccomp",
            format!(
                "allow-list: {} syscalls allowed, {} decided by their arguments, {} refused, \
                 unknown ones {}",
                d.seccomp_allowed.iter().map(|g| g.1.len()).sum::<usize>(),
                d.seccomp_conditional.len(),
                d.seccomp_denied_syscalls.len(),
                d.seccomp_unknown
            ),
        ),
    ];
    if let Some(l) = d
        .layers
        .as_ref()
        .filter(|l| !l.landlock_unrestricted.is_empty())
    {
        rows.push((
            "landlock misses",
            format!(
                "this ABI cannot restrict: {} (a newer kernel's can)",
                l.landlock_unrestricted.join(", ")
            ),
        ));
    }
    if let Some(l) = &d.layers {
        rows.push((
            "probe layers",
            format!(
                "namespaces {}, pivot_root {}, seccomp {}, landlock {}, no_new_privs {}, \
                 capabilities dropped {}, network {}, socket memory {}",
                yes_no(l.namespaces),
                yes_no(l.pivot_root),
                yes_no(l.seccomp),
                yes_no(l.landlock),
                yes_no(l.no_new_privs),
                yes_no(l.capabilities_dropped),
                l.network,
                l.socket_memory
            ),
        ));
    }
    let g = &d.gvisor;
    rows.push((
        "gvisor",
        match g.platform {
            Some(platform) => format!(
                "{}; platform {platform}{}; probe under gVisor: {} (--isolation gvisor)",
                g.runsc,
                match g.platform_reason.as_str() {
                    "" => String::new(),
                    why => format!(" ({why})"),
                },
                g.probe
            ),
            None => format!("not usable: {}", g.runsc),
        },
    ));
    let mut out = String::new();
    for (k, v) in rows {
        out.push_str(&format!("{k:<16} {v}\n"));
    }
    out.push_str(&if d.ok {
        "\nok: a probe jail ran /bin/true with every layer on (details: --json)\n".to_string()
    } else {
        format!("\nNOT USABLE: the probe jail failed: {}\n", d.probe)
    });
    out
}

/// A positive duration, in the grammar of `gauntlet_exercise::units` (docs/cli.md).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    match gauntlet_exercise::parse_duration(s) {
        Ok(d) if d.is_zero() => Err(format!("duration {s:?} must be positive")),
        Ok(d) => Ok(d),
        Err(e) => Err(e.to_string()),
    }
}

/// A positive size, in the grammar of `gauntlet_exercise::units` (docs/cli.md).
pub fn parse_size(s: &str) -> Result<u64, String> {
    match gauntlet_exercise::parse_size(s) {
        Ok(0) => Err(format!("size {s:?} must be positive")),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

fn absolute(inside: &str, what: &str) -> Result<PathBuf, String> {
    let p = PathBuf::from(inside);
    if !p.is_absolute() {
        return Err(format!("{what}: inside path {inside:?} must be absolute"));
    }
    if p.components().any(|c| c == std::path::Component::ParentDir) {
        return Err(format!("{what}: inside path {inside:?} contains '..'"));
    }
    Ok(p)
}

fn existing(host: &str, what: &str) -> Result<PathBuf, String> {
    let p = PathBuf::from(host);
    match std::fs::metadata(&p) {
        _ if host.is_empty() => return Err(format!("{what}: an empty host path")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(format!("{what}: host path {host:?} does not exist"))
        }
        // Without root, the jail reaches it with the caller's own rights.
        Err(e) => return Err(format!("{what}: host path {host:?} cannot be reached: {e}")),
        Ok(_) => {}
    }
    // Relative to the current directory, without resolving symlinks (the sandbox
    // refuses symlinked host paths itself).
    std::path::absolute(&p).map_err(|e| format!("{what}: {host:?}: {e}"))
}

/// Parses `HOST:INSIDE`.
pub fn parse_bind(s: &str, what: &str) -> Result<sandbox::Bind, String> {
    let (host, inside) = s
        .rsplit_once(':')
        .ok_or_else(|| format!("{what}: expected HOST:INSIDE, got {s:?}"))?;
    Ok(sandbox::Bind {
        host: existing(host, what)?,
        inside: absolute(inside, what)?,
    })
}

/// Parses `LOWER[:LOWER…]:INSIDE[:SIZE]`.
pub fn parse_overlay(s: &str) -> Result<sandbox::Overlay, String> {
    let mut parts: Vec<&str> = s.split(':').collect();
    let mut size = 64 << 20;
    if parts.len() >= 3 && !parts[parts.len() - 1].starts_with('/') {
        size = parse_size(parts.pop().unwrap_or_default())?;
    }
    if parts.len() < 2 {
        return Err(format!(
            "overlay: expected LOWER[:LOWER…]:INSIDE[:SIZE], got {s:?}"
        ));
    }
    let inside = absolute(parts.pop().unwrap_or_default(), "overlay")?;
    let lowers = parts
        .iter()
        .map(|l| existing(l, "overlay"))
        .collect::<Result<_, _>>()?;
    Ok(sandbox::Overlay {
        lowers,
        inside,
        size,
    })
}

fn spec(args: &RunArgs) -> Result<sandbox::Spec, String> {
    let idle_timeout = match args.idle_timeout.as_str() {
        "off" | "none" | "0" => None,
        s => Some(parse_duration(s).map_err(|e| format!("--idle-timeout: {e}"))?),
    };
    let limits = sandbox::Limits {
        wall_time: args.wall_time,
        idle_timeout,
        cpu_time: args.cpu_time,
        memory: args.memory,
        pids: args
            .pids
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("--pids: bad count {:?}", args.pids))?,
        tmp_size: args.tmp_size,
        output_limit: args.output_limit,
    };
    let env = args
        .env
        .iter()
        .map(|kv| {
            kv.split_once('=')
                .filter(|(k, _)| !k.is_empty())
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| format!("--env: expected KEY=VALUE, got {kv:?}"))
        })
        .collect::<Result<_, _>>()?;
    let network = match args.network.as_str() {
        "none" => sandbox::Network::None,
        path => sandbox::Network::Join(
            sandbox::NetNs::open(&existing(path, "--network")?)
                .map_err(|e| format!("--network: {e}"))?,
        ),
    };
    let mut spec = sandbox::Spec::new(args.command.clone());
    spec.limits = limits;
    spec.ro_binds = args
        .ro_bind
        .iter()
        .map(|b| parse_bind(b, "--ro-bind"))
        .collect::<Result<_, _>>()?;
    spec.rw_binds = args
        .rw_bind
        .iter()
        .map(|b| parse_bind(b, "--rw-bind"))
        .collect::<Result<_, _>>()?;
    spec.overlays = args
        .overlay
        .iter()
        .map(|o| parse_overlay(o))
        .collect::<Result<_, _>>()?;
    spec.workdir = absolute(&args.workdir, "--workdir")?;
    spec.env = env;
    spec.network = network;
    if args.results.is_some() {
        spec.results = Some(args.results_limit);
    }
    spec.isolation = args.isolation;
    Ok(spec)
}

/// Passes the command's output through, remembering whether each stream (and the
/// last one written) ended a line, so the report can start on a line of its own.
#[derive(Default)]
struct PassThrough {
    stdout_open_line: bool,
    stderr_open_line: bool,
    last: Option<sandbox::Stream>,
}

impl sandbox::OutputSink for PassThrough {
    fn output(&mut self, stream: sandbox::Stream, bytes: &[u8]) {
        let Some(&end) = bytes.last() else { return };
        let open = end != b'\n';
        let _ = match stream {
            sandbox::Stream::Stdout => {
                self.stdout_open_line = open;
                let mut o = std::io::stdout().lock();
                o.write_all(bytes).and_then(|()| o.flush())
            }
            sandbox::Stream::Stderr => {
                self.stderr_open_line = open;
                std::io::stderr().lock().write_all(bytes)
            }
        };
        self.last = Some(stream);
    }
}

impl PassThrough {
    /// True when what we print next on stderr would continue the command's last
    /// line: its stderr ended mid-line, or its stdout did last and both go to the
    /// same place (a terminal, `2>&1`).
    fn stderr_needs_newline(&self) -> bool {
        self.stderr_open_line
            || (self.last == Some(sandbox::Stream::Stdout)
                && self.stdout_open_line
                && same_file(1, 2))
    }
}

/// Whether descriptors `a` and `b` of this process are the same file.
fn same_file(a: i32, b: i32) -> bool {
    use std::os::unix::fs::MetadataExt;
    let id = |fd: i32| {
        std::fs::metadata(format!("/proc/self/fd/{fd}"))
            .ok()
            .map(|m| (m.dev(), m.ino()))
    };
    matches!((id(a), id(b)), (Some(x), Some(y)) if x == y)
}

fn run_one(args: RunArgs) -> Result<ExitCode, Exit> {
    let spec = spec(&args).map_err(Exit::usage)?;
    let mut output = PassThrough::default();
    let ran = sandbox::run(&spec, &mut output);
    // What we print on stderr starts on a line of its own.
    let mut open_line = output.stderr_needs_newline();
    let mut say = |line: &str| {
        let lead = if std::mem::take(&mut open_line) {
            "\n"
        } else {
            ""
        };
        eprintln!("{lead}{line}");
    };
    let report = match ran {
        Ok(r) => r,
        Err(e @ sandbox::Error::InvalidSpec(_)) => return Err(Exit::usage(e)),
        Err(e) => return Err(Exit::unsupported(e)),
    };
    if let Some(path) = &args.results {
        match &report.results {
            Some(bytes) => std::fs::write(path, bytes)
                .map_err(|e| Exit::failed(format!("--results {}: {e}", path.display())))?,
            None => say(&format!(
                "gauntlet: {} bytes arrived on the results channel, over --results-limit; \
                 {} not written",
                report.results_bytes.unwrap_or(0),
                path.display()
            )),
        }
    }
    let json = serde_json::to_string(&report).map_err(|e| Exit::failed(e.to_string()))?;
    match &args.report {
        Some(path) => std::fs::write(path, format!("{json}\n"))
            .map_err(|e| Exit::failed(format!("--report {}: {e}", path.display())))?,
        None => say(&json),
    }
    if report.status == sandbox::Status::Exited && report.exit_code == Some(0) {
        Ok(ExitCode::SUCCESS)
    } else {
        Ok(ExitCode::from(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        for (s, want) in [
            ("250ms", Some(Duration::from_millis(250))),
            ("10s", Some(Duration::from_secs(10))),
            ("2m", Some(Duration::from_secs(120))),
            ("1h", Some(Duration::from_secs(3600))),
            ("1.5s", Some(Duration::from_millis(1500))),
            ("10", None),
            ("", None),
            ("-1s", None),
            ("0s", None),
        ] {
            assert_eq!(parse_duration(s).ok(), want, "{s}");
        }
    }

    #[test]
    fn sizes() {
        for (s, want) in [
            ("64KiB", Some(64 << 10)),
            ("256MiB", Some(256 << 20)),
            ("1GiB", Some(1 << 30)),
            ("4096", Some(4096)),
            ("1G", Some(1 << 30)),
            ("1MB", Some(1 << 20)),
            ("1kib", None),
            ("x", None),
            ("0MiB", None),
            ("99999999999999GiB", None),
        ] {
            assert_eq!(parse_size(s).ok(), want, "{s}");
        }
    }

    #[test]
    fn overlays() {
        let o = parse_overlay("/usr:/etc:/work:1MiB").unwrap();
        assert_eq!(o.lowers.len(), 2);
        assert_eq!(o.inside, PathBuf::from("/work"));
        assert_eq!(o.size, 1 << 20);
        let o = parse_overlay("/usr:/work").unwrap();
        assert_eq!(o.size, 64 << 20);
        assert!(parse_overlay("/usr").is_err());
        assert!(parse_overlay("/usr:work").is_err());
        assert!(parse_overlay("/nonexistent-xyz:/work").is_err());
    }

    #[test]
    fn binds() {
        assert!(parse_bind("/usr:/x", "b").is_ok());
        assert!(parse_bind("/usr:x", "b").is_err());
        assert!(parse_bind("/usr", "b").is_err());
        assert!(parse_bind("/nope-xyz:/x", "b").is_err());
        assert!(parse_bind("/usr:/a/../b", "b").is_err());
    }
}
