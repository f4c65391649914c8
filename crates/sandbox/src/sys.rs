//! Safe, allocation-free wrappers over the syscalls the jail makes, so that the
//! step code in `jail.rs` reads as a list of calls and holds almost no `unsafe`.
//!
//! Everything here is async-signal-safe: plain syscalls on borrowed data, no
//! allocation, no locks, no glibc wrapper that does more than the syscall (glibc's
//! `setresuid` and friends broadcast to every thread glibc believes exists, which
//! hangs in a child cloned from a multi-threaded process: those go through
//! `syscall(2)`). Errors are the raw errno.

use std::ffi::{CStr, CString};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use libc::{c_char, c_int, c_long, c_uint, c_ulong};

/// An errno value.
pub type Errno = i32;
pub type SysResult<T = ()> = Result<T, Errno>;

pub const OPEN_TREE_CLONE: c_uint = 1;

pub const MOVE_MOUNT_F_EMPTY_PATH: c_uint = 0x4;
pub const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub const MOUNT_ATTR_NOSUID: u64 = 0x2;
pub const MOUNT_ATTR_NODEV: u64 = 0x4;
pub const MOUNT_ATTR_NOEXEC: u64 = 0x8;

pub const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
pub const RESOLVE_NO_SYMLINKS: u64 = 0x04;
pub const RESOLVE_IN_ROOT: u64 = 0x10;

pub const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// `struct clone_args` of clone3(2), up to `cgroup` (kernel 5.7).
#[repr(C)]
#[derive(Default)]
pub struct CloneArgs {
    pub flags: u64,
    pub pidfd: u64,
    pub child_tid: u64,
    pub parent_tid: u64,
    pub exit_signal: u64,
    pub stack: u64,
    pub stack_size: u64,
    pub tls: u64,
    pub set_tid: u64,
    pub set_tid_size: u64,
    pub cgroup: u64,
}

/// clone3(2). With no stack it returns twice, like fork.
///
/// # Safety
/// As for fork in a possibly multi-threaded process: the child may only call
/// async-signal-safe code and must never return into the caller's frames' owners.
pub unsafe fn clone3(args: &CloneArgs) -> c_long {
    // SAFETY: `args` is a live, correctly sized clone_args; the caller upholds the
    // fork-like contract above.
    unsafe {
        libc::syscall(
            libc::SYS_clone3,
            args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    }
}

#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// The errno of the last failed call on this thread.
#[inline]
pub fn errno() -> Errno {
    // SAFETY: glibc's per-thread errno slot, always valid for the calling thread.
    unsafe { *libc::__errno_location() }
}

/// Turns a `-1`-style return into `Err(errno)`.
#[inline]
pub fn cvt(rc: c_long) -> SysResult<c_long> {
    if rc < 0 {
        Err(errno())
    } else {
        Ok(rc)
    }
}

#[inline]
pub fn cvt_i(rc: c_int) -> SysResult<c_int> {
    if rc < 0 {
        Err(errno())
    } else {
        Ok(rc)
    }
}

/// `Option<&CStr>` as the nullable pointer C wants.
fn ptr_or_null(s: Option<&CStr>) -> *const c_char {
    s.map_or(std::ptr::null(), CStr::as_ptr)
}

/// A NULL-terminated array of C strings for `execve`, built before fork.
pub struct CStrArray {
    /// Owns the strings `ptrs` points into (moving a `CString` does not move its
    /// heap buffer).
    _strings: Vec<CString>,
    ptrs: Vec<*const c_char>,
}

impl CStrArray {
    pub fn new(strings: Vec<CString>) -> CStrArray {
        let mut ptrs: Vec<*const c_char> = strings.iter().map(|s| s.as_ptr()).collect();
        ptrs.push(std::ptr::null());
        CStrArray {
            _strings: strings,
            ptrs,
        }
    }
}

// ---------------------------------------------------------------------------------
// The process: its credentials, flags and limits.

/// `prctl(option, arg2)` for the options that take one integer and return 0.
fn prctl1(option: c_int, arg2: c_ulong) -> SysResult {
    // SAFETY: every option passed here takes one integer argument and no pointer.
    cvt_i(unsafe { libc::prctl(option, arg2, 0, 0, 0) }).map(drop)
}

/// The signal this process gets when its parent thread dies.
pub fn set_parent_death_signal(sig: c_int) -> SysResult {
    prctl1(libc::PR_SET_PDEATHSIG, sig as c_ulong)
}

/// Non-dumpable: other processes of the same uid cannot ptrace this one or open
/// its `/proc/PID/{mem,fd,environ,…}`.
pub fn set_not_dumpable() -> SysResult {
    prctl1(libc::PR_SET_DUMPABLE, 0)
}

pub fn set_no_new_privs() -> SysResult {
    prctl1(libc::PR_SET_NO_NEW_PRIVS, 1)
}

/// The name `/proc/PID/comm` shows (up to 15 bytes).
pub fn set_name(name: &CStr) -> SysResult {
    // SAFETY: PR_SET_NAME reads at most 16 bytes of a NUL-terminated string.
    cvt_i(unsafe { libc::prctl(libc::PR_SET_NAME, name.as_ptr(), 0, 0, 0) }).map(drop)
}

pub fn securebits() -> SysResult<c_ulong> {
    // SAFETY: no pointer arguments.
    cvt_i(unsafe { libc::prctl(libc::PR_GET_SECUREBITS, 0, 0, 0, 0) }).map(|b| b as c_ulong)
}

pub fn set_securebits(bits: c_ulong) -> SysResult {
    prctl1(libc::PR_SET_SECUREBITS, bits)
}

/// Where the kernel thinks this process's memory areas are (`/proc/self/stat`), as
/// `PR_SET_MM_MAP` takes them; `brk` is read at the time of the call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MmLayout {
    pub start_code: u64,
    pub end_code: u64,
    pub start_data: u64,
    pub end_data: u64,
    pub start_brk: u64,
    pub start_stack: u64,
    pub arg_start: u64,
    pub arg_end: u64,
    pub env_start: u64,
    pub env_end: u64,
}

