//! The child side: what runs after `clone`, as the jail's init (PID 1 of the new PID
//! namespace) and then as the payload it forks. One linear sequence of named steps
//! (youki / Firecracker jailer style). Everything here is async-signal-safe: raw
//! syscalls over data the parent prepared in a [`Plan`]; no allocation, no locks, no
//! panics. A failing step writes `(step, errno)` to the message pipe and `_exit`s.

use std::cell::UnsafeCell;
use std::ffi::CStr;
use std::sync::atomic::{AtomicI32, Ordering};

use libc::{c_int, c_uint};

use crate::plan::{Plan, JAIL_GID, JAIL_UID, RESULTS_FD};
use crate::seccomp;
use crate::{landlock, sys};

/// Every set-up step, in the order the jail takes them. The discriminant travels
/// through the message pipe; [`Step::name`] is what errors show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Step {
    WaitForSupervisor = 1,
    CgroupAttach,
    CgroupNamespace,
    SetIds,
    HideFromPtrace,
    CloseInheritedFds,
    MakeMountsPrivate,
    MountRootTmpfs,
    PivotRoot,
    BuildSkeleton,
    BindPaths,
    MountProc,
    BuildDev,
    MountTmp,
    MountOverlay,
    DetachOldRoot,
    RemountRootReadOnly,
    SetHostname,
    LoopbackUp,
    SpawnPayload,
    // payload
    NewSession,
    DieWithInit,
    Stdio,
    Workdir,
    Rlimits,
    DropCapabilities,
    NoNewPrivs,
    Landlock,
    Seccomp,
    Exec,
}

impl Step {
    pub fn name(self) -> &'static str {
        match self {
            Step::WaitForSupervisor => "wait-for-supervisor",
            Step::CgroupAttach => "cgroup-attach",
            Step::CgroupNamespace => "cgroup-namespace",
            Step::SetIds => "set-ids",
            Step::HideFromPtrace => "hide-from-ptrace",
            Step::CloseInheritedFds => "close-inherited-fds",
            Step::MakeMountsPrivate => "make-mounts-private",
            Step::MountRootTmpfs => "mount-root-tmpfs",
            Step::PivotRoot => "pivot-root",
            Step::BuildSkeleton => "build-skeleton",
            Step::BindPaths => "bind-paths",
            Step::MountProc => "mount-proc",
            Step::BuildDev => "build-dev",
            Step::MountTmp => "mount-tmp",
            Step::MountOverlay => "mount-overlay",
            Step::DetachOldRoot => "detach-old-root",
            Step::RemountRootReadOnly => "remount-root-read-only",
            Step::SetHostname => "set-hostname",
            Step::LoopbackUp => "loopback-up",
            Step::SpawnPayload => "spawn-payload",
            Step::NewSession => "new-session",
            Step::DieWithInit => "die-with-init",
            Step::Stdio => "stdio",
            Step::Workdir => "workdir",
            Step::Rlimits => "rlimits",
            Step::DropCapabilities => "drop-capabilities",
            Step::NoNewPrivs => "no-new-privs",
            Step::Landlock => "landlock",
            Step::Seccomp => "seccomp",
            Step::Exec => "exec",
        }
    }

    pub fn from_u32(v: u32) -> Option<Step> {
        const ALL: [Step; 30] = [
            Step::WaitForSupervisor,
            Step::CgroupAttach,
            Step::CgroupNamespace,
            Step::SetIds,
            Step::HideFromPtrace,
            Step::CloseInheritedFds,
            Step::MakeMountsPrivate,
            Step::MountRootTmpfs,
            Step::PivotRoot,
            Step::BuildSkeleton,
            Step::BindPaths,
            Step::MountProc,
            Step::BuildDev,
            Step::MountTmp,
            Step::MountOverlay,
            Step::DetachOldRoot,
            Step::RemountRootReadOnly,
            Step::SetHostname,
            Step::LoopbackUp,
            Step::SpawnPayload,
            Step::NewSession,
            Step::DieWithInit,
            Step::Stdio,
            Step::Workdir,
            Step::Rlimits,
            Step::DropCapabilities,
            Step::NoNewPrivs,
            Step::Landlock,
            Step::Seccomp,
            Step::Exec,
        ];
        ALL.iter().copied().find(|s| *s as u32 == v)
    }
}

/// Message tags on the jail → supervisor pipe (little-endian framing).
pub const MSG_FAIL: u8 = 1; // step u32, errno i32
pub const MSG_EXIT: u8 = 2; // wait status i32
pub const MSG_CHUNK: u8 = 3; // index u32, len u32, bytes
pub const MSG_COLLECT_END: u8 = 4; // index u32, ok u8

