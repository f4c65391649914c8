//! The supervisor side of a run: prepare everything, clone the jail with every
//! namespace at once, map its ids, put it in its cgroup, then watch its output,
//! clocks and cgroup until it ends, and build the [`Report`]. [`run_inner`] is the
//! flat list of the supervisor's steps of `steps.rs`.
//!
//! Safe in a multi-threaded process: all allocation happens before `clone`; the
//! child only runs `jail::init`, which is allocation-free; pipes are close-on-exec so
//! other threads' children never inherit them for long.

use std::fs;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use libc::c_int;

use crate::cgroup::{self, RunCgroup};
use crate::jail;
use crate::netpool::{self, Lease};
use crate::plan::{self, Plan, JAIL_GID, JAIL_UID};
use crate::steps::{Failure, Step};
use crate::wire::{self, Message, ToJail};
use crate::{gvisor, landlock, netns, sys, Isolation, NetNs};
use crate::{Control, Error, Layers, Network, OutputSink, Report, Spec, Status, Stream};

const TICK: Duration = Duration::from_millis(20);
const MARKER: &[u8] = b"\n[gauntlet: output truncated]\n";

fn io_err(step: Step) -> impl FnOnce(std::io::Error) -> Error {
    move |source| Error::Setup {
        step: step.name(),
        source,
    }
}

/// Runs `spec` to completion. Safe to call from a multi-threaded process.
pub fn run(spec: &Spec, sink: &mut dyn OutputSink) -> Result<Report, Error> {
    run_inner(spec, sink, None)
}

/// [`run`], with a [`Control`] through which other threads learn the jail's PID and
/// network namespace, stop it, and see it finish (long-lived jails such as an Anvil
/// chain).
pub fn run_controlled(
    spec: &Spec,
    sink: &mut dyn OutputSink,
    control: &Control,
) -> Result<Report, Error> {
    let r = run_inner(spec, sink, Some(control));
    control.ended();
    r
}

/// The supervisor's steps, in the order of the step table.
fn run_inner(
    spec: &Spec,
    sink: &mut dyn OutputSink,
    control: Option<&Control>,
) -> Result<Report, Error> {
    if spec.warm.is_some() && control.is_none() {
        return Err(Error::InvalidSpec(
            "a warm jail needs a Control to deliver its job through".into(),
        ));
    }
    let mut plan = plan::build(spec, landlock::abi().unwrap_or(0))?;
    plan.open_sources()?;
    let cg_host = cgroup::host()?;
    let early_cg = create_cgroup_before_clone(cg_host, spec)?;
    let pipes = Pipes::open(
        spec.results.is_some(),
        spec.warm.is_some(),
        plan.gvisor.is_some(),
    )?;
    plan.keep_fds = pipes.jail_fds().all().chain(plan.tree_fds()).collect();
    plan.keep_fds.sort_unstable();
    let network = JailNetwork::choose(spec, control);
    plan.join_net = network.joins();
    let start = Instant::now();
    let jail = clone_jail(&plan, &pipes, &network, early_cg.as_ref())?;
    let (streams, to_jail, job) = pipes.close_jail_ends();
    let handles = control.map(|_| jail_handles(&jail));
    let cg = match hand_over(&jail, &plan, to_jail, cg_host, early_cg, spec) {
        Ok(cg) => cg,
        Err(e) => {
            drop(jail);
            return Err(e);
        }
    };
    announce(control, &jail, handles, job);
    let mut sup = Supervision::new(spec, sink, start);
    sup.watch(&jail, &cg, streams, control, &plan);
    drop(jail);
    drop(network);
    // From delivery for a warm jail (`Supervision::delivered`), from the clone otherwise.
    let wall = sup.start.elapsed();
    let usage = cg.usage();
    drop(cg);
    sup.finish(spec, &plan, usage, wall)
}

/// v2: the jail is born in its cgroup (CLONE_INTO_CGROUP), which must exist first.
/// On v1 the cgroups are made after the clone, while the jail builds its root, and
/// handed to it (see `hand_over`).
fn create_cgroup_before_clone(
    host: &'static cgroup::Host,
    spec: &Spec,
) -> Result<Option<RunCgroup>, Error> {
    if !host.is_v2() {
        return Ok(None);
    }
    let (memory, pids) = cgroup_limits(spec);
    RunCgroup::create(host, memory, pids).map(Some)
}