#[repr(C)]
struct PrctlMmMap {
    start_code: u64,
    end_code: u64,
    start_data: u64,
    end_data: u64,
    start_brk: u64,
    brk: u64,
    start_stack: u64,
    arg_start: u64,
    arg_end: u64,
    env_start: u64,
    env_end: u64,
    auxv: *const u64,
    auxv_size: u32,
    exe_fd: u32,
}

/// Points this process's command line (`/proc/PID/cmdline`) at the bytes
/// `[start, end)` of its own memory (anonymous memory: the kernel reads no other)
/// and its environment at nothing, everything else as `mm` says. `PR_SET_MM_MAP`
/// needs no capability when the executable link is left alone; kernels without
/// CONFIG_CHECKPOINT_RESTORE answer EINVAL.
pub fn set_cmdline(mm: &MmLayout, start: u64, end: u64) -> SysResult {
    // SAFETY: brk(0) changes nothing and returns the current break.
    let brk = unsafe { libc::syscall(libc::SYS_brk, 0usize) } as u64;
    let map = PrctlMmMap {
        start_code: mm.start_code,
        end_code: mm.end_code,
        start_data: mm.start_data,
        end_data: mm.end_data,
        start_brk: mm.start_brk,
        brk,
        start_stack: mm.start_stack,
        arg_start: start,
        arg_end: end,
        env_start: end,
        env_end: end,
        auxv: std::ptr::null(),
        auxv_size: 0,
        exe_fd: u32::MAX,
    };
    // SAFETY: a pointer to a live, correctly sized prctl_mm_map; the kernel copies it.
    cvt_i(unsafe {
        libc::prctl(
            libc::PR_SET_MM,
            libc::PR_SET_MM_MAP,
            &map as *const PrctlMmMap,
            std::mem::size_of::<PrctlMmMap>(),
            0,
        )
    })
    .map(drop)
}

/// Drops `cap` from the bounding set; `EINVAL` past the last capability.
pub fn drop_bounding_cap(cap: c_ulong) -> SysResult {
    prctl1(libc::PR_CAPBSET_DROP, cap)
}

pub fn clear_ambient_caps() -> SysResult {
    // SAFETY: integer arguments only.
    cvt_i(unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        )
    })
    .map(drop)
}