/// The descriptors the jail inherits, all opened by the parent before clone.
#[derive(Clone, Copy)]
pub struct Fds {
    /// Our end of a socket pair: `g` when the uid/gid maps are written, then `c` with
    /// the run cgroup's `tasks` files attached (v1; none on v2).
    pub sync_r: c_int,
    pub msg_w: c_int,
    pub out_w: c_int,
    pub err_w: c_int,
    /// The results channel's write end, or -1 when it is off.
    pub res_w: c_int,
}

type Res = Result<(), (Step, i32)>;

fn at(step: Step) -> impl Fn(i32) -> (Step, i32) {
    move |e| (step, e)
}

fn ck(step: Step, rc: c_int) -> Res {
    sys::cvt_i(rc).map(drop).map_err(at(step))
}

fn fail(msg_w: c_int, (step, errno): (Step, i32)) -> ! {
    let mut buf = [0u8; 9];
    buf[0] = MSG_FAIL;
    buf[1..5].copy_from_slice(&(step as u32).to_le_bytes());
    buf[5..9].copy_from_slice(&errno.to_le_bytes());
    let _ = sys::write_all(msg_w, &buf);
    // SAFETY: terminating the child without running any parent-process destructors.
    unsafe { libc::_exit(127) }
}

/// Entry point of the jail's init, straight after clone. Never returns.
pub fn init(plan: &Plan, fds: Fds) -> ! {
    match init_steps(plan, fds) {
        Ok(never) => match never {},
        Err(e) => fail(fds.msg_w, e),
    }
}

enum Never {}

