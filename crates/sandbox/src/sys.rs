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