/// Empties the effective, permitted and inheritable capability sets.
pub fn clear_caps() -> SysResult {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: c_int,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    let header = Header {
        version: 0x2008_0522, // _LINUX_CAPABILITY_VERSION_3: two data words
        pid: 0,
    };
    let data = [Data {
        effective: 0,
        permitted: 0,
        inheritable: 0,
    }; 2];
    // SAFETY: capset with a v3 header and the two data words v3 reads, both live
    // across the call.
    cvt(unsafe { libc::syscall(libc::SYS_capset, &header, data.as_ptr()) }).map(drop)
}

/// setgroups(0, NULL): no supplementary groups.
pub fn clear_groups() -> SysResult {
    // SAFETY: a zero-length list; the pointer is never read.
    cvt(unsafe { libc::syscall(libc::SYS_setgroups, 0usize, std::ptr::null::<libc::gid_t>()) })
        .map(drop)
}

/// setresgid(2) of this thread only (the raw syscall; see the module comment).
pub fn setresgid(r: u32, e: u32, s: u32) -> SysResult {
    // SAFETY: integer arguments only.
    cvt(unsafe { libc::syscall(libc::SYS_setresgid, r, e, s) }).map(drop)
}

/// setresuid(2) of this thread only (the raw syscall; see the module comment).
pub fn setresuid(r: u32, e: u32, s: u32) -> SysResult {
    // SAFETY: integer arguments only.
    cvt(unsafe { libc::syscall(libc::SYS_setresuid, r, e, s) }).map(drop)
}

/// Runs `f` with this thread's effective uid and gid switched to `uid` and `gid`,
/// its capabilities kept (`SECBIT_NO_SETUID_FIXUP`), then switches back. The raw
/// syscalls change this thread's credentials only, never the process's other
/// threads'. A thread that cannot switch back aborts the process rather than go on
/// with the wrong identity.
pub fn as_effective_ids<T>(uid: u32, gid: u32, f: impl FnOnce() -> T) -> SysResult<T> {
    const UNCHANGED: u32 = u32::MAX;
    let bits = securebits()?;
    set_securebits(bits | libc::SECBIT_NO_SETUID_FIXUP as c_ulong)?;
    let switched =
        setresgid(UNCHANGED, gid, UNCHANGED).and_then(|()| setresuid(UNCHANGED, uid, UNCHANGED));
    let out = switched.map(|()| f());
    let (_, euid, _) = getresuid();
    let restored = (if euid == 0 {
        Ok(())
    } else {
        setresuid(UNCHANGED, 0, UNCHANGED)
    })
    .and_then(|()| setresgid(UNCHANGED, 0, UNCHANGED))
    .and_then(|()| set_securebits(bits));
    if restored.is_err() {
        // This thread would keep working as another user: never continue.
        eprintln!("gauntlet-sandbox: cannot restore this thread's ids; aborting");
        std::process::abort();
    }
    out
}

/// (real, effective, saved) uid.
pub fn getresuid() -> (u32, u32, u32) {
    let (mut r, mut e, mut s) = (0, 0, 0);
    // SAFETY: three out-pointers to locals.
    unsafe { libc::getresuid(&mut r, &mut e, &mut s) };
    (r, e, s)
}

pub fn geteuid() -> u32 {
    // SAFETY: no arguments, no failure.
    unsafe { libc::geteuid() }
}

pub fn setsid() -> SysResult {
    // SAFETY: no arguments.
    cvt_i(unsafe { libc::setsid() }).map(drop)
}

pub fn umask(mask: libc::mode_t) {
    // SAFETY: an integer argument; cannot fail.
    unsafe { libc::umask(mask) };
}

/// Sets this process's niceness (raising it needs no privilege).
pub fn set_nice(nice: i32) -> SysResult {
    // SAFETY: integer arguments.
    cvt_i(unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, nice) }).map(drop)
}

/// The session of task `tid` (host PID namespace), from `/proc/<tid>/stat`.
pub fn session_of(tid: libc::pid_t) -> Option<libc::pid_t> {
    let stat = std::fs::read_to_string(format!("/proc/{tid}/stat")).ok()?;
    // After the command (which may hold spaces and parentheses): state ppid pgrp session.
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(3)?.parse().ok()
}