fn init_steps(plan: &Plan, fds: Fds) -> Result<Never, (Step, i32)> {
    // SAFETY (whole function): raw syscalls on NUL-terminated strings and plain
    // integers prepared by the parent; this process is single-threaded.

    // 1. Die with the supervisor thread, then wait until it has written our uid/gid
    //    maps. EOF means it is gone. (Meanwhile it creates the run's cgroup, which
    //    we join in step 15: its work overlaps with our mounts.)
    // SAFETY: a raw syscall on plain integers and parent-prepared, NUL-terminated data.
    ck(Step::WaitForSupervisor, unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0)
    })?;
    let mut go = [0u8; 1];
    // SAFETY: a raw syscall on plain integers and parent-prepared, NUL-terminated data.
    let n = unsafe { libc::read(fds.sync_r, go.as_mut_ptr().cast(), 1) };
    if n != 1 || go[0] != b'g' {
        return Err((Step::WaitForSupervisor, libc::EPIPE));
    }

    // 2. Become the jail user (uid/gid 1000 inside) with no supplementary groups.
    //    We keep our capabilities in the new user namespace for the mounts below.
    //    Raw syscalls: glibc's setgroups/setres[ug]id broadcast to every thread glibc
    //    believes exists (the supervisor's), which deadlocks in a cloned child.
    // SAFETY: a raw syscall on plain integers and parent-prepared, NUL-terminated data.
    if unsafe { libc::geteuid() } != JAIL_UID {
        // SAFETY: a raw syscall on plain integers and parent-prepared, NUL-terminated data.
        ck(Step::SetIds, unsafe {
            libc::syscall(libc::SYS_setgroups, 0usize, std::ptr::null::<libc::gid_t>()) as c_int
        })?;
        // SAFETY: a raw syscall on plain integers and parent-prepared, NUL-terminated data.
        ck(Step::SetIds, unsafe {
            libc::syscall(libc::SYS_setresgid, JAIL_GID, JAIL_GID, JAIL_GID) as c_int
        })?;
        // SAFETY: a raw syscall on plain integers and parent-prepared, NUL-terminated data.
        ck(Step::SetIds, unsafe {
            libc::syscall(libc::SYS_setresuid, JAIL_UID, JAIL_UID, JAIL_UID) as c_int
        })?;
    }

    // A credential change clears the parent-death signal: set it again. A supervisor
    // that died in between is caught by the next message (step 15: EOF).
    // SAFETY: a raw syscall on plain integers and parent-prepared, NUL-terminated data.
    ck(Step::SetIds, unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0)
    })?;

    // 3. Init holds a copy of the supervisor's memory: make it undumpable so the
    //    payload (same uid) cannot open /proc/1/mem or /proc/1/fd.
    // SAFETY: a raw syscall on plain integers and parent-prepared, NUL-terminated data.
    ck(Step::HideFromPtrace, unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0)
    })?;

    // 4. Close every descriptor inherited from the supervisor's process except ours.
    close_all_but(3, &[fds.msg_w, fds.out_w, fds.err_w, fds.sync_r, fds.res_w]);

    // 5. Our mount namespace stops propagating to and from the host.
    // SAFETY: a raw syscall on plain integers and parent-prepared, NUL-terminated data.
    ck(Step::MakeMountsPrivate, unsafe {
        libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        )
    })?;

    // 6. The new root: a small tmpfs, pivoted into; the host root stays at /.oldroot
    //    until every bind is made.
    // SAFETY: a raw syscall on plain integers and parent-prepared, NUL-terminated data.
    ck(Step::MountRootTmpfs, unsafe {
        libc::mount(
            c"tmpfs".as_ptr(),
            plan.staging.as_ptr(),
            c"tmpfs".as_ptr(),
            libc::MS_NOSUID | libc::MS_NODEV,
            plan.root_opts.as_ptr().cast(),
        )
    })?;
    // SAFETY: a raw syscall on plain integers and parent-prepared, NUL-terminated data.
    ck(Step::PivotRoot, unsafe {
        libc::chdir(plan.staging.as_ptr())
    })?;
    // SAFETY: a raw syscall on plain integers and parent-prepared, NUL-terminated data.
    ck(Step::PivotRoot, unsafe {
        libc::mkdir(c".oldroot".as_ptr(), 0o700)
    })?;
    // SAFETY: a raw syscall on plain integers and parent-prepared, NUL-terminated data.
    ck(Step::PivotRoot, unsafe {
        libc::syscall(libc::SYS_pivot_root, c".".as_ptr(), c".oldroot".as_ptr()) as c_int
    })?;
    // SAFETY: a raw syscall on plain integers and parent-prepared, NUL-terminated data.
    ck(Step::PivotRoot, unsafe { libc::chdir(c"/".as_ptr()) })?;

    // 7. Skeleton: directories, mount-point files, symlinks, the minimal /etc.
    for d in &plan.dirs {
        // SAFETY: a raw syscall on plain integers and parent-prepared, NUL-terminated data.
        let rc = unsafe { libc::mkdir(d.as_ptr(), 0o755) };
        if rc < 0 && sys::errno() != libc::EEXIST {
            return Err((Step::BuildSkeleton, sys::errno()));
        }
    }
    for f in &plan.mount_files {
        create_file(f, b"").map_err(at(Step::BuildSkeleton))?;
    }
    for (target, link) in &plan.symlinks {
        // SAFETY: a raw syscall on plain integers and parent-prepared, NUL-terminated data.
        ck(Step::BuildSkeleton, unsafe {
            libc::symlink(target.as_ptr(), link.as_ptr())
        })?;
    }
    for (path, content) in &plan.files {
        create_file(path, content).map_err(at(Step::BuildSkeleton))?;
    }

    // 8. Bind mounts (system dirs read-only, then the caller's). Each source is
    //    opened with RESOLVE_NO_SYMLINKS so a symlink swapped into a host path is
    //    never followed, then cloned and attached with the new mount API.
    for b in &plan.binds {
        let flags = if b.writable {
            sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NODEV
        } else {
            sys::MOUNT_ATTR_RDONLY | sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NODEV
        };
        bind(&b.src, &b.dst, flags).map_err(at(Step::BindPaths))?;
    }

    // 9. A new /proc for the new PID namespace, with the kernel knobs read-only.
    // SAFETY: a raw syscall on plain integers and parent-prepared, NUL-terminated data.
    ck(Step::MountProc, unsafe {
        libc::mount(
            c"proc".as_ptr(),
            c"/proc".as_ptr(),
            c"proc".as_ptr(),
            libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
            std::ptr::null(),
        )
    })?;
    for p in [
        c"/proc/sys",
        c"/proc/sysrq-trigger",
        c"/proc/irq",
        c"/proc/bus",
    ] {
        match bind(
            p,
            p,
            sys::MOUNT_ATTR_RDONLY
                | sys::MOUNT_ATTR_NOSUID
                | sys::MOUNT_ATTR_NODEV
                | sys::MOUNT_ATTR_NOEXEC,
        ) {
            Err(libc::ENOENT) | Ok(()) => {}
            Err(e) => return Err((Step::MountProc, e)),
        }
    }

    // 10. A minimal /dev: null, zero, full, random, urandom, the fd links, and a
    //     per-run /dev/shm; then /dev itself goes read-only.
    build_dev(plan).map_err(at(Step::BuildDev))?;

    // 11. The per-run /tmp.
    // SAFETY: a raw syscall on plain integers and parent-prepared, NUL-terminated data.
    ck(Step::MountTmp, unsafe {
        libc::mount(
            c"tmpfs".as_ptr(),
            c"/tmp".as_ptr(),
            c"tmpfs".as_ptr(),
            libc::MS_NOSUID | libc::MS_NODEV,
            plan.tmp_opts.as_ptr().cast(),
        )
    })?;

    // 12. Overlays: upper and work dirs on a size-capped tmpfs that only this mount
    //     namespace ever sees. The staging tmpfs mounts sit on a scratch tmpfs over
    //     the old root's /dev (never the host's: this is our mount namespace), so
    //     detaching the old root takes them away without an umount each; the
    //     overlay keeps its own private reference to its upper layer.
    if !plan.overlays.is_empty() {
        // SAFETY: a raw syscall on plain integers and parent-prepared, NUL-terminated data.
        ck(Step::MountOverlay, unsafe {
            libc::mount(
                c"tmpfs".as_ptr(),
                c"/.oldroot/dev".as_ptr(),
                c"tmpfs".as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                c"size=64k,nr_inodes=256,mode=0700".as_ptr().cast(),
            )
        })?;
    }
    for o in &plan.overlays {
        // SAFETY: a raw syscall on plain integers and parent-prepared, NUL-terminated data.
        ck(Step::MountOverlay, unsafe {
            libc::mkdir(o.staging.as_ptr(), 0o700)
        })?;
        // SAFETY: a raw syscall on plain integers and parent-prepared, NUL-terminated data.
        ck(Step::MountOverlay, unsafe {
            libc::mount(
                c"tmpfs".as_ptr(),
                o.staging.as_ptr(),
                c"tmpfs".as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV,
                o.tmpfs_opts.as_ptr().cast(),
            )
        })?;
        // SAFETY: a raw syscall on plain integers and parent-prepared, NUL-terminated data.
        ck(Step::MountOverlay, unsafe {
            libc::mkdir(o.upper.as_ptr(), 0o755)
        })?;
        // SAFETY: a raw syscall on plain integers and parent-prepared, NUL-terminated data.
        ck(Step::MountOverlay, unsafe {
            libc::mkdir(o.work.as_ptr(), 0o755)
        })?;
        // SAFETY: a raw syscall on plain integers and parent-prepared, NUL-terminated data.
        ck(Step::MountOverlay, unsafe {
            libc::mount(
                c"overlay".as_ptr(),
                o.dst.as_ptr(),
                c"overlay".as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV,
                o.opts.as_ptr().cast(),
            )
        })?;
    }

    // 13. Nothing of the host is reachable any more. umount2 unhooks the old root at
    //     once, but then sleeps through an expedited RCU grace period before freeing
    //     it (0.2-0.5 ms idle, milliseconds under load). A helper sharing our memory
    //     makes the call and sleeps through that instead, while we go on as soon as
    //     `/.oldroot` can be removed: rmdir refuses a mount point (EBUSY), so its
    //     success proves that nothing is mounted there any more.
    detach_old_root().map_err(at(Step::DetachOldRoot))?;
    // SAFETY: a raw syscall on plain integers and parent-prepared, NUL-terminated data.
    ck(Step::RemountRootReadOnly, unsafe {
        libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV,
            std::ptr::null(),
        )
    })?;

    // 14. Hostname and network.
    let host = b"gauntlet";
    // SAFETY: a raw syscall on plain integers and parent-prepared, NUL-terminated data.
    ck(Step::SetHostname, unsafe {
        libc::sethostname(host.as_ptr().cast(), host.len())
    })?;
    if !plan.join_net {
        sys::loopback_up().map_err(at(Step::LoopbackUp))?;
    }

    // 15. Enter the run's cgroup, then make it our cgroup namespace's root. On v1 the
    //     supervisor sends each hierarchy's `tasks` file, which it opened (the kernel
    //     checks the opener's credentials); a thread moving itself there by writing
    //     `0` skips the global lock whose RCU grace period a supervisor-side
    //     `cgroup.procs` write waits for. On v2 we were born inside it
    //     (CLONE_INTO_CGROUP) and nothing comes. EOF: the supervisor is gone.
    let (tag, tasks) = sys::recv_fds(fds.sync_r).map_err(at(Step::CgroupAttach))?;
    // SAFETY: a raw syscall on plain integers and parent-prepared, NUL-terminated data.
    unsafe { libc::close(fds.sync_r) };
    let mut attached = if tag == b'c' {
        Ok(())
    } else {
        Err(libc::EPROTO)
    };
    for fd in tasks {
        if fd >= 0 {
            if attached.is_ok() {
                attached = sys::write_all(fd, b"0");
            }
            // SAFETY: closing a descriptor the supervisor sent us.
            unsafe { libc::close(fd) };
        }
    }
    attached.map_err(at(Step::CgroupAttach))?;
    // SAFETY: a raw syscall on plain integers and parent-prepared, NUL-terminated data.
    ck(Step::CgroupNamespace, unsafe {
        libc::unshare(libc::CLONE_NEWCGROUP)
    })?;

    // 16. Start the payload (PID 3; 2 was the detach helper) and reap until it ends.
    //     vfork-style: the payload shares our memory until its execve (no page tables
    //     copied, none torn down at exec) while we stay suspended; it runs on a stack
    //     carved out of ours.
    //     Credentials, rlimits, fds, cwd, seccomp and Landlock are per process (no
    //     CLONE_THREAD/FILES/FS), so its hardening never touches init.
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
    if pid < 0 {
        return Err((Step::SpawnPayload, sys::errno()));
    }
    // SAFETY: a raw syscall on plain integers and parent-prepared, NUL-terminated data.
    unsafe {
        libc::close(fds.out_w);
        libc::close(fds.err_w);
        if fds.res_w >= 0 {
            libc::close(fds.res_w);
        }
    }
    let pid = pid as libc::pid_t;
    let status = loop {
        let mut status = 0;
        // SAFETY: a raw syscall on plain integers and parent-prepared, NUL-terminated data.
        let r = unsafe { libc::waitpid(-1, &mut status, 0) };
        if r == pid {
            break status;
        }
        if r < 0 && sys::errno() != libc::EINTR {
            break 0;
        }
    };
    let mut msg = [0u8; 5];
    msg[0] = MSG_EXIT;
    msg[1..5].copy_from_slice(&status.to_le_bytes());
    let _ = sys::write_all(fds.msg_w, &msg);

    // 17. Anything the payload left behind (double-forked daemons) dies now, so no
    //     one can change the files we are about to read.
    // SAFETY: a raw syscall on plain integers and parent-prepared, NUL-terminated data.
    unsafe { libc::kill(-1, libc::SIGKILL) };
    loop {
        // SAFETY: a raw syscall on plain integers and parent-prepared, NUL-terminated data.
        let r = unsafe { libc::waitpid(-1, std::ptr::null_mut(), 0) };
        if r < 0 && sys::errno() != libc::EINTR {
            break;
        }
    }

    // 18. Read out the files the caller asked for: no symlinks, regular files only,
    //     size-capped.
    for (i, (path, max)) in plan.collect.iter().enumerate() {
        let ok = collect(fds.msg_w, i as u32, path, *max);
        let mut end = [0u8; 6];
        end[0] = MSG_COLLECT_END;
        end[1..5].copy_from_slice(&(i as u32).to_le_bytes());
        end[5] = ok as u8;
        let _ = sys::write_all(fds.msg_w, &end);
    }
    // SAFETY: a raw syscall on plain integers and parent-prepared, NUL-terminated data.
    unsafe { libc::_exit(0) }
}

