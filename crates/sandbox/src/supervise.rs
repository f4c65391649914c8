//! The supervisor side of a run: prepare everything, clone the jail with every
//! namespace at once, map its ids, put it in its cgroup, then watch its output,
//! clocks and cgroup until it ends, and build the [`Report`].
//!
//! Safe in a multi-threaded process: all allocation happens before `clone`; the
//! child only runs `jail::init`, which is allocation-free; pipes are close-on-exec so
//! other threads' children never inherit them for long.

use std::fs;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use libc::c_int;

use crate::cgroup::{self, RunCgroup};
use crate::jail::{self, Step};
use crate::plan::{self, JAIL_GID, JAIL_UID};
use crate::{landlock, netns, netpool, sys, NetNs};
use crate::{Control, Error, Layers, Network, OutputSink, Report, Spec, Status, Stream};

const TICK: Duration = Duration::from_millis(20);
const MARKER: &[u8] = b"\n[gauntlet: output truncated]\n";

fn io_err(step: &'static str) -> impl FnOnce(std::io::Error) -> Error {
    move |source| Error::Setup { step, source }
}

fn pipe() -> Result<(OwnedFd, OwnedFd), Error> {
    let mut fds = [0 as c_int; 2];
    // SAFETY: pipe2 fills the two-element array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(io_err("pipes")(std::io::Error::last_os_error()));
    }
    // SAFETY: both descriptors were just created and are owned by nobody else.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    Ok((r, above_stdio(w)?))
}

/// The lowest number a descriptor handed to the jail may have: the payload `dup2`s
/// them onto 0-3, which must never overwrite one it has yet to copy.
const FIRST_HANDED_FD: c_int = 10;

/// `fd`, renumbered to [`FIRST_HANDED_FD`] or above if it is below (a process that
/// closed its stdio gets low numbers from `pipe`).
fn above_stdio(fd: OwnedFd) -> Result<OwnedFd, Error> {
    if fd.as_raw_fd() >= FIRST_HANDED_FD {
        return Ok(fd);
    }
    // SAFETY: F_DUPFD_CLOEXEC on a descriptor we own; the new one is owned below.
    let new = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, FIRST_HANDED_FD) };
    if new < 0 {
        return Err(io_err("pipes")(std::io::Error::last_os_error()));
    }
    // SAFETY: a fresh descriptor owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

/// A connected pair of stream sockets (close-on-exec): the supervisor's end and the
/// jail's, for the start-up handshake that carries the cgroup descriptors.
fn socketpair() -> Result<(OwnedFd, OwnedFd), Error> {
    let mut fds = [0 as c_int; 2];
    // SAFETY: socketpair fills the two-element array.
    if unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    } < 0
    {
        return Err(io_err("sync-socket")(std::io::Error::last_os_error()));
    }
    // SAFETY: both descriptors were just created and are owned by nobody else.
    let (ours, theirs) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    Ok((ours, above_stdio(theirs)?))
}

fn write_file(path: &str, v: &str) -> std::io::Result<()> {
    fs::OpenOptions::new()
        .write(true)
        .open(path)?
        .write_all(v.as_bytes())
}

/// Runs `spec` to completion. Safe to call from a multi-threaded process.
pub fn run(spec: &Spec, sink: &mut dyn OutputSink) -> Result<Report, Error> {
    run_inner(spec, sink, None)
}

/// [`run`], with a [`Control`] through which other threads learn the jail's PID,
/// stop it, and see it finish (long-lived jails such as an Anvil chain).
pub fn run_controlled(
    spec: &Spec,
    sink: &mut dyn OutputSink,
    control: &Control,
) -> Result<Report, Error> {
    let r = run_inner(spec, sink, Some(control));
    control.ended();
    r
}