/// Sets the niceness of the scheduling autogroup of task `tid`'s session (host PID
/// namespace). Where the kernel groups sessions (`sched_autogroup_enabled`), each
/// autogroup is weighed against the others by this niceness, and a task's own only
/// orders it within its session. NotFound: the kernel has no autogroups. As root,
/// CAP_SYS_ADMIN spares the kernel's rate limit on changes.
pub fn set_autogroup_nice(tid: libc::pid_t, nice: i32) -> std::io::Result<()> {
    std::fs::write(format!("/proc/{tid}/autogroup"), nice.to_string())
}

/// Sets the niceness of one task (a thread id in the host's PID namespace). Lowering
/// it needs CAP_SYS_NICE.
pub fn set_task_nice(tid: libc::pid_t, nice: i32) -> SysResult {
    // SAFETY: integer arguments.
    cvt_i(unsafe { libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, nice) }).map(drop)
}

pub fn setrlimit(resource: libc::__rlimit_resource_t, soft: u64, hard: u64) -> SysResult {
    let rl = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: a pointer to a local rlimit.
    cvt_i(unsafe { libc::setrlimit(resource, &rl) }).map(drop)
}

pub fn unshare(flags: c_int) -> SysResult {
    // SAFETY: an integer argument.
    cvt_i(unsafe { libc::unshare(flags) }).map(drop)
}

pub fn sethostname(name: &[u8]) -> SysResult {
    // SAFETY: pointer and length of a live slice.
    cvt_i(unsafe { libc::sethostname(name.as_ptr().cast(), name.len()) }).map(drop)
}

pub fn kill(pid: libc::pid_t, sig: c_int) -> SysResult {
    // SAFETY: integer arguments.
    cvt_i(unsafe { libc::kill(pid, sig) }).map(drop)
}

/// waitpid(2), retried on EINTR: `(pid, wait status)`.
pub fn waitpid(pid: libc::pid_t, flags: c_int) -> SysResult<(libc::pid_t, c_int)> {
    loop {
        let mut status = 0;
        // SAFETY: an out-pointer to a local.
        let r = unsafe { libc::waitpid(pid, &mut status, flags) };
        match cvt_i(r) {
            Err(libc::EINTR) => continue,
            r => return r.map(|p| (p, status)),
        }
    }
}

pub fn sched_yield() {
    // SAFETY: no arguments.
    unsafe { libc::sched_yield() };
}

/// Ends this process at once: no destructors, no atexit handlers, no stdio flush.
pub fn exit(code: c_int) -> ! {
    // SAFETY: _exit never returns and touches no state of ours.
    unsafe { libc::_exit(code) }
}

/// execve(2); returns only on failure, with its errno.
pub fn execve(path: &CStr, argv: &CStrArray, envp: &CStrArray) -> Errno {
    // SAFETY: `path` is NUL-terminated; both arrays are NULL-terminated arrays of
    // NUL-terminated strings that `CStrArray` owns and keeps alive.
    unsafe { libc::execve(path.as_ptr(), argv.ptrs.as_ptr(), envp.ptrs.as_ptr()) };
    errno()
}

// ---------------------------------------------------------------------------------
// Files and mounts.

pub fn mount(
    source: Option<&CStr>,
    target: &CStr,
    fstype: Option<&CStr>,
    flags: c_ulong,
    data: Option<&CStr>,
) -> SysResult {
    // SAFETY: every pointer is NULL or a NUL-terminated string that outlives the call.
    cvt_i(unsafe {
        libc::mount(
            ptr_or_null(source),
            target.as_ptr(),
            ptr_or_null(fstype),
            flags,
            ptr_or_null(data).cast(),
        )
    })
    .map(drop)
}

/// mkdir(2), where an existing entry is fine when `exist_ok`.
pub fn mkdir(path: &CStr, mode: libc::mode_t) -> SysResult {
    // SAFETY: a NUL-terminated path.
    cvt_i(unsafe { libc::mkdir(path.as_ptr(), mode) }).map(drop)
}

pub fn rmdir(path: &CStr) -> SysResult {
    // SAFETY: a NUL-terminated path.
    cvt_i(unsafe { libc::rmdir(path.as_ptr()) }).map(drop)
}