/// Closes every descriptor from `first` up, except those in `keep` (-1 entries are
/// ignored).
fn close_all_but(first: c_uint, keep: &[c_int]) {
    let mut sorted = [-1 as c_int; 8];
    sorted[..keep.len()].copy_from_slice(keep);
    let sorted = &mut sorted[..keep.len()];
    sorted.sort_unstable();
    let mut next: c_uint = first;
    for &fd in sorted.iter().filter(|fd| **fd >= 0) {
        let fd = fd as c_uint;
        if fd >= next {
            if fd > next {
                sys::close_range(next, fd - 1);
            }
            next = fd + 1;
        }
    }
    sys::close_range(next, c_uint::MAX);
}

fn create_file(path: &CStr, content: &[u8]) -> Result<(), i32> {
    // SAFETY: open/write/close of a NUL-terminated path in our own tmpfs.
    let fd = unsafe {
        libc::open(
            path.as_ptr(),
            libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC | libc::O_NOFOLLOW,
            0o644,
        )
    };
    let fd = sys::cvt_i(fd)?;
    let r = sys::write_all(fd, content);
    // SAFETY: closing the descriptor opened above.
    unsafe { libc::close(fd) };
    r
}

fn bind(src: &CStr, dst: &CStr, attrs: u64) -> Result<(), i32> {
    let fd = sys::openat2(
        libc::AT_FDCWD,
        src,
        (libc::O_PATH | libc::O_CLOEXEC) as u64,
        sys::RESOLVE_NO_SYMLINKS | sys::RESOLVE_NO_MAGICLINKS,
    )?;
    let tree = sys::open_tree(
        fd,
        c"",
        sys::OPEN_TREE_CLONE | libc::O_CLOEXEC as c_uint | libc::AT_EMPTY_PATH as c_uint,
    );
    // SAFETY: closing the O_PATH descriptor opened above.
    unsafe { libc::close(fd) };
    let tree = tree?;
    let r = sys::mount_setattr(tree, attrs).and_then(|()| sys::move_mount_to(tree, dst));
    // SAFETY: closing the detached-tree descriptor; the mount stays attached.
    unsafe { libc::close(tree) };
    r
}