/// The run's cgroup memory and pids limits: the spec's, plus under gVisor what
/// gVisor's own processes need (gvisor.rs), so the limits still bound the command.
fn cgroup_limits(spec: &Spec) -> (u64, u64) {
    match spec.isolation {
        Isolation::Namespaces => (spec.limits.memory, spec.limits.pids),
        Isolation::Gvisor => (
            spec.limits.memory + gvisor::MEMORY_ALLOWANCE,
            spec.limits.pids + gvisor::pids_allowance(),
        ),
    }
}

/// Every descriptor between the supervisor and the jail: the supervisor's ends, and
/// the jail's, which the jail inherits through the clone and the supervisor closes
/// right after it.
struct Pipes {
    out_r: OwnedFd,
    err_r: OwnedFd,
    msg_r: OwnedFd,
    res_r: Option<OwnedFd>,
    to_jail: OwnedFd,
    /// A warm jail's job socket, the host's end (for the `Control`).
    job: Option<OwnedFd>,
    jail_ends: JailEnds,
}

struct JailEnds {
    sync: OwnedFd,
    msg: OwnedFd,
    out: OwnedFd,
    err: OwnedFd,
    results: Option<OwnedFd>,
    job: Option<OwnedFd>,
}

impl Pipes {
    /// `sockets`: stdout, stderr and the results channel are socket pairs, not
    /// pipes (gVisor's ptrace platform cuts large writes to pipes: gvisor.rs).
    fn open(results: bool, warm: bool, sockets: bool) -> Result<Pipes, Error> {
        let stream = if sockets { socketpair } else { pipe };
        let (to_jail, sync) = socketpair()?;
        let (msg_r, msg) = pipe()?;
        let (out_r, out) = stream()?;
        let (err_r, err) = stream()?;
        let (res_r, res_w) = match results {
            true => stream().map(|(r, w)| (Some(r), Some(w)))?,
            false => (None, None),
        };
        let (job, job_jail) = match warm {
            true => socketpair().map(|(h, j)| (Some(h), Some(j)))?,
            false => (None, None),
        };
        // The payload may reopen its outputs through /proc/self/fd (`> /dev/stdout`):
        // the pipes must belong to the jail user, not to the supervisor.
        let (uid, gid) = crate::jail_host_ids();
        for fd in [Some(&out), Some(&err), res_w.as_ref()]
            .into_iter()
            .flatten()
        {
            // SAFETY: fchown on a pipe we own; no path is involved.
            if unsafe { libc::fchown(fd.as_raw_fd(), uid, gid) } < 0 {
                return Err(io_err(Step::Pipes)(std::io::Error::last_os_error()));
            }
        }
        Ok(Pipes {
            out_r,
            err_r,
            msg_r,
            res_r,
            to_jail,
            job,
            jail_ends: JailEnds {
                sync,
                msg,
                out,
                err,
                results: res_w,
                job: job_jail,
            },
        })
    }

    fn jail_fds(&self) -> jail::Fds {
        let e = &self.jail_ends;
        jail::Fds {
            sync: e.sync.as_raw_fd(),
            msg: e.msg.as_raw_fd(),
            out: e.out.as_raw_fd(),
            err: e.err.as_raw_fd(),
            results: e.results.as_ref().map_or(-1, |f| f.as_raw_fd()),
            job: e.job.as_ref().map_or(-1, |f| f.as_raw_fd()),
        }
    }

    /// After the clone: the jail holds its ends; ours go, so EOF comes when the
    /// jail's do. The streams to watch, in `Supervision` order, the sync socket, and
    /// a warm jail's job socket.
    fn close_jail_ends(self) -> ([Option<OwnedFd>; 4], ToJail, Option<OwnedFd>) {
        drop(self.jail_ends);
        (
            [
                Some(self.out_r),
                Some(self.err_r),
                Some(self.msg_r),
                self.res_r,
            ],
            ToJail(self.to_jail),
            self.job,
        )
    }
}

fn pipe() -> Result<(OwnedFd, OwnedFd), Error> {
    let mut fds = [0 as c_int; 2];
    // SAFETY: pipe2 fills the two-element array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(io_err(Step::Pipes)(std::io::Error::last_os_error()));
    }
    // SAFETY: both descriptors were just created and are owned by nobody else.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    Ok((r, above_stdio(w)?))
}