fn run_inner(
    spec: &Spec,
    sink: &mut dyn OutputSink,
    control: Option<&Control>,
) -> Result<Report, Error> {
    let landlock_abi = landlock::abi().unwrap_or(0);
    let mut plan = plan::build(spec, landlock_abi)?;
    let cg_host = cgroup::host()?;
    // On v2 the jail is born in its cgroup (CLONE_INTO_CGROUP), which must exist
    // first; on v1 the cgroups are made after the clone, while the jail builds its
    // root, and handed to it (see jail.rs step 15).
    let early_cg = if cg_host.is_v2() {
        Some(RunCgroup::create(
            cg_host,
            spec.limits.memory,
            spec.limits.pids,
        )?)
    } else {
        None
    };
    let cg_dir = early_cg.as_ref().map(RunCgroup::entry).transpose()?;
    let cg_dir = cg_dir.and_then(|e| e.dir);

    let (sync_r, sync_w) = socketpair()?;
    let (msg_r, msg_w) = pipe()?;
    let (out_r, out_w) = pipe()?;
    let (err_r, err_w) = pipe()?;
    let (res_r, res_w) = match spec.results {
        Some(_) => {
            let (r, w) = pipe()?;
            (Some(r), Some(w))
        }
        None => (None, None),
    };
    let fds = jail::Fds {
        sync_r: sync_r.as_raw_fd(),
        msg_w: msg_w.as_raw_fd(),
        out_w: out_w.as_raw_fd(),
        err_w: err_w.as_raw_fd(),
        res_w: res_w.as_ref().map_or(-1, |w| w.as_raw_fd()),
    };
    // The namespace the jail joins: the caller's (Join), or one lent from the pool
    // of prepared empty ones (None; see netpool.rs). Without either, clone makes one.
    let joined = match &spec.network {
        Network::None => None,
        Network::Join(ns) => Some(ns.as_fd()),
    };
    // Not for controlled jails: they lend their network to other jails (an Anvil
    // chain to the jobs using it), which hold no lease, so a slot freed when such a
    // jail ends could be lent again while one of them was still inside.
    let lease = match (&spec.network, control) {
        (Network::None, None) => netpool::lease(),
        _ => None,
    };
    let net = joined.or(lease.as_ref().map(|l| l.ns.as_fd()));
    if lease.is_some() {
        plan.join_net = true;
    }
    // SAFETY: getters without side effects.
    let (euid, egid) = unsafe { (libc::geteuid(), libc::getegid()) };
    let rootless = euid != 0;
    let (host_uid, host_gid) = crate::jail_host_ids();
    // The payload may reopen its stdout/stderr through /proc/self/fd (`> /dev/stdout`):
    // the pipes must belong to the jail user, not to the supervisor.
    for fd in [Some(&out_w), Some(&err_w), res_w.as_ref()]
        .into_iter()
        .flatten()
    {
        // SAFETY: fchown on a pipe we own; no path is involved.
        if unsafe { libc::fchown(fd.as_raw_fd(), host_uid, host_gid) } < 0 {
            return Err(io_err("pipes")(std::io::Error::last_os_error()));
        }
    }
    let uid_map = format!("{JAIL_UID} {host_uid} 1\n");
    let gid_map = format!("{JAIL_GID} {host_gid} 1\n");
    let _ = egid;

    let mut flags = (libc::CLONE_NEWUSER
        | libc::CLONE_NEWNS
        | libc::CLONE_NEWPID
        | libc::CLONE_NEWIPC
        | libc::CLONE_NEWUTS
        | libc::CLONE_PIDFD) as u64;
    if cg_dir.is_some() {
        flags |= sys::CLONE_INTO_CGROUP;
    }
    if net.is_none() {
        flags |= libc::CLONE_NEWNET as u64;
    }

    let start = Instant::now();
    let mut pidfd: c_int = -1;
    let args = sys::CloneArgs {
        flags,
        pidfd: &mut pidfd as *mut c_int as u64,
        exit_signal: libc::SIGCHLD as u64,
        cgroup: cg_dir.as_ref().map_or(0, |d| d.as_raw_fd() as u64),
        ..sys::CloneArgs::default()
    };
    let clone = || {
        // SAFETY: clone3 without a new stack behaves like fork. The child runs only
        // `jail::init`, which is async-signal-safe and never returns.
        let pid = unsafe { sys::clone3(&args) };
        if pid == 0 {
            jail::init(&plan, fds);
        }
        (pid, std::io::Error::last_os_error())
    };
    // Joining a network namespace owned by another user namespace needs privilege in
    // that namespace: this thread joins it just for the clone, then goes back.
    let (pid, clone_err) = match net {
        None => clone(),
        Some(ns) => netns::in_netns(ns, clone).map_err(|e| {
            Error::Unsupported(format!(
                "network join: setns failed ({e}); joining a network namespace needs \
                 CAP_SYS_ADMIN over it"
            ))
        })?,
    };
    if pid < 0 {
        return Err(Error::Unsupported(format!(
            "namespaces: clone3(CLONE_NEWUSER|NEWNS|NEWPID|NEWIPC|NEWUTS|NEWNET{}) failed: {clone_err}",
            if cg_dir.is_some() { "|INTO_CGROUP" } else { "" }
        )));
    }
    let pid = pid as libc::pid_t;
    // SAFETY: CLONE_PIDFD stored a fresh descriptor we now own.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd) };
    drop((sync_r, msg_w, out_w, err_w, res_w, cg_dir));

    let mut jail = Child {
        pid,
        pidfd,
        reaped: false,
    };
    // The child waits on the sync socket while we map its ids; then it builds its
    // root while we make its cgroup (v1) and send it over.
    let setup = (|| -> Result<RunCgroup, Error> {
        let proc = format!("/proc/{pid}");
        if rootless {
            write_file(&format!("{proc}/setgroups"), "deny").map_err(io_err("uid-map"))?;
        }
        write_file(&format!("{proc}/uid_map"), &uid_map).map_err(io_err("uid-map"))?;
        write_file(&format!("{proc}/gid_map"), &gid_map).map_err(io_err("gid-map"))?;
        let send = |what: &'static str, byte: u8, fds: &[c_int]| {
            sys::send_fds(sync_w.as_raw_fd(), byte, fds)
                .map_err(|e| io_err(what)(std::io::Error::from_raw_os_error(e)))
        };
        send("start-jail", b'g', &[])?;
        if let Some(cg) = early_cg {
            // v2: born inside; nothing to hand over.
            send("cgroup-attach", b'c', &[])?;
            return Ok(cg);
        }
        let cg = RunCgroup::create(cg_host, spec.limits.memory, spec.limits.pids)?;
        let entry = cg.entry()?;
        let tasks: Vec<c_int> = entry.tasks.iter().map(|f| f.as_raw_fd()).collect();
        send("cgroup-attach", b'c', &tasks)?;
        Ok(cg)
    })();
    drop(sync_w);
    let cg = match setup {
        Ok(cg) => cg,
        Err(e) => {
            jail.kill_and_reap();
            return Err(e);
        }
    };

    if let Some(c) = control {
        // Opened while init is our unreaped child: the PID cannot name anyone else.
        let started = NetNs::open(std::path::Path::new(&format!("/proc/{pid}/ns/net")))
            .and_then(|ns| Ok((ns, jail.pidfd.try_clone()?)));
        match started {
            Ok((ns, pidfd)) => c.started(pid as u32, ns, pidfd),
            // Init is already gone (its own failure is in the messages), or this
            // process is out of descriptors: the run ends without ever being lent.
            Err(_) => jail.kill(),
        }
    }
    let mut sup = Supervision::new(spec, sink, start);
    sup.watch(
        &jail,
        &cg,
        [Some(out_r), Some(err_r), Some(msg_r), res_r],
        control,
    );
    jail.kill_and_reap();
    let wall = start.elapsed();
    let usage = cg.usage();
    drop(cg);
    sup.finish(spec, usage, wall, landlock_abi, rootless)
}

