//! The child side: what runs after `clone`, as the jail's init (PID 1 of the new PID
//! namespace) and as the payload it starts. [`init_steps`] and [`payload_steps`] are
//! flat lists of the named steps of `steps.rs`, in its order; each step is a small
//! function here or one call into `sys.rs`.
//!
//! Everything here is async-signal-safe: raw syscalls over data the parent prepared
//! in a [`Plan`]; no allocation, no locks, no panics. A failing step sends
//! `(step, errno, item)` to the supervisor and `_exit`s.

use std::cell::UnsafeCell;
use std::ffi::CStr;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicI32, Ordering};

use libc::{c_int, c_uint};

use crate::plan::{BindOp, Plan, Source, JAIL_GID, JAIL_UID, JOB_FD, PROC_READ_ONLY, RESULTS_FD};
use crate::steps::{At, Failure, Fault, Item, Step};
use crate::sys::{self, SysResult};
use crate::wire::{FromSupervisor, ToSupervisor};
use crate::{gvisor, landlock, seccomp};

/// The descriptors the jail inherits, all opened by the supervisor before the clone
/// and numbered above 9.
#[derive(Clone, Copy)]
pub struct Fds {
    /// The jail's end of the sync socket (`wire::FromSupervisor`).
    pub sync: RawFd,
    /// The message pipe's write end (`wire::ToSupervisor`).
    pub msg: RawFd,
    pub out: RawFd,
    pub err: RawFd,
    /// The results channel's write end, or -1 when it is off.
    pub results: RawFd,
    /// A warm jail's end of its job socket, or -1 for an ordinary run.
    pub job: RawFd,
}

impl Fds {
    /// Every descriptor the jail gets from the supervisor (-1: none).
    pub fn all(self) -> impl Iterator<Item = RawFd> {
        [
            self.sync,
            self.msg,
            self.out,
            self.err,
            self.results,
            self.job,
        ]
        .into_iter()
    }

    fn supervisor_in(self) -> FromSupervisor {
        FromSupervisor(self.sync)
    }

    fn supervisor_out(self) -> ToSupervisor {
        ToSupervisor(self.msg)
    }
}

/// Uninhabited: the step lists end in `execve` or `_exit`.
enum Never {}

/// Entry point of the jail's init, straight after clone. Never returns.
pub fn init(plan: &Plan, fds: Fds) -> ! {
    match init_steps(plan, fds) {
        Ok(never) => match never {},
        Err(failure) => {
            fds.supervisor_out().failed(failure);
            sys::exit(127)
        }
    }
}

/// Init's steps, in the order of the step table.
fn init_steps(plan: &Plan, fds: Fds) -> Result<Never, Failure> {
    wait_for_supervisor(fds).at(Step::WaitForSupervisor)?;
    set_ids(plan).at(Step::SetIds)?;
    sys::set_not_dumpable().at(Step::HideFromPtrace)?;
    scrub_identity(plan).at(Step::ScrubIdentity)?;
    close_all_but(3, &plan.keep_fds);
    make_mounts_private().at(Step::MakeMountsPrivate)?;
    mount_root_tmpfs(plan).at(Step::MountRootTmpfs)?;
    pivot_root(plan).at(Step::PivotRoot)?;
    build_skeleton(plan).at(Step::BuildSkeleton)?;
    bind_paths(plan).at(Step::BindPaths)?;
    mount_proc().at(Step::MountProc)?;
    build_dev(plan).at(Step::BuildDev)?;
    mask_proc(plan).at(Step::MaskProc)?;
    mount_tmp(plan).at(Step::MountTmp)?;
    mount_overlays(plan).at(Step::MountOverlay)?;
    if plan.gvisor.is_some() {
        mount_gvisor_state().at(Step::GvisorState)?;
    }
    detach_old_root().at(Step::DetachOldRoot)?;
    remount_root_read_only().at(Step::RemountRootReadOnly)?;
    sys::sethostname(b"gauntlet").at(Step::SetHostname)?;
    if !plan.join_net {
        sys::loopback_up().at(Step::LoopbackUp)?;
    }
    attach_cgroup(fds).at(Step::CgroupAttach)?;
    sys::unshare(libc::CLONE_NEWCGROUP).at(Step::CgroupNamespace)?;
    let payload = spawn_payload(plan, fds).at(Step::SpawnPayload)?;
    let status = reap_payload(payload);
    fds.supervisor_out().exited(status);
    kill_leftovers();
    collect_files(plan, fds.supervisor_out());
    sys::exit(0)
}