/// A connected pair of stream sockets (close-on-exec): the supervisor's end and the
/// jail's (`wire.rs`).
fn socketpair() -> Result<(OwnedFd, OwnedFd), Error> {
    let mut fds = [0 as c_int; 2];
    let kind = libc::SOCK_STREAM | libc::SOCK_CLOEXEC;
    // SAFETY: socketpair fills the two-element array.
    if unsafe { libc::socketpair(libc::AF_UNIX, kind, 0, fds.as_mut_ptr()) } < 0 {
        return Err(io_err(Step::Pipes)(std::io::Error::last_os_error()));
    }
    // SAFETY: both descriptors were just created and are owned by nobody else.
    let (ours, theirs) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    Ok((ours, above_stdio(theirs)?))
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
        return Err(io_err(Step::Pipes)(std::io::Error::last_os_error()));
    }
    // SAFETY: a fresh descriptor owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

/// The network namespace the jail joins: the caller's (`Network::Join`), or one lent
/// from the pool of prepared empty ones (`Network::None`; see netpool.rs). Without
/// either, the clone makes one.
enum JailNetwork<'a> {
    Joined(&'a NetNs),
    Lent(Lease),
    Fresh,
}

impl<'a> JailNetwork<'a> {
    fn choose(spec: &'a Spec, control: Option<&Control>) -> JailNetwork<'a> {
        match (&spec.network, control) {
            (Network::Join(ns), _) => JailNetwork::Joined(ns),
            // Not for controlled jails: they lend their network to other jails (an
            // Anvil chain to the jobs using it), which hold no lease, so a slot freed
            // when such a jail ends could be lent again while one of them was inside.
            (Network::None, Some(_)) => JailNetwork::Fresh,
            (Network::None, None) => netpool::lease().map_or(JailNetwork::Fresh, JailNetwork::Lent),
        }
    }

    fn joins(&self) -> bool {
        !matches!(self, JailNetwork::Fresh)
    }

    fn ns(&self) -> Option<BorrowedFd<'_>> {
        match self {
            JailNetwork::Joined(ns) => Some(ns.as_fd()),
            JailNetwork::Lent(lease) => Some(lease.ns.as_fd()),
            JailNetwork::Fresh => None,
        }
    }
}

/// `clone3` with every namespace at once (and into the v2 cgroup); the child runs
/// `jail::init`. Joining a network namespace owned by another user namespace needs
/// privilege in it: this thread joins it just for the clone, then goes back.
fn clone_jail(
    plan: &Plan,
    pipes: &Pipes,
    network: &JailNetwork<'_>,
    early_cg: Option<&RunCgroup>,
) -> Result<Child, Error> {
    let cg_dir = early_cg
        .map(RunCgroup::entry)
        .transpose()?
        .and_then(|e| e.dir);
    let mut flags = (libc::CLONE_NEWUSER
        | libc::CLONE_NEWNS
        | libc::CLONE_NEWPID
        | libc::CLONE_NEWIPC
        | libc::CLONE_NEWUTS
        | libc::CLONE_PIDFD) as u64;
    if cg_dir.is_some() {
        flags |= sys::CLONE_INTO_CGROUP;
    }
    if !network.joins() {
        flags |= libc::CLONE_NEWNET as u64;
    }
    let mut pidfd: c_int = -1;
    let args = sys::CloneArgs {
        flags,
        pidfd: &mut pidfd as *mut c_int as u64,
        exit_signal: libc::SIGCHLD as u64,
        cgroup: cg_dir.as_ref().map_or(0, |d| d.as_raw_fd() as u64),
        ..sys::CloneArgs::default()
    };
    let fds = pipes.jail_fds();
    let fork = || {
        // SAFETY: clone3 without a new stack behaves like fork. The child runs only
        // `jail::init`, which is async-signal-safe and never returns.
        let pid = unsafe { sys::clone3(&args) };
        if pid == 0 {
            jail::init(plan, fds);
        }
        (pid, std::io::Error::last_os_error())
    };
    // A user namespace belongs to the effective uid of its creator, and the kernel
    // counts what happens inside it (inotify instances, user namespaces, processes)
    // against that uid in the host's namespace too. As root, the clone is made with
    // this thread's effective ids switched to the jail's host ids, so jails share
    // those counters with each other, never with root.
    let clone = || {
        if plan.rootless {
            return Ok(fork());
        }
        let (uid, gid) = crate::jail_host_ids();
        sys::as_effective_ids(uid, gid, fork).map_err(|e| {
            Error::Unsupported(format!(
                "namespaces: cannot switch to uid {uid} to own the jail's user namespace: {}",
                std::io::Error::from_raw_os_error(e)
            ))
        })
    };
    let (pid, clone_err) = match network.ns() {
        None => clone()?,
        Some(ns) => netns::in_netns(ns, clone).map_err(|e| {
            Error::Unsupported(format!(
                "network join: setns failed ({e}); joining a network namespace needs \
                 CAP_SYS_ADMIN over it"
            ))
        })??,
    };
    if pid < 0 {
        return Err(Error::Unsupported(format!(
            "namespaces: clone3(CLONE_NEWUSER|NEWNS|NEWPID|NEWIPC|NEWUTS|NEWNET{}) failed: {clone_err}",
            if cg_dir.is_some() { "|INTO_CGROUP" } else { "" }
        )));
    }
    Ok(Child {
        pid: pid as libc::pid_t,
        // SAFETY: CLONE_PIDFD stored a fresh descriptor we now own.
        pidfd: unsafe { OwnedFd::from_raw_fd(pidfd) },
        reaped: false,
    })
}