pub fn chdir(path: &CStr) -> SysResult {
    // SAFETY: a NUL-terminated path.
    cvt_i(unsafe { libc::chdir(path.as_ptr()) }).map(drop)
}

pub fn symlink(target: &CStr, link: &CStr) -> SysResult {
    // SAFETY: two NUL-terminated paths.
    cvt_i(unsafe { libc::symlink(target.as_ptr(), link.as_ptr()) }).map(drop)
}

pub fn pivot_root(new_root: &CStr, put_old: &CStr) -> SysResult {
    // SAFETY: two NUL-terminated paths.
    cvt(unsafe { libc::syscall(libc::SYS_pivot_root, new_root.as_ptr(), put_old.as_ptr()) })
        .map(drop)
}

/// open(2), close-on-exec always.
pub fn open(path: &CStr, flags: c_int, mode: libc::mode_t) -> SysResult<OwnedFd> {
    // SAFETY: a NUL-terminated path; the new descriptor is owned below.
    let fd = cvt_i(unsafe { libc::open(path.as_ptr(), flags | libc::O_CLOEXEC, mode) })?;
    // SAFETY: a fresh descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// openat2(2) with `resolve` restrictions, close-on-exec always.
pub fn openat2(dirfd: RawFd, path: &CStr, flags: c_int, resolve: u64) -> SysResult<OwnedFd> {
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u64,
        mode: 0,
        resolve,
    };
    // SAFETY: `path` is NUL-terminated and `how` outlives the call; size matches the struct.
    let fd = cvt(unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dirfd,
            path.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    })?;
    // SAFETY: a fresh descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// open_tree(2) of `dirfd` itself (`AT_EMPTY_PATH`) with `flags`, close-on-exec.
pub fn open_tree(dirfd: RawFd, flags: c_uint) -> SysResult<OwnedFd> {
    let flags = flags | libc::O_CLOEXEC as c_uint | libc::AT_EMPTY_PATH as c_uint;
    // SAFETY: an empty NUL-terminated path relative to `dirfd`.
    let fd = cvt(unsafe { libc::syscall(libc::SYS_open_tree, dirfd, c"".as_ptr(), flags) })?;
    // SAFETY: a fresh descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Sets mount attributes (`MOUNT_ATTR_*`) on the mount `fd` refers to.
pub fn mount_setattr(fd: RawFd, set: u64) -> SysResult {
    let attr = MountAttr {
        attr_set: set,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: `attr` lives across the call and its size is passed; the path is empty.
    cvt(unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd,
            c"".as_ptr(),
            libc::AT_EMPTY_PATH as c_uint,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    })
    .map(drop)
}

/// Attaches the detached mount `fd` at `to`.
pub fn move_mount_to(fd: RawFd, to: &CStr) -> SysResult {
    // SAFETY: both paths are NUL-terminated.
    cvt(unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            fd,
            c"".as_ptr(),
            libc::AT_FDCWD,
            to.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH,
        )
    })
    .map(drop)
}

/// The file type bits and size of `fd`.
pub fn fstat_type_and_size(fd: RawFd) -> SysResult<(libc::mode_t, u64)> {
    // SAFETY: all-zero is a valid `stat`.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: an out-pointer to a local.
    cvt_i(unsafe { libc::fstat(fd, &mut st) })?;
    Ok((st.st_mode & libc::S_IFMT, st.st_size as u64))
}

// ---------------------------------------------------------------------------------
// Descriptors.

/// Closes `fd`, which the caller owns and never uses again.
pub fn close(fd: RawFd) {
    // SAFETY: closing a descriptor has no memory effect; the caller owns it.
    unsafe { libc::close(fd) };
}

pub fn close_range(first: c_uint, last: c_uint) {
    if first > last {
        return;
    }
    // SAFETY: closing descriptors has no memory effect; nothing else in this
    // process holds them once the caller (a freshly cloned child) runs this.
    unsafe {
        libc::syscall(libc::SYS_close_range, first, last, 0);
    }
}

pub fn dup2(old: RawFd, new: RawFd) -> SysResult {
    // SAFETY: integer arguments.
    cvt_i(unsafe { libc::dup2(old, new) }).map(drop)
}