fn build_dev(plan: &Plan) -> Result<(), i32> {
    let _ = plan;
    // SAFETY: mounts and file creation on NUL-terminated literals.
    sys::cvt_i(unsafe {
        libc::mount(
            c"tmpfs".as_ptr(),
            c"/dev".as_ptr(),
            c"tmpfs".as_ptr(),
            libc::MS_NOSUID | libc::MS_NOEXEC,
            c"size=64k,nr_inodes=64,mode=0755".as_ptr().cast(),
        )
    })?;
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
    for (target, link) in [
        (c"/proc/self/fd", c"/dev/fd"),
        (c"/proc/self/fd/0", c"/dev/stdin"),
        (c"/proc/self/fd/1", c"/dev/stdout"),
        (c"/proc/self/fd/2", c"/dev/stderr"),
    ] {
        // SAFETY: symlink between NUL-terminated literals.
        sys::cvt_i(unsafe { libc::symlink(target.as_ptr(), link.as_ptr()) })?;
    }
    // SAFETY: as above.
    sys::cvt_i(unsafe { libc::mkdir(c"/dev/shm".as_ptr(), 0o1777) })?;
    // SAFETY: as above.
    sys::cvt_i(unsafe {
        libc::mount(
            c"tmpfs".as_ptr(),
            c"/dev/shm".as_ptr(),
            c"tmpfs".as_ptr(),
            libc::MS_NOSUID | libc::MS_NODEV,
            plan.tmp_opts.as_ptr().cast(),
        )
    })?;
    // SAFETY: as above.
    sys::cvt_i(unsafe {
        libc::mount(
            std::ptr::null(),
            c"/dev".as_ptr(),
            std::ptr::null(),
            libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NOEXEC,
            std::ptr::null(),
        )
    })?;
    Ok(())
}