/// While the child waits on the sync socket: map its ids and let it go; then, while
/// it builds its root, make its cgroup (v1) and send it over.
fn hand_over(
    jail: &Child,
    plan: &Plan,
    to_jail: ToJail,
    host: &'static cgroup::Host,
    early_cg: Option<RunCgroup>,
    spec: &Spec,
) -> Result<RunCgroup, Error> {
    let proc = format!("/proc/{}", jail.pid);
    let (host_uid, host_gid) = crate::jail_host_ids();
    if plan.rootless {
        write_file(&format!("{proc}/setgroups"), "deny").map_err(io_err(Step::UidMap))?;
    }
    let mut uid_map = format!("{JAIL_UID} {host_uid} 1\n");
    let mut gid_map = format!("{JAIL_GID} {host_gid} 1\n");
    if plan.gvisor.is_some() {
        // runsc as 0 and its sentry as nobody, each an unprivileged host id of its own.
        for map in [&mut uid_map, &mut gid_map] {
            map.push_str(&format!(
                "0 {} 1\n{} {} 1\n",
                gvisor::RUNSC_HOST_ID,
                gvisor::NOBODY,
                gvisor::SENTRY_HOST_ID
            ));
        }
    }
    write_file(&format!("{proc}/uid_map"), &uid_map).map_err(io_err(Step::UidMap))?;
    write_file(&format!("{proc}/gid_map"), &gid_map).map_err(io_err(Step::GidMap))?;
    to_jail.start().map_err(io_err(Step::StartJail))?;
    if let Some(cg) = early_cg {
        to_jail.cgroup(&[]).map_err(io_err(Step::SendCgroup))?;
        return Ok(cg);
    }
    let (memory, pids) = cgroup_limits(spec);
    let cg = RunCgroup::create(host, memory, pids)?;
    let entry = cg.entry()?;
    let tasks: Vec<BorrowedFd<'_>> = entry.tasks.iter().map(|f| f.as_fd()).collect();
    to_jail.cgroup(&tasks).map_err(io_err(Step::SendCgroup))?;
    Ok(cg)
}

fn write_file(path: &str, v: &str) -> std::io::Result<()> {
    fs::OpenOptions::new()
        .write(true)
        .open(path)?
        .write_all(v.as_bytes())
}

/// The jail's network namespace and a pidfd, for a `Control`: opened right after the
/// clone, while init is our unreaped child (so the PID cannot name anyone else) and
/// still waits for `start-jail`. Later, init has made itself non-dumpable
/// (`hide-from-ptrace`), and only a caller with CAP_SYS_PTRACE (root) could still
/// open its `/proc/<pid>/ns/net`: rootless, the open would race init and fail.
fn jail_handles(jail: &Child) -> std::io::Result<(NetNs, OwnedFd)> {
    let path = format!("/proc/{}/ns/net", jail.pid);
    let ns = NetNs::open(std::path::Path::new(&path))?;
    Ok((ns, jail.pidfd.try_clone()?))
}