/// read(2), retried on EINTR.
pub fn read(fd: RawFd, buf: &mut [u8]) -> SysResult<usize> {
    loop {
        // SAFETY: reading into a live mutable slice of the given length.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        match cvt(n as c_long) {
            Err(libc::EINTR) => continue,
            r => return r.map(|n| n as usize),
        }
    }
}

/// poll(2) on one descriptor for `events`, waiting up to `timeout_ms` (-1: no
/// bound); the count poll returns (1 ready, 0 not, -1 an error).
pub fn poll_one(fd: RawFd, events: libc::c_short, timeout_ms: c_int) -> c_int {
    let mut p = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    // SAFETY: poll on one pollfd, a local.
    unsafe { libc::poll(&mut p, 1, timeout_ms) }
}

/// Sends all of `buf` on a stream socket before `deadline` (no SIGPIPE: a closed peer
/// is EPIPE; past the deadline, ETIMEDOUT).
pub fn send_all(fd: RawFd, mut buf: &[u8], deadline: std::time::Instant) -> SysResult {
    while !buf.is_empty() {
        // SAFETY: `buf` is a valid readable slice.
        let n = unsafe {
            libc::send(
                fd,
                buf.as_ptr().cast(),
                buf.len(),
                libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT,
            )
        };
        if n >= 0 {
            buf = &buf[n as usize..];
            continue;
        }
        match errno() {
            libc::EINTR => {}
            libc::EAGAIN => {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                if left.is_zero() {
                    return Err(libc::ETIMEDOUT);
                }
                let ms = left.as_millis().min(i32::MAX as u128) as i32 + 1;
                poll_one(fd, libc::POLLOUT, ms);
            }
            e => return Err(e),
        }
    }
    Ok(())
}

/// Writes all of `buf`, retrying on EINTR and short writes.
pub fn write_all(fd: RawFd, mut buf: &[u8]) -> SysResult {
    while !buf.is_empty() {
        // SAFETY: `buf` is a valid readable slice.
        let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
        if n < 0 {
            let e = errno();
            if e == libc::EINTR {
                continue;
            }
            return Err(e);
        }
        buf = &buf[n as usize..];
    }
    Ok(())
}

pub fn pidfd_kill(pidfd: RawFd) {
    // SAFETY: plain syscall; a stale pidfd only yields ESRCH.
    unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd,
            libc::SIGKILL,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        );
    }
}

// ---------------------------------------------------------------------------------
// The network.