fn collect(msg_w: c_int, index: u32, path: &CStr, max: u64) -> bool {
    let Ok(fd) = sys::openat2(
        libc::AT_FDCWD,
        path,
        (libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC | libc::O_NOCTTY)
            as u64,
        sys::RESOLVE_IN_ROOT | sys::RESOLVE_NO_SYMLINKS | sys::RESOLVE_NO_MAGICLINKS,
    ) else {
        return false;
    };
    // SAFETY: fstat into a zeroed stat; reads into a stack buffer; fd is ours.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        if libc::fstat(fd, &mut st) < 0
            || (st.st_mode & libc::S_IFMT) != libc::S_IFREG
            || st.st_size as u64 > max
        {
            libc::close(fd);
            return false;
        }
        let mut buf = [0u8; 16 * 1024];
        let mut total: u64 = 0;
        let mut ok = true;
        loop {
            let n = libc::read(fd, buf[9..].as_mut_ptr().cast(), buf.len() - 9);
            if n < 0 {
                if sys::errno() == libc::EINTR {
                    continue;
                }
                ok = false;
                break;
            }
            if n == 0 {
                break;
            }
            total += n as u64;
            if total > max {
                ok = false;
                break;
            }
            buf[0] = MSG_CHUNK;
            buf[1..5].copy_from_slice(&index.to_le_bytes());
            buf[5..9].copy_from_slice(&(n as u32).to_le_bytes());
            if sys::write_all(msg_w, &buf[..9 + n as usize]).is_err() {
                ok = false;
                break;
            }
        }
        libc::close(fd);
        ok
    }
}