/// Tells a `Control` the jail is up: its PID, the handles [`jail_handles`] opened,
/// and a warm jail's job socket.
fn announce(
    control: Option<&Control>,
    jail: &Child,
    handles: Option<std::io::Result<(NetNs, OwnedFd)>>,
    job: Option<OwnedFd>,
) {
    let (Some(c), Some(handles)) = (control, handles) else {
        return;
    };
    match handles {
        Ok((ns, pidfd)) => c.started(jail.pid as u32, ns, pidfd, job),
        // Init was already gone (its own failure is in the messages), or this
        // process is out of descriptors: the run ends without ever being lent.
        Err(_) => jail.kill(),
    }
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
            match sys::waitpid(self.pid, libc::__WALL) {
                Ok((p, _)) if p == self.pid => break,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        self.reaped = true;
    }

    /// Waits for init to be a zombie (its whole namespace gone) without reaping it.
    fn wait_until_dead(&self) {
        let fd = self.pidfd.as_raw_fd();
        while sys::poll_one(fd, libc::POLLIN, -1) < 0 && sys::errno() == libc::EINTR {}
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        self.kill_and_reap();
    }
}

/// The watch loop's state, and the report it becomes.
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
    /// A warm jail's waiting phase; `None` for an ordinary run.
    warm: Option<WarmPhase>,
}

/// A warm jail before and at delivery. Until `delivered`, `Supervision::start` is the
/// clone and the waiting limits apply; at delivery the clocks restart.
struct WarmPhase {
    spec: crate::Warm,
    cloned: Instant,
    delivered: Option<Instant>,
    cpu_base: u64,
    ready_at_delivery: bool,
    early_output: bool,
    autogroup: Autogroup,
}

/// The preamble's session is a scheduling autogroup of its own (it called `setsid`),
/// weighed against other sessions by the autogroup's niceness, not its tasks': as
/// root, the supervisor gives that autogroup the preamble's niceness until delivery.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Autogroup {
    /// Not yet seen (the payload may not have made its session yet).
    Pending,
    /// Lowered: the session's id.
    Lowered(libc::pid_t),
    /// Nothing to do: rootless, niceness 0, or a kernel without autogroups.
    Untouched,
}

