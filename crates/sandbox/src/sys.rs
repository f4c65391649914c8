//! Thin wrappers over the raw syscalls the jail needs that libc does not wrap.
//! Everything here is async-signal-safe: no allocation, no locks, usable after fork.

use std::ffi::CStr;

use libc::{c_int, c_long, c_uint};

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
pub struct OpenHow {
    pub flags: u64,
    pub mode: u64,
    pub resolve: u64,
}

#[repr(C)]
pub struct MountAttr {
    pub attr_set: u64,
    pub attr_clr: u64,
    pub propagation: u64,
    pub userns_fd: u64,
}

/// The errno of the last failed call on this thread.
#[inline]
pub fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// Turns a `-1`-style return into `Err(errno)`.
#[inline]
pub fn cvt(rc: c_long) -> Result<c_long, i32> {
    if rc < 0 {
        Err(errno())
    } else {
        Ok(rc)
    }
}

#[inline]
pub fn cvt_i(rc: c_int) -> Result<c_int, i32> {
    if rc < 0 {
        Err(errno())
    } else {
        Ok(rc)
    }
}

pub fn openat2(dirfd: c_int, path: &CStr, flags: u64, resolve: u64) -> Result<c_int, i32> {
    let how = OpenHow {
        flags,
        mode: 0,
        resolve,
    };
    // SAFETY: `path` is NUL-terminated and `how` outlives the call; size matches the struct.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dirfd,
            path.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    };
    cvt(rc).map(|fd| fd as c_int)
}

pub fn open_tree(dirfd: c_int, path: &CStr, flags: c_uint) -> Result<c_int, i32> {
    // SAFETY: plain syscall with a NUL-terminated path.
    let rc = unsafe { libc::syscall(libc::SYS_open_tree, dirfd, path.as_ptr(), flags) };
    cvt(rc).map(|fd| fd as c_int)
}

pub fn mount_setattr(fd: c_int, set: u64) -> Result<(), i32> {
    let attr = MountAttr {
        attr_set: set,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: `attr` lives across the call and its size is passed.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd,
            c"".as_ptr(),
            libc::AT_EMPTY_PATH as c_uint,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    cvt(rc).map(drop)
}

pub fn move_mount_to(fd: c_int, to: &CStr) -> Result<(), i32> {
    // SAFETY: both paths are NUL-terminated.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            fd,
            c"".as_ptr(),
            libc::AT_FDCWD,
            to.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH,
        )
    };
    cvt(rc).map(drop)
}

pub fn close_range(first: c_uint, last: c_uint) {
    if first > last {
        return;
    }
    // SAFETY: closing descriptors has no memory-safety effect on this process' Rust
    // state after fork (nothing else runs here).
    unsafe {
        libc::syscall(libc::SYS_close_range, first, last, 0);
    }
}

pub fn pidfd_kill(pidfd: c_int) {
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

/// Writes all of `buf`, retrying on EINTR/short writes.
pub fn write_all(fd: c_int, mut buf: &[u8]) -> Result<(), i32> {
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

fn loopback_flags(set_up: bool) -> Result<bool, i32> {
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
pub fn loopback_up() -> Result<(), i32> {
    loopback_flags(true).map(drop)
}

/// Whether `lo` is up in the calling thread's network namespace.
#[cfg(test)]
pub fn loopback_is_up() -> bool {
    loopback_flags(false).unwrap_or(false)
}

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

/// Sends one byte with up to three descriptors attached (SCM_RIGHTS).
pub fn send_fds(sock: c_int, byte: u8, fds: &[c_int]) -> Result<(), i32> {
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
pub fn recv_fds(sock: c_int) -> Result<(u8, [c_int; 3]), i32> {
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
    /// its v1 controllers), so the v2 path's clone is exercised even here.
    #[test]
    fn clone3_into_cgroup_places_the_child() {
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
        // SAFETY: the child only makes raw syscalls and _exits.
        let pid = unsafe { clone3(&args) };
        if pid == 0 {
            // SAFETY: async-signal-safe calls on a stack buffer, then _exit.
            unsafe {
                let mut buf = [0u8; 512];
                let f = libc::open(c"/proc/self/cgroup".as_ptr(), libc::O_RDONLY);
                let n = libc::read(f, buf.as_mut_ptr().cast(), buf.len());
                libc::write(w, buf.as_ptr().cast(), n.max(0) as usize);
                libc::_exit(0);
            }
        }
        assert!(pid > 0, "clone3: {}", std::io::Error::last_os_error());
        // SAFETY: closing our copy of the write end, reaping our child, reading the pipe.
        let text = unsafe {
            libc::close(w);
            let mut st = 0;
            libc::waitpid(pid as i32, &mut st, 0);
            let mut buf = vec![0u8; 512];
            let n = libc::read(r, buf.as_mut_ptr().cast(), buf.len());
            libc::close(r);
            buf.truncate(n.max(0) as usize);
            String::from_utf8(buf).unwrap()
        };
        let _ = std::fs::remove_dir(&dir);
        assert!(
            text.lines()
                .any(|l| l.starts_with("0::/") && l.ends_with(&name)),
            "{text}"
        );
    }
}