/// The detach helper's outcome: 0 while pending, 1 done, `-errno` on failure. Shared
/// between init and the helper through CLONE_VM; each jail's init has its own copy
/// (it is a fork-like clone of the supervisor).
static DETACH: AtomicI32 = AtomicI32::new(0);

/// The detach helper's stack: static, because init keeps running (and reusing its
/// own stack) while the helper runs. A few frames of one syscall.
const HELPER_STACK: usize = 16 * 1024;
#[repr(C, align(16))]
struct HelperStack(UnsafeCell<[u8; HELPER_STACK]>);
// SAFETY: only ever used as the stack of one helper per jail init (a process of its
// own with a private copy of this static); nothing reads or writes it from Rust.
unsafe impl Sync for HelperStack {}
static DETACH_STACK: HelperStack = HelperStack(UnsafeCell::new([0; HELPER_STACK]));

extern "C" fn detach_helper(_: *mut libc::c_void) -> c_int {
    // Its own copy of init's descriptors (no CLONE_FILES): holds no pipe end open.
    sys::raw_close_from(0);
    let rc = sys::raw_umount2(c"/.oldroot", libc::MNT_DETACH);
    DETACH.store(if rc == 0 { 1 } else { rc as i32 }, Ordering::Release);
    // SAFETY: ends this helper process only (no CLONE_THREAD).
    unsafe { libc::_exit(0) }
}

/// Step 13: the old root is detached from our namespace when this returns Ok.
fn detach_old_root() -> Result<(), i32> {
    DETACH.store(0, Ordering::Relaxed);
    // SAFETY: glibc's clone wrapper runs no fork handlers; the helper runs only
    // `detach_helper` (one raw syscall, an atomic store, _exit) on its static stack.
    let pid = unsafe {
        libc::clone(
            detach_helper,
            DETACH_STACK.0.get().cast::<u8>().add(HELPER_STACK).cast(),
            libc::CLONE_VM | libc::SIGCHLD,
            std::ptr::null_mut(),
        )
    };
    if pid < 0 {
        return Err(sys::errno());
    }
    loop {
        // SAFETY: a raw syscall on a NUL-terminated literal.
        if unsafe { libc::rmdir(c"/.oldroot".as_ptr()) } == 0 {
            return Ok(());
        }
        let e = sys::errno();
        let state = DETACH.load(Ordering::Acquire);
        if e != libc::EBUSY || state < 0 {
            return Err(if state < 0 { -state } else { e });
        }
        if state == 1 {
            // Detached, yet still a mount point: something else is mounted there.
            // SAFETY: as above.
            if unsafe { libc::rmdir(c"/.oldroot".as_ptr()) } == 0 {
                return Ok(());
            }
            return Err(libc::EBUSY);
        }
        // A helper that died before saying anything (killed) would leave us spinning.
        // SAFETY: a non-blocking wait for our own child.
        if unsafe { libc::waitpid(pid, std::ptr::null_mut(), libc::WNOHANG | libc::__WALL) } == pid
            && DETACH.load(Ordering::Acquire) == 0
        {
            return Err(libc::ECHILD);
        }
        // SAFETY: a plain syscall; lets the helper run on a single CPU.
        unsafe { libc::sched_yield() };
    }
}

/// Stack of the payload between its clone and its execve: a few frames of raw
/// syscalls (the deepest is building the Landlock ruleset), 16-byte aligned.
const PAYLOAD_STACK: usize = 64 * 1024;
#[repr(C, align(16))]
struct PayloadStack([u8; PAYLOAD_STACK]);

extern "C" fn payload_entry(arg: *mut libc::c_void) -> c_int {
    // SAFETY: `arg` points at the `(plan, fds)` pair in init's suspended frame.
    let (plan, fds) = unsafe { *(arg as *const (&Plan, Fds)) };
    match payload(plan, fds) {
        Ok(never) => match never {},
        Err(e) => fail(fds.msg_w, e),
    }
}