struct Child {
    pid: libc::pid_t,
    pidfd: OwnedFd,
    reaped: bool,
}

impl Child {
    fn kill(&self) {
        sys::pidfd_kill(self.pidfd.as_raw_fd());
    }

    /// Kills the jail's init — and with it its whole PID namespace — and reaps it.
    /// When this returns, no process of the run is alive.
    fn kill_and_reap(&mut self) {
        if self.reaped {
            return;
        }
        self.kill();
        loop {
            // SAFETY: waiting for our own child by pid.
            let r = unsafe { libc::waitpid(self.pid, std::ptr::null_mut(), libc::__WALL) };
            if r == self.pid || (r < 0 && sys::errno() != libc::EINTR) {
                break;
            }
        }
        self.reaped = true;
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        self.kill_and_reap();
    }
}

struct Supervision<'a> {
    sink: &'a mut dyn OutputSink,
    limits: crate::Limits,
    start: Instant,
    last_output: Instant,
    passed: u64,
    stdout_bytes: u64,
    stderr_bytes: u64,
    truncated: bool,
    stopped: Option<Status>,
    msgs: Vec<u8>,
    /// The results channel's bytes, up to its cap; `results_bytes` counts them all.
    results: Vec<u8>,
    results_bytes: u64,
    results_cap: u64,
}