/// Index of each stream in the array [`Supervision::watch`] takes.
const STDOUT: usize = 0;
const STDERR: usize = 1;
const MESSAGES: usize = 2;
const RESULTS: usize = 3;

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
            warm: spec.warm.clone().map(|w| WarmPhase {
                cloned: start,
                delivered: None,
                cpu_base: 0,
                ready_at_delivery: false,
                early_output: false,
                autogroup: if w.nice > 0 && !crate::rootless() {
                    Autogroup::Pending
                } else {
                    Autogroup::Untouched
                },
                spec: w,
            }),
        }
    }

    /// True while a warm jail waits for its job.
    fn waiting(&self) -> bool {
        self.warm.as_ref().is_some_and(|w| w.delivered.is_none())
    }

    /// The job went in: the run's clocks start now, the CPU used so far is the
    /// preamble's, and (as root) every task goes back to niceness 0.
    fn delivered(&mut self, cg: &RunCgroup, control: &Control, plan: &Plan) {
        let now = Instant::now();
        let Some(w) = self.warm.as_mut() else { return };
        if w.delivered.is_some() {
            return;
        }
        w.delivered = Some(now);
        w.cpu_base = cg.cpu_ns();
        w.ready_at_delivery = control.was_ready();
        self.start = now;
        self.last_output = now;
        if plan.nice > 0 && !plan.rootless {
            // The session's autogroup is set through any one of its tasks.
            let mut lowered = match w.autogroup {
                Autogroup::Lowered(session) => Some(session),
                _ => None,
            };
            for tid in cg.tasks() {
                let _ = sys::set_task_nice(tid, 0);
                if lowered.is_some_and(|s| sys::session_of(tid) == Some(s))
                    && sys::set_autogroup_nice(tid, 0).is_ok()
                {
                    lowered = None;
                }
            }
        }
    }

    /// Gives the waiting preamble's session autogroup its niceness, once the payload
    /// has made its session (the one session leader in the jail besides init).
    fn lower_preamble_autogroup(&mut self, jail: &Child, cg: &RunCgroup) {
        let Some(w) = self.warm.as_mut() else { return };
        if w.autogroup != Autogroup::Pending {
            return;
        }
        let leader = cg
            .tasks()
            .into_iter()
            .find(|&tid| tid != jail.pid && sys::session_of(tid) == Some(tid));
        if let Some(session) = leader {
            w.autogroup = match sys::set_autogroup_nice(session, w.spec.nice) {
                Ok(()) => Autogroup::Lowered(session),
                Err(_) => Autogroup::Untouched,
            };
        }
    }

    /// CPU used by the job (a warm jail's preamble not counted).
    fn job_cpu_ns(&self, total: u64) -> u64 {
        total.saturating_sub(self.warm.as_ref().map_or(0, |w| w.cpu_base))
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
        if self.waiting() {
            // A preamble prints nothing before its job: this one is broken. Its words
            // still reach the sink, for the caller to report.
            if let Some(w) = self.warm.as_mut() {
                w.early_output = true;
            }
            self.stop(jail, Status::Signaled);
        }
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

    fn consume(&mut self, jail: &Child, i: usize, bytes: &[u8]) {
        match i {
            STDOUT => self.output(jail, Stream::Stdout, bytes),
            STDERR => self.output(jail, Stream::Stderr, bytes),
            MESSAGES => self.msgs.extend_from_slice(bytes),
            _ => {
                debug_assert_eq!(i, RESULTS);
                self.results_bytes += bytes.len() as u64;
                if self.results_bytes <= self.results_cap {
                    self.results.extend_from_slice(bytes);
                }
            }
        }
    }

    /// `poll` on the streams, init's pidfd and a `Control`'s kill pipe, with the
    /// timeout set to the nearest of the wall deadline, the idle deadline and the
    /// next tick, until the jail ends or a limit stops it; then drains what is left.
    fn watch(
        &mut self,
        jail: &Child,
        cg: &RunCgroup,
        streams: [Option<OwnedFd>; 4],
        control: Option<&Control>,
        plan: &Plan,
    ) {
        let fds = streams
            .each_ref()
            .map(|s| s.as_ref().map_or(-1, |f| f.as_raw_fd()));
        let mut open = fds.map(|fd| fd >= 0);
        let mut buf = vec![0u8; 64 * 1024];
        let mut next_tick = Instant::now() + TICK;
        loop {
            let timeout = self.poll_timeout(next_tick);
            let mut pfds = [pollfd(-1); 7];
            for i in 0..4 {
                pfds[i].fd = if open[i] { fds[i] } else { -1 };
            }
            pfds[4].fd = jail.pidfd.as_raw_fd();
            pfds[5].fd = control.map_or(-1, Control::kill_fd);
            if self.waiting() {
                pfds[6].fd = control.map_or(-1, Control::deliver_fd);
            }
            // SAFETY: poll over a local array of seven pollfds.
            let n = unsafe { libc::poll(pfds.as_mut_ptr(), 7, timeout) };
            if n < 0 && sys::errno() != libc::EINTR {
                self.stop(jail, Status::SetupError);
                break;
            }
            // The delivery first: output that follows it in the same round is the job's.
            if let (true, Some(c)) = (pfds[6].revents != 0, control) {
                let mut b = [0u8; 8];
                let _ = sys::read(c.deliver_fd(), &mut b);
                self.delivered(cg, c, plan);
                c.acknowledge_delivery();
            }
            self.read_ready(jail, &fds, &mut open, &pfds, &mut buf);
            let exited = pfds[4].revents != 0;
            if pfds[5].revents != 0 {
                self.stop(jail, Status::Signaled);
            } else {
                self.check_limits(jail, cg, &mut next_tick, control);
            }
            if exited || self.stopped.is_some() {
                break;
            }
        }
        // The jail is dead or dying: drain what is left (every writer is gone once
        // init has died, so EOF comes; the deadline guards against a stray copy of a
        // write end in some other thread's fork).
        jail.wait_until_dead();
        let drain_deadline = Instant::now() + Duration::from_millis(500);
        while open.iter().any(|o| *o) && Instant::now() < drain_deadline {
            let mut pfds = fds.map(pollfd);
            for (p, o) in pfds.iter_mut().zip(open) {
                p.fd = if o { p.fd } else { -1 };
            }
            // SAFETY: poll over a local array of four pollfds.
            if unsafe { libc::poll(pfds.as_mut_ptr(), 4, 100) } > 0 {
                self.read_ready(jail, &fds, &mut open, &pfds, &mut buf);
            }
        }
        drop(streams);
    }

    fn poll_timeout(&self, next_tick: Instant) -> c_int {
        let mut deadline = (self.start + self.limits.wall_time).min(next_tick);
        match &self.warm {
            Some(w) if w.delivered.is_none() => {
                deadline = next_tick.min(w.cloned + w.spec.max_wait);
            }
            _ => {
                if let Some(idle) = self.limits.idle_timeout {
                    deadline = deadline.min(self.last_output + idle);
                }
            }
        }
        let ms = deadline
            .saturating_duration_since(Instant::now())
            .as_millis();
        ms.min(c_int::MAX as u128 - 1) as c_int + 1
    }

    fn read_ready(
        &mut self,
        jail: &Child,
        fds: &[RawFd; 4],
        open: &mut [bool; 4],
        pfds: &[libc::pollfd],
        buf: &mut [u8],
    ) {
        for i in 0..4 {
            if open[i] && pfds[i].revents != 0 {
                match sys::read(fds[i], buf) {
                    Ok(0) | Err(_) => open[i] = false,
                    Ok(k) => self.consume(jail, i, &buf[..k]),
                }
            }
        }
    }

    /// The wall and idle clocks every time round; the cgroup on each tick: an OOM
    /// kill, a refused fork, CPU past the limit.
    fn check_limits(
        &mut self,
        jail: &Child,
        cg: &RunCgroup,
        next_tick: &mut Instant,
        control: Option<&Control>,
    ) {
        let now = Instant::now();
        let waiting = self.waiting();
        let (wall_end, cpu_cap) = match &self.warm {
            Some(w) if waiting => (w.cloned + w.spec.max_wait, w.spec.preamble_cpu),
            _ => (self.start + self.limits.wall_time, self.limits.cpu_time),
        };
        if now >= wall_end {
            return self.stop(jail, Status::WallTimeout);
        }
        if let (Some(idle), false) = (self.limits.idle_timeout, waiting) {
            if now >= self.last_output + idle {
                return self.stop(jail, Status::IdleTimeout);
            }
        }
        if now < *next_tick {
            return;
        }
        *next_tick = now + TICK;
        if waiting {
            self.lower_preamble_autogroup(jail, cg);
        }
        if let Some(c) = control {
            c.set_memory(cg.memory_current());
        }
        if cg.oom_kills() > 0 {
            self.stop(jail, Status::MemoryLimit);
        } else if cg.pids_limit_hits() > 0 {
            self.stop(jail, Status::PidsLimit);
        } else if self.job_cpu_ns(cg.cpu_ns()) >= cpu_cap.as_nanos() as u64 {
            self.stop(jail, Status::CpuTimeout);
        }
    }

    fn finish(
        self,
        spec: &Spec,
        plan: &Plan,
        mut usage: cgroup::Usage,
        wall: Duration,
    ) -> Result<Report, Error> {
        let total_cpu = usage.cpu_ns;
        usage.cpu_ns = self.job_cpu_ns(total_cpu);
        let warm = self.warm.as_ref().map(|w| crate::WarmReport {
            delivered: w.delivered.is_some(),
            ready_at_delivery: w.ready_at_delivery,
            waited_ms: w
                .delivered
                .unwrap_or_else(Instant::now)
                .duration_since(w.cloned)
                .as_millis() as u64,
            preamble_cpu_ms: match w.delivered {
                Some(_) => w.cpu_base,
                None => total_cpu,
            } / 1_000_000,
            early_output: w.early_output,
        });
        let from_jail = FromJail::decode(&self.msgs, spec.collect.len());
        let error = match from_jail.failure {
            Some(f) if f.step == Step::Exec => Some(format!(
                "exec {:?}: {}",
                spec.argv[0],
                std::io::Error::from_raw_os_error(f.errno)
            )),
            Some(f) => return Err(setup_error(plan, f)),
            None => None,
        };
        let (status, exit_code, signal) = self.status(spec, &usage, &error, from_jail.wait_status);
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
            layers: layers(spec, plan),
            error,
            collected: from_jail.collected,
            results: spec
                .results
                .filter(|cap| self.results_bytes <= *cap)
                .map(|_| self.results),
            results_bytes: spec.results.map(|_| self.results_bytes),
            warm,
        })
    }

    /// Status precedence: a setup failure (exec) → the supervisor's own stop reason →
    /// an OOM kill seen afterwards → a pids-limit hit → SIGXCPU or CPU past the
    /// limit → a signal → the exit code.
    fn status(
        &self,
        spec: &Spec,
        usage: &cgroup::Usage,
        error: &Option<String>,
        wait_status: Option<i32>,
    ) -> (Status, Option<i32>, Option<i32>) {
        let (mut exit_code, mut signal) = (None, None);
        if let Some(ws) = wait_status {
            if libc::WIFEXITED(ws) {
                exit_code = Some(libc::WEXITSTATUS(ws));
            } else if libc::WIFSIGNALED(ws) {
                signal = Some(libc::WTERMSIG(ws));
            }
        }
        // runsc reports a command killed by signal N as its own exit code 128 + N.
        if spec.isolation == Isolation::Gvisor {
            if let Some(code @ 129..=192) = exit_code {
                (exit_code, signal) = (None, Some(code - 128));
            }
        }
        let status = if error.is_some() {
            exit_code = None;
            Status::SetupError
        } else if let Some(s) = self.stopped {
            if s == Status::Signaled {
                (exit_code, signal) = (None, Some(libc::SIGKILL));
            }
            s
        } else if usage.oom_kills > 0 {
            Status::MemoryLimit
        } else if usage.pids_limit_hits > 0 {
            Status::PidsLimit
        } else if signal == Some(libc::SIGXCPU)
            || usage.cpu_ns >= spec.limits.cpu_time.as_nanos() as u64
        {
            Status::CpuTimeout
        } else if signal.is_some() {
            Status::Signaled
        } else if exit_code.is_some() {
            Status::Exited
        } else {
            // Init vanished without a word: only an external kill does that.
            Status::Signaled
        };
        (status, exit_code, signal)
    }
}