/// The payload: PID 3. Hardens itself, then execs the command.
fn payload(plan: &Plan, fds: Fds) -> Result<Never, (Step, i32)> {
    // SAFETY (whole function): raw syscalls on parent-prepared data in a
    // single-threaded child.

    // No controlling terminal: a new session (TIOCSTI has nothing to inject into).
    // SAFETY: a raw syscall on plain integers and parent-prepared, NUL-terminated data.
    ck(Step::NewSession, unsafe { libc::setsid() })?;
    // SAFETY: a raw syscall on plain integers and parent-prepared, NUL-terminated data.
    ck(Step::DieWithInit, unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0)
    })?;
    // stdin is /dev/null; stdout/stderr are the supervisor's pipes; nothing else.
    // SAFETY: a raw syscall on plain integers and parent-prepared, NUL-terminated data.
    let null = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    let null = sys::cvt_i(null).map_err(at(Step::Stdio))?;
    // SAFETY: a raw syscall on plain integers and parent-prepared, NUL-terminated data.
    ck(Step::Stdio, unsafe { libc::dup2(null, 0) })?;
    // SAFETY: a raw syscall on plain integers and parent-prepared, NUL-terminated data.
    ck(Step::Stdio, unsafe { libc::dup2(fds.out_w, 1) })?;
    // SAFETY: a raw syscall on plain integers and parent-prepared, NUL-terminated data.
    ck(Step::Stdio, unsafe { libc::dup2(fds.err_w, 2) })?;
    // The results channel, when on, is fd 3 (the supervisor numbers every descriptor
    // it hands over above 9, so none of these dup2s overwrites another).
    if fds.res_w >= 0 {
        // SAFETY: a raw syscall on plain integers and parent-prepared, NUL-terminated data.
        ck(Step::Stdio, unsafe { libc::dup2(fds.res_w, RESULTS_FD) })?;
    }
    // msg_w is close-on-exec: it reports an exec failure, then vanishes.
    let first = if fds.res_w >= 0 { RESULTS_FD + 1 } else { 3 };
    close_all_but(first as c_uint, &[fds.msg_w]);
    // SAFETY: a raw syscall on plain integers and parent-prepared, NUL-terminated data.
    ck(Step::Workdir, unsafe { libc::chdir(plan.workdir.as_ptr()) })?;
    // SAFETY: a raw syscall on plain integers and parent-prepared, NUL-terminated data.
    unsafe { libc::umask(0o022) };
    for &(res, soft, hard) in &plan.rlimits {
        let rl = libc::rlimit {
            rlim_cur: soft,
            rlim_max: hard,
        };
        // SAFETY: a raw syscall on plain integers and parent-prepared, NUL-terminated data.
        ck(Step::Rlimits, unsafe { libc::setrlimit(res, &rl) })?;
    }
    drop_capabilities().map_err(at(Step::DropCapabilities))?;
    // SAFETY: a raw syscall on plain integers and parent-prepared, NUL-terminated data.
    ck(Step::NoNewPrivs, unsafe {
        libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    })?;
    if plan.landlock_abi > 0 {
        landlock::restrict(plan.landlock_abi, c"/dev", &plan.landlock_rw)
            .map_err(at(Step::Landlock))?;
    }
    seccomp::install(plan.seccomp).map_err(at(Step::Seccomp))?;
    let mut err = libc::ENOENT;
    for cand in &plan.exec_candidates {
        // SAFETY: a raw syscall on plain integers and parent-prepared, NUL-terminated data.
        unsafe {
            libc::execve(
                cand.as_ptr(),
                plan.argv_ptrs.as_ptr(),
                plan.envp_ptrs.as_ptr(),
            )
        };
        let e = sys::errno();
        if e != libc::ENOENT && e != libc::ENOTDIR {
            err = e;
        }
    }
    Err((Step::Exec, err))
}

fn drop_capabilities() -> Result<(), i32> {
    // Bounding set first (needs CAP_SETPCAP, which we still hold), then ambient,
    // then effective/permitted/inheritable.
    let mut cap = 0;
    loop {
        // SAFETY: prctl with integer arguments.
        let rc = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) };
        if rc < 0 {
            if sys::errno() == libc::EINVAL {
                break;
            }
            return Err(sys::errno());
        }
        cap += 1;
    }
    // SAFETY: prctl with integer arguments.
    sys::cvt_i(unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        )
    })?;
    #[repr(C)]
    struct Header {
        version: u32,
        pid: c_int,
    }
    #[repr(C)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    let header = Header {
        version: 0x2008_0522, // _LINUX_CAPABILITY_VERSION_3
        pid: 0,
    };
    let data = [
        Data {
            effective: 0,
            permitted: 0,
            inheritable: 0,
        },
        Data {
            effective: 0,
            permitted: 0,
            inheritable: 0,
        },
    ];
    // SAFETY: capset with a v3 header and two data words, both live across the call.
    sys::cvt(unsafe { libc::syscall(libc::SYS_capset, &header, data.as_ptr()) }).map(drop)
}