impl<'a> Supervision<'a> {
    fn new(spec: &Spec, sink: &'a mut dyn OutputSink, start: Instant) -> Self {
        Supervision {
            sink,
            limits: spec.limits.clone(),
            start,
            last_output: start,
            passed: 0,
            stdout_bytes: 0,
            stderr_bytes: 0,
            truncated: false,
            stopped: None,
            msgs: Vec::new(),
            results: Vec::new(),
            results_bytes: 0,
            results_cap: spec.results.unwrap_or(0),
        }
    }

    fn stop(&mut self, jail: &Child, why: Status) {
        if self.stopped.is_none() {
            self.stopped = Some(why);
        }
        jail.kill();
    }

    /// Forwards output under the combined cap.
    fn output(&mut self, jail: &Child, stream: Stream, bytes: &[u8]) {
        self.last_output = Instant::now();
        if self.truncated {
            return;
        }
        let room = self.limits.output_limit.saturating_sub(self.passed);
        let take = (bytes.len() as u64).min(room) as usize;
        if take > 0 {
            self.sink.output(stream, &bytes[..take]);
            self.passed += take as u64;
            match stream {
                Stream::Stdout => self.stdout_bytes += take as u64,
                Stream::Stderr => self.stderr_bytes += take as u64,
            }
        }
        if take < bytes.len() {
            self.sink.output(stream, MARKER);
            self.truncated = true;
            self.stop(jail, Status::OutputLimit);
        }
    }

    /// Index of each stream in [`Supervision::watch`]'s array.
    const STDOUT: usize = 0;
    const STDERR: usize = 1;
    const MESSAGES: usize = 2;
    const RESULTS: usize = 3;