fn pollfd(fd: RawFd) -> libc::pollfd {
    libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    }
}

/// The layers the command had. Under gVisor the jail's own seccomp, Landlock and
/// capability drop are not applied (runsc needs what they take away; gvisor.rs):
/// the report says so, and names the platform.
fn layers(spec: &Spec, plan: &Plan) -> Layers {
    let native = plan.gvisor.is_none();
    let landlock_abi = if native { plan.landlock_abi } else { 0 };
    Layers {
        namespaces: true,
        pivot_root: true,
        seccomp: native,
        landlock: landlock_abi > 0,
        cgroup: cgroup::host().map(|h| h.name()).unwrap_or("").into(),
        socket_memory: cgroup::host()
            .map(|h| h.socket_memory())
            .unwrap_or("uncapped")
            .into(),
        no_new_privs: true,
        capabilities_dropped: native,
        landlock_abi,
        landlock_unrestricted: match native {
            true => landlock::unrestricted(landlock_abi),
            false => Vec::new(),
        },
        network: match spec.network {
            Network::None => "none".into(),
            Network::Join(_) => "joined".into(),
        },
        rootless: plan.rootless,
        userns_owner: crate::jail_host_ids().0,
        isolation: spec.isolation,
        gvisor_platform: plan.gvisor.map(|p| p.name()),
    }
}