fn loopback_flags(set_up: bool) -> SysResult<bool> {
    // SAFETY: a datagram socket and SIOC[GS]IFFLAGS on a zeroed, NUL-terminated ifreq.
    unsafe {
        let s = cvt_i(libc::socket(
            libc::AF_INET,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            0,
        ))?;
        let mut ifr: libc::ifreq = std::mem::zeroed();
        ifr.ifr_name[0] = b'l' as libc::c_char;
        ifr.ifr_name[1] = b'o' as libc::c_char;
        let mut r = libc::ioctl(s, libc::SIOCGIFFLAGS, &mut ifr);
        let up = (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
        let was_up = r == 0 && ifr.ifr_ifru.ifru_flags & up == up;
        if r == 0 && set_up && !was_up {
            ifr.ifr_ifru.ifru_flags |= up;
            r = libc::ioctl(s, libc::SIOCSIFFLAGS, &ifr);
        }
        let e = errno();
        libc::close(s);
        if r < 0 {
            Err(e)
        } else {
            Ok(was_up || set_up)
        }
    }
}

/// Brings `lo` up in the calling thread's network namespace.
pub fn loopback_up() -> SysResult {
    loopback_flags(true).map(drop)
}

/// Whether `lo` is up in the calling thread's network namespace.
#[cfg(test)]
pub fn loopback_is_up() -> bool {
    loopback_flags(false).unwrap_or(false)
}

// ---------------------------------------------------------------------------------
// Raw syscalls that leave errno alone.

/// A raw syscall with up to three arguments, returning `-errno` instead of setting
/// errno: for a helper that shares its memory (and so glibc's thread-local errno)
/// with a process running beside it.
fn raw_syscall3(nr: c_long, a: usize, b: usize, c: usize) -> c_long {
    #[cfg(target_arch = "x86_64")]
    {
        let ret: c_long;
        // SAFETY: the syscall instruction with integer or pointer arguments the
        // callers below make valid; the kernel clobbers rcx and r11 only.
        unsafe {
            std::arch::asm!(
                "syscall",
                inlateout("rax") nr => ret,
                in("rdi") a,
                in("rsi") b,
                in("rdx") c,
                lateout("rcx") _,
                lateout("r11") _,
                options(nostack),
            );
        }
        ret
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        // Elsewhere glibc's wrapper; a failure's errno may then be clobbered by init.
        // SAFETY: the callers below pass valid arguments for `nr`.
        let rc = unsafe { libc::syscall(nr, a, b, c) };
        if rc < 0 {
            -(errno() as c_long)
        } else {
            rc
        }
    }
}

/// umount2(2) that leaves errno alone (see [`raw_syscall3`]).
pub fn raw_umount2(path: &CStr, flags: c_int) -> c_long {
    raw_syscall3(libc::SYS_umount2, path.as_ptr() as usize, flags as usize, 0)
}

/// Closes every descriptor from `first` up, leaving errno alone (see [`raw_syscall3`]).
pub fn raw_close_from(first: c_uint) {
    raw_syscall3(
        libc::SYS_close_range,
        first as usize,
        c_uint::MAX as usize,
        0,
    );
}

// ---------------------------------------------------------------------------------
// Descriptors over a socket (SCM_RIGHTS).

/// Sends one byte with up to three descriptors attached (SCM_RIGHTS).
pub fn send_fds(sock: RawFd, byte: u8, fds: &[c_int]) -> Result<(), i32> {
    assert!(fds.len() <= 3, "at most three descriptors");
    let mut data = [byte];
    let mut iov = libc::iovec {
        iov_base: data.as_mut_ptr().cast(),
        iov_len: 1,
    };
    // Room for one cmsghdr carrying three ints, 8-byte aligned.
    let mut space = [0u64; 8];
    // SAFETY: msghdr over local buffers that outlive the call; CMSG_* only compute
    // offsets inside `space`, which is large enough for three descriptors.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        if !fds.is_empty() {
            let len = std::mem::size_of_val(fds) as u32;
            msg.msg_control = space.as_mut_ptr().cast();
            msg.msg_controllen = libc::CMSG_SPACE(len) as _;
            let c = libc::CMSG_FIRSTHDR(&msg);
            (*c).cmsg_level = libc::SOL_SOCKET;
            (*c).cmsg_type = libc::SCM_RIGHTS;
            (*c).cmsg_len = libc::CMSG_LEN(len) as _;
            std::ptr::copy_nonoverlapping(fds.as_ptr(), libc::CMSG_DATA(c).cast(), fds.len());
        }
        loop {
            let n = libc::sendmsg(sock, &msg, libc::MSG_NOSIGNAL);
            if n == 1 {
                return Ok(());
            }
            if n < 0 && errno() == libc::EINTR {
                continue;
            }
            return Err(if n < 0 { errno() } else { libc::EIO });
        }
    }
}