    fn watch(
        &mut self,
        jail: &Child,
        cg: &RunCgroup,
        streams: [Option<OwnedFd>; 4],
        control: Option<&Control>,
    ) {
        let wall_deadline = self.start + self.limits.wall_time;
        let cpu_limit_ns = self.limits.cpu_time.as_nanos() as u64;
        let fds = streams
            .each_ref()
            .map(|s| s.as_ref().map_or(-1, |f| f.as_raw_fd()));
        let mut open = fds.map(|fd| fd >= 0);
        let mut buf = vec![0u8; 64 * 1024];
        let mut next_tick = Instant::now() + TICK;
        let mut exited = false;
        while !exited {
            let now = Instant::now();
            let mut deadline = wall_deadline.min(next_tick);
            if let Some(idle) = self.limits.idle_timeout {
                deadline = deadline.min(self.last_output + idle);
            }
            let timeout = deadline.saturating_duration_since(now).as_millis() as c_int + 1;
            let mut pfds = [libc::pollfd {
                fd: -1,
                events: libc::POLLIN,
                revents: 0,
            }; 6];
            for i in 0..4 {
                pfds[i].fd = if open[i] { fds[i] } else { -1 };
            }
            pfds[4].fd = jail.pidfd.as_raw_fd();
            pfds[5].fd = control.map_or(-1, Control::kill_fd);
            // SAFETY: poll over a local array of six pollfds.
            let n = unsafe { libc::poll(pfds.as_mut_ptr(), 6, timeout) };
            if n < 0 && sys::errno() != libc::EINTR {
                self.stop(jail, Status::SetupError);
                break;
            }
            for i in 0..4 {
                if open[i] && pfds[i].revents != 0 {
                    match read_some(fds[i], &mut buf) {
                        0 => open[i] = false,
                        k => self.consume(jail, i, &buf[..k]),
                    }
                }
            }
            if pfds[4].revents != 0 {
                exited = true;
            }
            if pfds[5].revents != 0 {
                self.stop(jail, Status::Signaled);
                break;
            }
            let now = Instant::now();
            if now >= wall_deadline {
                self.stop(jail, Status::WallTimeout);
                break;
            }
            if let Some(idle) = self.limits.idle_timeout {
                if now >= self.last_output + idle {
                    self.stop(jail, Status::IdleTimeout);
                    break;
                }
            }
            if now >= next_tick {
                next_tick = now + TICK;
                if cg.oom_kills() > 0 {
                    self.stop(jail, Status::MemoryLimit);
                    break;
                }
                if cg.pids_limit_hits() > 0 {
                    self.stop(jail, Status::PidsLimit);
                    break;
                }
                if cg.cpu_ns() >= cpu_limit_ns {
                    self.stop(jail, Status::CpuTimeout);
                    break;
                }
            }
            if self.stopped.is_some() {
                break;
            }
        }
        // The jail is dead or dying: drain what is left (every writer is gone once
        // init has been reaped, so EOF comes; the deadline guards against a stray
        // copy of a write end in some other thread's fork).
        drop_until_dead(jail);
        let drain_deadline = Instant::now() + Duration::from_millis(500);
        while open.iter().any(|o| *o) && Instant::now() < drain_deadline {
            let mut pfds = fds.map(|fd| libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            });
            for (p, o) in pfds.iter_mut().zip(open) {
                if !o {
                    p.fd = -1;
                }
            }
            // SAFETY: poll over a local array of four pollfds.
            let n = unsafe { libc::poll(pfds.as_mut_ptr(), 4, 100) };
            if n <= 0 {
                continue;
            }
            for i in 0..4 {
                if open[i] && pfds[i].revents != 0 {
                    match read_some(fds[i], &mut buf) {
                        0 => open[i] = false,
                        k => self.consume(jail, i, &buf[..k]),
                    }
                }
            }
        }
        drop(streams);
    }

    fn consume(&mut self, jail: &Child, i: usize, bytes: &[u8]) {
        match i {
            Self::STDOUT => self.output(jail, Stream::Stdout, bytes),
            Self::STDERR => self.output(jail, Stream::Stderr, bytes),
            Self::MESSAGES => self.msgs.extend_from_slice(bytes),
            _ => {
                debug_assert_eq!(i, Self::RESULTS);
                self.results_bytes += bytes.len() as u64;
                if self.results_bytes <= self.results_cap {
                    self.results.extend_from_slice(bytes);
                }
            }
        }
    }

    fn finish(
        self,
        spec: &Spec,
        usage: cgroup::Usage,
        wall: Duration,
        landlock_abi: u32,
        rootless: bool,
    ) -> Result<Report, Error> {
        let parsed = parse_messages(&self.msgs, spec.collect.len());
        let mut error = None;
        if let Some((step, errno)) = parsed.failure {
            let source = std::io::Error::from_raw_os_error(errno);
            if step == Step::Exec {
                error = Some(format!("exec {:?}: {source}", spec.argv[0]));
            } else {
                return Err(Error::Setup {
                    step: step.name(),
                    source,
                });
            }
        }
        let (mut exit_code, mut signal) = (None, None);
        if let Some(ws) = parsed.wait_status {
            if libc::WIFEXITED(ws) {
                exit_code = Some(libc::WEXITSTATUS(ws));
            } else if libc::WIFSIGNALED(ws) {
                signal = Some(libc::WTERMSIG(ws));
            }
        }
        let cpu_limit_ns = spec.limits.cpu_time.as_nanos() as u64;
        let status = if error.is_some() {
            exit_code = None;
            Status::SetupError
        } else if let Some(s) = self.stopped {
            if s == Status::Signaled {
                signal = Some(libc::SIGKILL);
                exit_code = None;
            }
            s
        } else if usage.oom_kills > 0 {
            Status::MemoryLimit
        } else if usage.pids_limit_hits > 0 {
            Status::PidsLimit
        } else if signal == Some(libc::SIGXCPU) || usage.cpu_ns >= cpu_limit_ns {
            Status::CpuTimeout
        } else if signal.is_some() {
            Status::Signaled
        } else if exit_code.is_some() {
            Status::Exited
        } else {
            // Init vanished without a word: only an external kill does that.
            Status::Signaled
        };
        Ok(Report {
            status,
            exit_code,
            signal,
            wall_ms: wall.as_millis() as u64,
            cpu_ms: usage.cpu_ns / 1_000_000,
            peak_memory_bytes: usage.peak_memory,
            stdout_bytes: self.stdout_bytes,
            stderr_bytes: self.stderr_bytes,
            truncated: self.truncated,
            layers: Layers {
                namespaces: true,
                pivot_root: true,
                seccomp: true,
                landlock: landlock_abi > 0,
                cgroup: cgroup::host().map(|h| h.name()).unwrap_or("").into(),
                no_new_privs: true,
                capabilities_dropped: true,
                landlock_abi,
                network: match spec.network {
                    Network::None => "none".into(),
                    Network::Join(_) => "joined".into(),
                },
                rootless,
            },
            error,
            collected: parsed.collected,
            results: spec
                .results
                .filter(|cap| self.results_bytes <= *cap)
                .map(|_| self.results),
            results_bytes: spec.results.map(|_| self.results_bytes),
        })
    }
}

