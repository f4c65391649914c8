//! Landlock through its three raw syscalls, so the jail can apply it after fork
//! without allocating. Policy: read and execute everywhere, write only beneath the
//! writable paths (rw binds, overlays, `/tmp`, `/dev/shm`) and to the device nodes.

use std::ffi::CStr;

use libc::c_int;

use crate::sys;

const CREATE_RULESET_VERSION: u32 = 1;
const RULE_PATH_BENEATH: c_int = 1;

pub const EXECUTE: u64 = 1 << 0;
pub const WRITE_FILE: u64 = 1 << 1;
pub const READ_FILE: u64 = 1 << 2;
pub const READ_DIR: u64 = 1 << 3;
const REMOVE_DIR: u64 = 1 << 4;
const REMOVE_FILE: u64 = 1 << 5;
const MAKE_CHAR: u64 = 1 << 6;
const MAKE_DIR: u64 = 1 << 7;
const MAKE_REG: u64 = 1 << 8;
const MAKE_SOCK: u64 = 1 << 9;
const MAKE_FIFO: u64 = 1 << 10;
const MAKE_BLOCK: u64 = 1 << 11;
const MAKE_SYM: u64 = 1 << 12;
const REFER: u64 = 1 << 13;
const TRUNCATE: u64 = 1 << 14;
const IOCTL_DEV: u64 = 1 << 15;
const SCOPE_ABSTRACT_UNIX_SOCKET: u64 = 1 << 0;
const SCOPE_SIGNAL: u64 = 1 << 1;

#[repr(C)]
struct RulesetAttr {
    handled_access_fs: u64,
    handled_access_net: u64,
    scoped: u64,
}

#[repr(C, packed)]
struct PathBeneath {
    allowed_access: u64,
    parent_fd: i32,
}

/// The Landlock ABI version of the running kernel, if Landlock is enabled.
pub fn abi() -> Option<u32> {
    // SAFETY: the documented version query: NULL attr, size 0, VERSION flag.
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<RulesetAttr>(),
            0usize,
            CREATE_RULESET_VERSION,
        )
    };
    (v > 0).then_some(v as u32)
}

/// What a ruleset of ABI `abi` can handle.
pub fn handled_fs(abi: u32) -> u64 {
    let mut all = EXECUTE
        | WRITE_FILE
        | READ_FILE
        | READ_DIR
        | REMOVE_DIR
        | REMOVE_FILE
        | MAKE_CHAR
        | MAKE_DIR
        | MAKE_REG
        | MAKE_SOCK
        | MAKE_FIFO
        | MAKE_BLOCK
        | MAKE_SYM;
    if abi >= 2 {
        all |= REFER;
    }
    if abi >= 3 {
        all |= TRUNCATE;
    }
    if abi >= 5 {
        all |= IOCTL_DEV;
    }
    all
}

/// What the sandbox's Landlock domain would restrict on the newest ABI but cannot on
/// `abi`, one name each, for the report ([`crate::Layers::landlock_unrestricted`]).
/// ABI 1 refuses every cross-folder link and rename (stricter, not looser); ABI 4's
/// TCP rules are not used (the jail's network is empty), nor ABI 7's logging.
pub fn unrestricted(abi: u32) -> Vec<&'static str> {
    let mut missing = Vec::new();
    if abi == 0 {
        return vec!["filesystem"];
    }
    if abi < 3 {
        missing.push("truncate");
    }
    if abi < 5 {
        missing.push("ioctl on devices");
    }
    if abi < 6 {
        missing.push("abstract unix sockets outside the jail");
        missing.push("signals to processes outside the jail");
    }
    missing
}

/// Full write access below a writable path, except creating device nodes.
pub fn writable(abi: u32) -> u64 {
    handled_fs(abi) & !(MAKE_CHAR | MAKE_BLOCK)
}

/// Applies the policy to the calling thread: `read_only` gets read+execute,
/// `devices` gets read+write (+ioctl), each of `writable_paths` gets `writable()`.
/// Requires `no_new_privs`. Allocation-free.
pub fn restrict(abi: u32, devices: &CStr, writable_paths: &[impl AsRef<CStr>]) -> Result<(), i32> {
    let attr = RulesetAttr {
        handled_access_fs: handled_fs(abi),
        handled_access_net: 0,
        scoped: if abi >= 6 {
            SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL
        } else {
            0
        },
    };
    // Older kernels reject unknown trailing fields: pass the size the ABI knows.
    let size = if abi >= 6 {
        std::mem::size_of::<RulesetAttr>()
    } else if abi >= 4 {
        16
    } else {
        8
    };
    // SAFETY: `attr` outlives the call; `size` never exceeds its size.
    let ruleset = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            &attr as *const RulesetAttr,
            size,
            0u32,
        )
    };
    let ruleset = sys::cvt(ruleset)? as c_int;
    let read = EXECUTE | READ_FILE | READ_DIR;
    let dev = read | WRITE_FILE | if abi >= 5 { IOCTL_DEV } else { 0 };
    let result = (|| {
        add_rule(ruleset, c"/", read)?;
        add_rule(ruleset, devices, dev)?;
        for p in writable_paths {
            // A single-file bind only takes file rights.
            match add_rule(ruleset, p.as_ref(), writable(abi)) {
                Err(libc::EINVAL) => add_rule(
                    ruleset,
                    p.as_ref(),
                    writable(abi) & (EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV),
                )?,
                r => r?,
            }
        }
        // SAFETY: applies the ruleset to this (single-threaded) process.
        let rc = unsafe { libc::syscall(libc::SYS_landlock_restrict_self, ruleset, 0u32) };
        sys::cvt(rc).map(drop)
    })();
    // SAFETY: closing our own ruleset descriptor.
    unsafe { libc::close(ruleset) };
    result
}

fn add_rule(ruleset: c_int, path: &CStr, access: u64) -> Result<(), i32> {
    // SAFETY: O_PATH open of a NUL-terminated path.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_PATH | libc::O_CLOEXEC) };
    let fd = sys::cvt_i(fd)?;
    let rule = PathBeneath {
        allowed_access: access,
        parent_fd: fd,
    };
    // SAFETY: `rule` outlives the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_landlock_add_rule,
            ruleset,
            RULE_PATH_BENEATH,
            &rule as *const PathBeneath,
            0u32,
        )
    };
    // SAFETY: closing the O_PATH descriptor opened above.
    unsafe { libc::close(fd) };
    sys::cvt(rc).map(drop)
}

#[cfg(test)]
mod tests {
    use super::unrestricted;

    #[test]
    fn the_report_names_what_an_older_abi_cannot_restrict() {
        assert_eq!(unrestricted(0), ["filesystem"]);
        assert_eq!(
            unrestricted(2),
            [
                "truncate",
                "ioctl on devices",
                "abstract unix sockets outside the jail",
                "signals to processes outside the jail"
            ]
        );
        assert_eq!(unrestricted(5).len(), 2);
        assert!(unrestricted(6).is_empty() && unrestricted(7).is_empty());
    }
}