/// The payload's steps (PID 3), in the order of the step table: it hardens itself,
/// then becomes the command.
fn payload_steps(plan: &Plan, fds: Fds) -> Result<Never, Failure> {
    sys::setsid().at(Step::NewSession)?;
    sys::set_parent_death_signal(libc::SIGKILL).at(Step::DieWithInit)?;
    stdio(fds, plan.gvisor.is_some()).at(Step::Stdio)?;
    workdir(plan).at(Step::Workdir)?;
    rlimits(plan).at(Step::Rlimits)?;
    if plan.gvisor.is_some() {
        // runsc builds its own sandbox and needs its capabilities for it; the
        // command inside has none (gvisor.rs).
        runsc_ids().at(Step::GvisorIds)?;
        sys::set_no_new_privs().at(Step::NoNewPrivs)?;
        return Err(exec(plan)).at(Step::Exec);
    }
    drop_capabilities().at(Step::DropCapabilities)?;
    sys::set_no_new_privs().at(Step::NoNewPrivs)?;
    if plan.landlock_abi > 0 {
        landlock::restrict(plan.landlock_abi, c"/dev", &plan.landlock_rw).at(Step::Landlock)?;
    }
    seccomp::install(plan.seccomp).at(Step::Seccomp)?;
    Err(exec(plan)).at(Step::Exec)
}

// ---------------------------------------------------------------------------------
// Init's steps.

/// Die with the supervisor thread, then wait until it has written our id maps.
/// (Meanwhile it creates the run's cgroup, which we join in `attach_cgroup`: its
/// work overlaps with our mounts.)
fn wait_for_supervisor(fds: Fds) -> SysResult {
    sys::set_parent_death_signal(libc::SIGKILL)?;
    fds.supervisor_in().wait_for_start()
}

/// Become the jail user (uid/gid 1000 inside) with no supplementary groups, keeping
/// our capabilities in the new user namespace for the mounts. Rootless, the caller's
/// ids already map to 1000 and `setgroups` is denied.
fn set_ids(plan: &Plan) -> SysResult {
    if !plan.rootless {
        sys::clear_groups()?;
        // The supervisor cloned us with SECBIT_NO_SETUID_FIXUP (see
        // `supervise::clone_jail`); from here on uid changes behave as usual.
        sys::set_securebits(0)?;
    }
    if sys::getresuid() != (JAIL_UID, JAIL_UID, JAIL_UID) {
        sys::setresgid(JAIL_GID, JAIL_GID, JAIL_GID)?;
        sys::setresuid(JAIL_UID, JAIL_UID, JAIL_UID)?;
    }
    // A credential change clears the parent-death signal: set it again. A supervisor
    // that died in between is caught by `attach_cgroup` (EOF).
    sys::set_parent_death_signal(libc::SIGKILL)
}

/// What `/proc/1/cmdline` shows from now on.
const INIT_CMDLINE: &[u8] = b"gauntlet-init\0";