fn drop_until_dead(jail: &Child) {
    // Wait for init to be a zombie (its whole namespace gone) without reaping it.
    let mut p = libc::pollfd {
        fd: jail.pidfd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: poll on one pollfd.
    while unsafe { libc::poll(&mut p, 1, -1) } < 0 && sys::errno() == libc::EINTR {}
}

fn read_some(fd: c_int, buf: &mut [u8]) -> usize {
    loop {
        // SAFETY: reading into a valid mutable buffer.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 && sys::errno() == libc::EINTR {
            continue;
        }
        return n.max(0) as usize;
    }
}

struct Parsed {
    failure: Option<(Step, i32)>,
    wait_status: Option<i32>,
    collected: Vec<Option<Vec<u8>>>,
}

fn parse_messages(mut m: &[u8], n_collect: usize) -> Parsed {
    let mut p = Parsed {
        failure: None,
        wait_status: None,
        collected: vec![None; n_collect],
    };
    let mut partial: Vec<Vec<u8>> = vec![Vec::new(); n_collect];
    let u32_at = |b: &[u8], i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    while let Some(&tag) = m.first() {
        match tag {
            jail::MSG_FAIL if m.len() >= 9 => {
                let step = Step::from_u32(u32_at(m, 1)).unwrap_or(Step::Exec);
                if p.failure.is_none() {
                    p.failure = Some((step, u32_at(m, 5) as i32));
                }
                m = &m[9..];
            }
            jail::MSG_EXIT if m.len() >= 5 => {
                p.wait_status = Some(u32_at(m, 1) as i32);
                m = &m[5..];
            }
            jail::MSG_CHUNK if m.len() >= 9 => {
                let i = u32_at(m, 1) as usize;
                let len = u32_at(m, 5) as usize;
                if m.len() < 9 + len {
                    break;
                }
                if let Some(v) = partial.get_mut(i) {
                    v.extend_from_slice(&m[9..9 + len]);
                }
                m = &m[9 + len..];
            }
            jail::MSG_COLLECT_END if m.len() >= 6 => {
                let i = u32_at(m, 1) as usize;
                if m[5] == 1 && i < n_collect {
                    p.collected[i] = Some(std::mem::take(&mut partial[i]));
                }
                m = &m[6..];
            }
            _ => break,
        }
    }
    p
}