/// Receives one byte and up to three descriptors sent with [`send_fds`] (close-on-exec;
/// unused slots are -1). Async-signal-safe. EOF is `Err(EPIPE)`.
pub fn recv_fds(sock: RawFd) -> Result<(u8, [c_int; 3]), i32> {
    let mut data = [0u8];
    let mut iov = libc::iovec {
        iov_base: data.as_mut_ptr().cast(),
        iov_len: 1,
    };
    let mut space = [0u64; 8];
    let mut out = [-1 as c_int; 3];
    // SAFETY: as in `send_fds`; the kernel writes at most `msg_controllen` bytes, and
    // we copy out no more descriptors than the header says it holds (max three).
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = space.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&space) as _;
        let n = loop {
            let n = libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC);
            if n < 0 && errno() == libc::EINTR {
                continue;
            }
            break n;
        };
        if n < 0 {
            return Err(errno());
        }
        if n == 0 {
            return Err(libc::EPIPE);
        }
        let c = libc::CMSG_FIRSTHDR(&msg);
        if !c.is_null() && (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS
        {
            let bytes = (*c).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
            let k = (bytes / std::mem::size_of::<c_int>()).min(3);
            std::ptr::copy_nonoverlapping(libc::CMSG_DATA(c).cast(), out.as_mut_ptr(), k);
        }
        if msg.msg_flags & libc::MSG_CTRUNC != 0 {
            for fd in out {
                if fd >= 0 {
                    libc::close(fd);
                }
            }
            return Err(libc::EMSGSIZE);
        }
        Ok((data[0], out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    /// `CloneArgs` layout and `CLONE_INTO_CGROUP`: a child is born in the given v2
    /// cgroup. Runs on any cgroup2 mount (this machine kind has an empty one beside
    /// its v1 controllers), so the v2 path's clone is exercised even here, made as
    /// the supervisor makes it as root: inside `as_effective_ids` (the cgroup's
    /// write permission is checked against those ids, which keep root's
    /// capabilities), after which the thread is root again.
    #[test]
    fn clone3_into_cgroup_places_the_child_as_the_jails_owner() {
        let mount = ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]
            .into_iter()
            .map(std::path::Path::new)
            .find(|m| m.join("cgroup.procs").exists() && m.join("cgroup.max.depth").exists());
        // SAFETY: a getter.
        let (Some(mount), true) = (mount, unsafe { libc::geteuid() } == 0) else {
            eprintln!("skipped: needs root and a cgroup2 mount");
            return;
        };
        let name = format!("gauntlet-clone3-test-{}", std::process::id());
        let dir = mount.join(&name);
        std::fs::create_dir(&dir).unwrap();
        let fd = std::fs::File::open(&dir).unwrap();
        let (r, w) = {
            let mut p = [0; 2];
            // SAFETY: pipe2 fills the array.
            assert_eq!(unsafe { libc::pipe2(p.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
            (p[0], p[1])
        };
        let args = CloneArgs {
            flags: CLONE_INTO_CGROUP,
            exit_signal: libc::SIGCHLD as u64,
            cgroup: fd.as_raw_fd() as u64,
            ..CloneArgs::default()
        };
        // As the supervisor clones as root: with the ids of the jail's owner.
        let pid = as_effective_ids(990_000, 990_000, || {
            // SAFETY: the child only makes raw syscalls and _exits.
            let pid = unsafe { clone3(&args) };
            if pid == 0 {
                // SAFETY: async-signal-safe calls on a stack buffer, then _exit.
                unsafe {
                    let mut buf = [0u8; 4096];
                    for path in [c"/proc/self/status", c"/proc/self/cgroup"] {
                        let f = libc::open(path.as_ptr(), libc::O_RDONLY);
                        let n = libc::read(f, buf.as_mut_ptr().cast(), buf.len());
                        libc::write(w, buf.as_ptr().cast(), n.max(0) as usize);
                    }
                    libc::_exit(0);
                }
            }
            pid
        })
        .unwrap();
        assert!(pid > 0, "clone3: {}", std::io::Error::last_os_error());
        // This thread is itself again, capabilities included.
        let status = std::fs::read_to_string("/proc/thread-self/status").unwrap();
        assert!(status.contains("\nUid:\t0\t0\t0\t0\n"), "{status}");
        assert!(
            !status.contains("\nCapEff:\t0000000000000000\n"),
            "{status}"
        );
        // SAFETY: closing our copy of the write end, reaping our child, reading the pipe.
        let text = unsafe {
            libc::close(w);
            let mut st = 0;
            libc::waitpid(pid as i32, &mut st, 0);
            let mut buf = vec![0u8; 16384];
            let mut len = 0;
            loop {
                let n = libc::read(r, buf[len..].as_mut_ptr().cast(), buf.len() - len);
                if n <= 0 {
                    break;
                }
                len += n as usize;
            }
            libc::close(r);
            buf.truncate(len);
            String::from_utf8(buf).unwrap()
        };
        let _ = std::fs::remove_dir(&dir);
        assert!(
            text.lines()
                .any(|l| l.starts_with("0::/") && l.ends_with(&name)),
            "{text}"
        );
        // The child was made by effective uid 990000 (what owns a user namespace
        // cloned then), with root's capabilities kept for CLONE_INTO_CGROUP.
        assert!(text.contains("\nUid:\t0\t990000\t0\t990000\n"), "{text}");
    }
}