/// Init is a fork of the supervisor: its name, command line and environment were
/// the supervisor's (a server's flags, `--env` values, tokens), and
/// `/proc/1/cmdline` is readable by everyone in the jail. Init takes a name of its
/// own, zeroes its copy of the argument and environment strings, writes
/// [`INIT_CMDLINE`] at the start of the argument area (the kernel shows a command
/// line only from anonymous memory such as this stack area) and points the command
/// line at it and the environment at nothing (`PR_SET_MM_MAP`). A kernel without
/// that prctl (no CONFIG_CHECKPOINT_RESTORE) shows the name and NULs.
/// (`/proc/1/environ` and `/proc/1/mem` are refused anyway: init is not dumpable.)
fn scrub_identity(plan: &Plan) -> SysResult {
    sys::set_name(c"gauntlet-init")?;
    let Some(mm) = &plan.mm else {
        return Err(libc::ENODATA);
    };
    let shown = INIT_CMDLINE.len().min((mm.arg_end - mm.arg_start) as usize);
    // SAFETY: the kernel's own bounds of this address space's argument and
    // environment strings (read from /proc/self/stat by the supervisor, whose
    // address space this is a copy of): bytes inside the writable stack mapping that
    // nothing in init reads; `shown` fits in the argument area.
    unsafe {
        for (start, end) in [(mm.arg_start, mm.arg_end), (mm.env_start, mm.env_end)] {
            std::ptr::write_bytes(start as *mut u8, 0, (end - start) as usize);
        }
        let dst = mm.arg_start as *mut u8;
        std::ptr::copy_nonoverlapping(INIT_CMDLINE.as_ptr(), dst, shown.saturating_sub(1));
    }
    match sys::set_cmdline(mm, mm.arg_start, mm.arg_start + shown as u64) {
        Ok(()) | Err(libc::EINVAL) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Closes every descriptor from `first` up, except those in `keep` (sorted; -1
/// entries are ignored).
fn close_all_but(first: c_uint, keep: &[RawFd]) {
    let mut next = first;
    for &fd in keep.iter().filter(|fd| **fd >= 0) {
        let fd = fd as c_uint;
        if fd >= next {
            sys::close_range(next, fd - 1);
            next = fd + 1;
        }
    }
    sys::close_range(next, c_uint::MAX);
}

/// Our mount namespace stops propagating to and from the host.
fn make_mounts_private() -> SysResult {
    sys::mount(None, c"/", None, libc::MS_REC | libc::MS_PRIVATE, None)
}

fn mount_root_tmpfs(plan: &Plan) -> SysResult {
    let flags = libc::MS_NOSUID | libc::MS_NODEV;
    sys::mount(
        Some(c"tmpfs"),
        &plan.staging,
        Some(c"tmpfs"),
        flags,
        Some(&plan.root_opts),
    )
}

/// The new root; the host root stays at `/.oldroot` until every bind is made.
fn pivot_root(plan: &Plan) -> SysResult {
    sys::chdir(&plan.staging)?;
    sys::mkdir(c".oldroot", 0o700)?;
    sys::pivot_root(c".", c".oldroot")?;
    sys::chdir(c"/")
}

/// Directories, mount-point files, symlinks, the minimal `/etc`.
fn build_skeleton(plan: &Plan) -> SysResult {
    for d in &plan.dirs {
        match sys::mkdir(d, 0o755) {
            Ok(()) | Err(libc::EEXIST) => {}
            Err(e) => return Err(e),
        }
    }
    for f in &plan.mount_files {
        create_file(f, b"")?;
    }
    for (target, link) in &plan.symlinks {
        sys::symlink(target, link)?;
    }
    for (path, content) in &plan.files {
        create_file(path, content)?;
    }
    Ok(())
}

/// System directories read-only, then the caller's binds. The item of a failure is
/// the bind's index in `plan.binds`.
fn bind_paths(plan: &Plan) -> Result<(), Fault> {
    for (i, b) in plan.binds.iter().enumerate() {
        bind_one(b).item(i)?;
    }
    Ok(())
}

fn bind_one(b: &BindOp) -> SysResult {
    match &b.src {
        Source::Path(src) => bind(src, &b.dst, b.attrs()),
        Source::Tree(tree) => attach(tree.as_raw_fd(), &b.dst),
    }
}

/// Attaches a detached mount the supervisor made at `dst`, and drops init's copy of
/// its descriptor.
fn attach(tree: RawFd, dst: &CStr) -> SysResult {
    let r = sys::move_mount_to(tree, dst);
    sys::close(tree);
    r
}

/// A non-recursive bind of `src` (opened without following any symlink, so one
/// swapped into a host path is refused) at `dst`, with mount attributes `attrs`.
fn bind(src: &CStr, dst: &CStr, attrs: u64) -> SysResult {
    let resolve = sys::RESOLVE_NO_SYMLINKS | sys::RESOLVE_NO_MAGICLINKS;
    let path = sys::openat2(libc::AT_FDCWD, src, libc::O_PATH, resolve)?;
    let tree = sys::open_tree(path.as_raw_fd(), sys::OPEN_TREE_CLONE)?;
    sys::mount_setattr(tree.as_raw_fd(), attrs)?;
    sys::move_mount_to(tree.as_raw_fd(), dst)
}

/// A procfs for the new PID namespace, with the kernel knobs read-only.
fn mount_proc() -> SysResult {
    let flags = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
    sys::mount(Some(c"proc"), c"/proc", Some(c"proc"), flags, None)?;
    let read_only = sys::MOUNT_ATTR_RDONLY
        | sys::MOUNT_ATTR_NOSUID
        | sys::MOUNT_ATTR_NODEV
        | sys::MOUNT_ATTR_NOEXEC;
    for p in PROC_READ_ONLY {
        match bind(p, p, read_only) {
            Ok(()) | Err(libc::ENOENT) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A minimal `/dev`: null, zero, full, random, urandom, the fd links, and a per-run
/// `/dev/shm`; then `/dev` itself goes read-only.
fn build_dev(plan: &Plan) -> SysResult {
    let opts = c"size=64k,nr_inodes=64,mode=0755";
    sys::mount(
        Some(c"tmpfs"),
        c"/dev",
        Some(c"tmpfs"),
        libc::MS_NOSUID | libc::MS_NOEXEC,
        Some(opts),
    )?;
    for (src, dst) in [
        (c"/.oldroot/dev/null", c"/dev/null"),
        (c"/.oldroot/dev/zero", c"/dev/zero"),
        (c"/.oldroot/dev/full", c"/dev/full"),
        (c"/.oldroot/dev/random", c"/dev/random"),
        (c"/.oldroot/dev/urandom", c"/dev/urandom"),
    ] {
        create_file(dst, b"")?;
        bind(src, dst, sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NOEXEC)?;
    }
    // gVisor's KVM platform opens /dev/kvm (runsc, not the command, sees this /dev).
    if plan.gvisor == Some(gvisor::Platform::Kvm) {
        create_file(c"/dev/kvm", b"")?;
        bind(
            c"/.oldroot/dev/kvm",
            c"/dev/kvm",
            sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NOEXEC,
        )?;
    }
    for (target, link) in [
        (c"/proc/self/fd", c"/dev/fd"),
        (c"/proc/self/fd/0", c"/dev/stdin"),
        (c"/proc/self/fd/1", c"/dev/stdout"),
        (c"/proc/self/fd/2", c"/dev/stderr"),
    ] {
        sys::symlink(target, link)?;
    }
    sys::mkdir(c"/dev/shm", 0o1777)?;
    let tmpfs = libc::MS_NOSUID | libc::MS_NODEV;
    sys::mount(
        Some(c"tmpfs"),
        c"/dev/shm",
        Some(c"tmpfs"),
        tmpfs,
        Some(&plan.tmp_opts),
    )?;
    let read_only =
        libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NOEXEC;
    sys::mount(None, c"/dev", None, read_only, None)
}

/// Covers the `/proc` entries Docker masks: files with `/dev/null`, directories
/// with an empty read-only tmpfs.
fn mask_proc(plan: &Plan) -> SysResult {
    for &(path, is_dir) in plan.proc_masks {
        if is_dir {
            let flags = libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
            let opts = c"size=4k,nr_inodes=1,mode=0555";
            sys::mount(Some(c"tmpfs"), path, Some(c"tmpfs"), flags, Some(opts))?;
        } else {
            sys::mount(Some(c"/dev/null"), path, None, libc::MS_BIND, None)?;
        }
    }
    Ok(())
}

/// runsc's state folder: a small tmpfs of its own (the root is about to go
/// read-only, and `/tmp` is the command's).
fn mount_gvisor_state() -> SysResult {
    let flags = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
    sys::mount(
        Some(c"tmpfs"),
        gvisor::STATE,
        Some(c"tmpfs"),
        flags,
        Some(gvisor::STATE_OPTS),
    )
}

fn mount_tmp(plan: &Plan) -> SysResult {
    let flags = libc::MS_NOSUID | libc::MS_NODEV;
    sys::mount(
        Some(c"tmpfs"),
        c"/tmp",
        Some(c"tmpfs"),
        flags,
        Some(&plan.tmp_opts),
    )
}

/// Overlays: upper and work dirs on a size-capped tmpfs that only this mount
/// namespace ever sees. The staging tmpfs mounts sit on a scratch tmpfs over the old
/// root's `/dev` (never the host's: this is our mount namespace), so detaching the
/// old root takes them away without an umount each; the overlay keeps its own
/// reference to its upper layer. The item of a failure is the overlay's index.
fn mount_overlays(plan: &Plan) -> Result<(), Fault> {
    if plan.overlays.is_empty() {
        return Ok(());
    }
    let scratch = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
    let opts = c"size=64k,nr_inodes=256,mode=0700";
    sys::mount(
        Some(c"tmpfs"),
        c"/.oldroot/dev",
        Some(c"tmpfs"),
        scratch,
        Some(opts),
    )?;
    let flags = libc::MS_NOSUID | libc::MS_NODEV;
    for (i, o) in plan.overlays.iter().enumerate() {
        (|| {
            sys::mkdir(&o.staging, 0o700)?;
            sys::mount(
                Some(c"tmpfs"),
                &o.staging,
                Some(c"tmpfs"),
                flags,
                Some(&o.tmpfs_opts),
            )?;
            sys::mkdir(&o.upper, 0o755)?;
            sys::mkdir(&o.work, 0o755)?;
            for l in &o.lowers {
                if let Source::Tree(tree) = &l.src {
                    sys::mkdir(&l.staged, 0o755)?;
                    attach(tree.as_raw_fd(), &l.staged)?;
                }
            }
            sys::mount(
                Some(c"overlay"),
                &o.dst,
                Some(c"overlay"),
                flags,
                Some(&o.opts),
            )
        })()
        .item(i)?;
    }
    Ok(())
}

/// The detach helper's outcome: 0 while pending, 1 done, `-errno` on failure. Shared
/// between init and the helper through CLONE_VM; each jail's init has its own copy
/// (it is a fork-like clone of the supervisor).
static DETACH: AtomicI32 = AtomicI32::new(0);

/// The detach helper's stack: static, because init keeps running (and reusing its
/// own stack) while the helper runs. A few frames of two raw syscalls.
const HELPER_STACK: usize = 16 * 1024;
#[repr(C, align(16))]
struct HelperStack(UnsafeCell<[u8; HELPER_STACK]>);
// SAFETY: the buffer is only ever the stack of the one detach helper of a jail's
// init (a process of its own with a private copy of this static); no Rust code
// reads or writes it.
unsafe impl Sync for HelperStack {}
static DETACH_STACK: HelperStack = HelperStack(UnsafeCell::new([0; HELPER_STACK]));

extern "C" fn detach_helper(_: *mut libc::c_void) -> c_int {
    // Its own copy of init's descriptors (no CLONE_FILES): it holds no pipe end.
    sys::raw_close_from(0);
    let rc = sys::raw_umount2(c"/.oldroot", libc::MNT_DETACH);
    DETACH.store(if rc == 0 { 1 } else { rc as i32 }, Ordering::Release);
    sys::exit(0)
}

/// Nothing of the host is reachable once this returns Ok. umount2 unhooks the old
/// root at once, but then sleeps through an expedited RCU grace period before
/// freeing it (0.2-0.5 ms idle, milliseconds under load). A helper sharing our
/// memory makes the call and sleeps through that instead, while we go on as soon as
/// `/.oldroot` can be removed: rmdir refuses a mount point (EBUSY), so its success
/// proves that nothing is mounted there any more.
fn detach_old_root() -> SysResult {
    DETACH.store(0, Ordering::Relaxed);
    // SAFETY: glibc's clone wrapper runs no fork handlers; the helper runs only
    // `detach_helper` (raw syscalls that leave errno alone, an atomic store, _exit)
    // on its static stack, which nothing else uses.
    let pid = unsafe {
        libc::clone(
            detach_helper,
            DETACH_STACK.0.get().cast::<u8>().add(HELPER_STACK).cast(),
            libc::CLONE_VM | libc::SIGCHLD,
            std::ptr::null_mut(),
        )
    };
    let pid = sys::cvt_i(pid)?;
    loop {
        let removed = sys::rmdir(c"/.oldroot");
        let state = DETACH.load(Ordering::Acquire);
        match removed {
            Ok(()) => return Ok(()),
            Err(_) if state < 0 => return Err(-state),
            Err(libc::EBUSY) if state == 1 => {
                // Detached, yet still a mount point: something else is mounted there.
                return sys::rmdir(c"/.oldroot").map_err(|_| libc::EBUSY);
            }
            Err(libc::EBUSY) => {}
            Err(e) => return Err(e),
        }
        // A helper that died before saying anything (killed) would leave us spinning.
        let flags = libc::WNOHANG | libc::__WALL;
        if sys::waitpid(pid, flags).is_ok_and(|(p, _)| p == pid)
            && DETACH.load(Ordering::Acquire) == 0
        {
            return Err(libc::ECHILD);
        }
        sys::sched_yield();
    }
}

fn remount_root_read_only() -> SysResult {
    let flags =
        libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV;
    sys::mount(None, c"/", None, flags, None)
}

/// Enter the run's cgroup. On v1 the supervisor sends each hierarchy's `tasks` file,
/// which it opened (the kernel checks the opener's credentials); a thread moving
/// itself there by writing `0` skips the global lock whose RCU grace period a
/// supervisor-side `cgroup.procs` write waits for. On v2 we were born inside it
/// (CLONE_INTO_CGROUP) and nothing comes. EOF: the supervisor is gone.
fn attach_cgroup(fds: Fds) -> SysResult {
    let tasks = fds.supervisor_in().wait_for_cgroup();
    sys::close(fds.sync);
    for fd in tasks?.fds() {
        sys::write_all(fd, b"0")?;
    }
    Ok(())
}

/// Stack of the payload between its clone and its execve: a few frames of raw
/// syscalls (the deepest is building the Landlock ruleset), 16-byte aligned.
const PAYLOAD_STACK: usize = 64 * 1024;
#[repr(C, align(16))]
struct PayloadStack([u8; PAYLOAD_STACK]);

extern "C" fn payload_entry(arg: *mut libc::c_void) -> c_int {
    // SAFETY: `arg` points at the `(plan, fds)` pair in `spawn_payload`'s frame,
    // which stays alive and untouched while init is suspended (CLONE_VFORK).
    let (plan, fds) = unsafe { *(arg as *const (&Plan, Fds)) };
    match payload_steps(plan, fds) {
        Ok(never) => match never {},
        Err(failure) => {
            fds.supervisor_out().failed(failure);
            sys::exit(127)
        }
    }
}

/// Starts the payload (PID 3; 2 was the detach helper), vfork-style: it shares our
/// memory until its execve (no page tables copied, none torn down at exec) while we
/// stay suspended; it runs on a stack carved out of ours. Credentials, rlimits,
/// descriptors, cwd, seccomp and Landlock are per process (no
/// CLONE_THREAD/FILES/FS), so its hardening never touches init. Once it has exec'd,
/// init drops its own copies of the output pipes and the results channel.
fn spawn_payload(plan: &Plan, fds: Fds) -> SysResult<libc::pid_t> {
    let mut stack = PayloadStack([0u8; PAYLOAD_STACK]);
    let arg = (plan, fds);
    // SAFETY: glibc's clone wrapper runs no fork handlers; the child runs only
    // `payload_entry` on `stack`, which outlives it (CLONE_VFORK: we resume after its
    // exec or exit), and reads `arg`, which lives in this frame.
    let pid = unsafe {
        libc::clone(
            payload_entry,
            stack.0.as_mut_ptr().add(PAYLOAD_STACK).cast(),
            libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
            (&arg as *const (&Plan, Fds)).cast_mut().cast(),
        )
    };
    let pid = sys::cvt_i(pid)?;
    for fd in [fds.out, fds.err, fds.results, fds.job] {
        if fd >= 0 {
            sys::close(fd);
        }
    }
    Ok(pid)
}

/// Reaps children until the payload ends; its wait status (0 if it vanished).
fn reap_payload(payload: libc::pid_t) -> c_int {
    loop {
        match sys::waitpid(-1, 0) {
            Ok((pid, status)) if pid == payload => return status,
            Ok(_) => {}
            Err(_) => return 0,
        }
    }
}

/// Anything the payload left behind (double-forked daemons) dies now, so no one can
/// change the files about to be read.
fn kill_leftovers() {
    let _ = sys::kill(-1, libc::SIGKILL);
    while sys::waitpid(-1, 0).is_ok() {}
}

/// Reads out the files the caller asked for: no symlinks, regular files only,
/// size-capped.
fn collect_files(plan: &Plan, to: ToSupervisor) {
    for (i, (path, max)) in plan.collect.iter().enumerate() {
        let ok = collect_one(to, i as u32, path, *max).is_ok();
        to.collect_end(i as u32, ok);
    }
}

fn collect_one(to: ToSupervisor, index: u32, path: &CStr, max: u64) -> SysResult {
    let flags = libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY;
    let resolve = sys::RESOLVE_IN_ROOT | sys::RESOLVE_NO_SYMLINKS | sys::RESOLVE_NO_MAGICLINKS;
    let fd = sys::openat2(libc::AT_FDCWD, path, flags, resolve)?;
    let (kind, size) = sys::fstat_type_and_size(fd.as_raw_fd())?;
    if kind != libc::S_IFREG || size > max {
        return Err(libc::EFBIG);
    }
    let mut buf = [0u8; 16 * 1024];
    let mut total: u64 = 0;
    loop {
        let n = sys::read(fd.as_raw_fd(), &mut buf)?;
        if n == 0 {
            return Ok(());
        }
        total += n as u64;
        if total > max {
            return Err(libc::EFBIG);
        }
        to.chunk(index, &buf[..n])?;
    }
}

fn create_file(path: &CStr, content: &[u8]) -> SysResult {
    let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW;
    let fd = sys::open(path, flags, 0o644)?;
    sys::write_all(fd.as_raw_fd(), content)
}

// ---------------------------------------------------------------------------------
// The payload's steps.

/// stdin is /dev/null; stdout/stderr are the supervisor's pipes; fd 3 the results
/// channel when it is on; nothing else. (The supervisor numbers every descriptor it
/// hands over above 9, so none of these dup2s overwrites another.) The message pipe
/// is close-on-exec: it reports an exec failure, then vanishes.
fn stdio(fds: Fds, gvisor: bool) -> SysResult {
    // Not closed here: with the host process's stdio closed it may have become 0-2,
    // and the dup2s below put the right pipes there; from 3 up it is closed below.
    let null = std::os::fd::IntoRawFd::into_raw_fd(sys::open(c"/dev/null", libc::O_RDONLY, 0)?);
    sys::dup2(null, 0)?;
    sys::dup2(fds.out, 1)?;
    sys::dup2(fds.err, 2)?;
    if gvisor {
        // runsc passes its stdio, and nothing else, to the command: the results
        // channel goes in as stdin (gvisor.rs).
        if fds.results >= 0 {
            sys::dup2(fds.results, 0)?;
        }
        close_all_but(3, &[fds.msg]);
        return Ok(());
    }
    let mut first_closed = if fds.results >= 0 {
        sys::dup2(fds.results, RESULTS_FD)?;
        RESULTS_FD + 1
    } else {
        3
    };
    if fds.job >= 0 {
        if first_closed == RESULTS_FD {
            sys::close_range(RESULTS_FD as c_uint, RESULTS_FD as c_uint);
        }
        sys::dup2(fds.job, JOB_FD)?;
        first_closed = JOB_FD + 1;
    }
    close_all_but(first_closed as c_uint, &[fds.msg]);
    Ok(())
}

fn workdir(plan: &Plan) -> SysResult {
    sys::chdir(&plan.workdir)?;
    sys::umask(0o022);
    Ok(())
}

fn rlimits(plan: &Plan) -> SysResult {
    for &(resource, soft, hard) in &plan.rlimits {
        sys::setrlimit(resource, soft, hard)?;
    }
    // A warm jail's preamble yields to running jobs until its own job arrives (raising
    // one's own niceness needs no privilege; the supervisor lowers it again).
    if plan.nice > 0 {
        sys::set_nice(plan.nice)?;
    }
    Ok(())
}

/// runsc runs as uid/gid 0 of the jail's user namespace (mapped to an unprivileged
/// host id): as any other uid it would take itself for an unprivileged caller and
/// ask for a user namespace it cannot map. Going from 1000 to 0 keeps the
/// capabilities init had in this namespace.
fn runsc_ids() -> SysResult {
    sys::setresgid(0, 0, 0)?;
    sys::setresuid(0, 0, 0)?;
    sys::set_parent_death_signal(libc::SIGKILL)
}

/// The bounding set first (that needs CAP_SETPCAP, which we still hold), then the
/// ambient set, then effective, permitted and inheritable.
fn drop_capabilities() -> SysResult {
    let mut cap = 0;
    loop {
        match sys::drop_bounding_cap(cap) {
            Ok(()) => cap += 1,
            Err(libc::EINVAL) => break,
            Err(e) => return Err(e),
        }
    }
    sys::clear_ambient_caps()?;
    sys::clear_caps()
}

/// Tries each PATH candidate; the errno that says most (not ENOENT) if none runs.
fn exec(plan: &Plan) -> i32 {
    let mut err = libc::ENOENT;
    for candidate in &plan.exec_candidates {
        let e = sys::execve(candidate, &plan.argv, &plan.envp);
        if e != libc::ENOENT && e != libc::ENOTDIR {
            err = e;
        }
    }
    err
}