/// A step that failed in the jail, as the caller's error: the step's name, and for
/// a list step the item (which bind, which overlay).
fn setup_error(plan: &Plan, f: Failure) -> Error {
    let source = std::io::Error::from_raw_os_error(f.errno);
    let item = plan.describe(f.step, f.detail);
    // Rootless, the jail reaches its sources by path with the caller's own rights.
    let hint = if plan.rootless && f.errno == libc::EACCES && item.is_some() {
        " (the jail runs as you: a folder above it does not let you through)"
    } else {
        ""
    };
    Error::Setup {
        step: f.step.name(),
        source: match item {
            Some(what) => std::io::Error::new(source.kind(), format!("{what}: {source}{hint}")),
            None => source,
        },
    }
}

/// What the jail said over the message pipe.
struct FromJail {
    failure: Option<Failure>,
    wait_status: Option<i32>,
    collected: Vec<Option<Vec<u8>>>,
}

impl FromJail {
    fn decode(stream: &[u8], n_collect: usize) -> FromJail {
        let mut j = FromJail {
            failure: None,
            wait_status: None,
            collected: vec![None; n_collect],
        };
        let mut partial: Vec<Vec<u8>> = vec![Vec::new(); n_collect];
        for m in wire::decode(stream) {
            match m {
                Message::Failed(f) => {
                    j.failure.get_or_insert(f);
                }
                Message::Exited(status) => j.wait_status = Some(status),
                Message::Chunk { index, bytes } => {
                    if let Some(v) = partial.get_mut(index as usize) {
                        v.extend_from_slice(bytes);
                    }
                }
                Message::CollectEnd { index, ok } => {
                    let i = index as usize;
                    if ok && i < n_collect {
                        j.collected[i] = Some(std::mem::take(&mut partial[i]));
                    }
                }
            }
        }
        j
    }
}
