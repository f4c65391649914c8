//! The seccomp policy, kept as data, and its compiler to classic BPF.
//! A deny-list: the syscalls below fail with EPERM (clone3 with ENOSYS), everything else runs.
//!
//! Why a deny-list and hand-built BPF: graded programs are whole language runtimes
//! (CPython, Node, solc, Anvil) whose syscall sets change with every release; an
//! allow-list breaks them silently. The surfaces that matter are the ones below. The
//! BPF is built by hand (about sixty lines) because the policy needs two things a
//! syscall-by-number table cannot say: the x32 ABI bit (`nr & 0x4000_0000`) and
//! argument masks for `clone` namespace flags and `ioctl(TIOCSTI)`.
//!
//! Compared with Docker's default profile (moby/profiles/seccomp/default.json):
//! everything Docker denies to an unprivileged container is denied here too, except
//! `mbind`, `set_mempolicy`, `get_mempolicy`, `move_pages` (NUMA placement inside our
//! own memory cgroup; some runtimes probe them) and `personality` (only affects the
//! calling process; its risky flags weaken the attacker's own ASLR). Docker allows
//! `ptrace` on kernels >= 4.8; we deny it (graders need no debuggers, and it is the
//! first step of most in-jail escalations), and we deny `io_uring_*` as Docker now does.
//! isolate (IOI) loads no seccomp filter at all; nsjail's default is an allow-all
//! with a few denies. kcmp and pidfd_getfd are denied because they read other
//! processes' state, which nothing graded needs.

use libc::{sock_filter, sock_fprog};

/// When a listed syscall is denied.
#[derive(Debug, Clone, Copy)]
pub enum When {
    Always,
    /// Argument `arg` (low 32 bits) has any bit of `mask` set.
    ArgAnyBit {
        arg: u8,
        mask: u32,
    },
    /// Argument `arg` (low 32 bits) equals `value`.
    ArgEq {
        arg: u8,
        value: u32,
    },
}

#[derive(Debug)]
pub struct Group {
    /// Why the group is denied (read by humans and by `doctor`).
    pub why: &'static str,
    pub errno: i32,
    pub when: When,
    pub syscalls: &'static [(&'static str, libc::c_long)],
}

macro_rules! sc {
    ($($name:ident),* $(,)?) => { &[$((stringify!($name), sysno::$name)),*] };
}

/// Syscall numbers, through libc, under their kernel names.
#[allow(non_upper_case_globals)]
mod sysno {
    #[cfg(target_arch = "x86_64")]
    pub use libc::{
        SYS__sysctl as _sysctl, SYS_ioperm as ioperm, SYS_iopl as iopl,
        SYS_lookup_dcookie as lookup_dcookie, SYS_nfsservctl as nfsservctl, SYS_sysfs as sysfs,
        SYS_uselib as uselib, SYS_ustat as ustat,
    };
    pub use libc::{
        SYS_acct as acct, SYS_add_key as add_key, SYS_bpf as bpf, SYS_chroot as chroot,
        SYS_clock_adjtime as clock_adjtime, SYS_clock_settime as clock_settime, SYS_clone as clone,
        SYS_clone3 as clone3, SYS_delete_module as delete_module,
        SYS_fanotify_init as fanotify_init, SYS_finit_module as finit_module,
        SYS_fsconfig as fsconfig, SYS_fsmount as fsmount, SYS_fsopen as fsopen,
        SYS_fspick as fspick, SYS_init_module as init_module, SYS_io_uring_enter as io_uring_enter,
        SYS_io_uring_register as io_uring_register, SYS_io_uring_setup as io_uring_setup,
        SYS_ioctl as ioctl, SYS_kcmp as kcmp, SYS_kexec_file_load as kexec_file_load,
        SYS_kexec_load as kexec_load, SYS_keyctl as keyctl, SYS_mount as mount,
        SYS_mount_setattr as mount_setattr, SYS_move_mount as move_mount,
        SYS_name_to_handle_at as name_to_handle_at, SYS_open_by_handle_at as open_by_handle_at,
        SYS_open_tree as open_tree, SYS_perf_event_open as perf_event_open,
        SYS_pidfd_getfd as pidfd_getfd, SYS_pivot_root as pivot_root,
        SYS_process_vm_readv as process_vm_readv, SYS_process_vm_writev as process_vm_writev,
        SYS_ptrace as ptrace, SYS_quotactl as quotactl, SYS_quotactl_fd as quotactl_fd,
        SYS_reboot as reboot, SYS_request_key as request_key, SYS_setns as setns,
        SYS_settimeofday as settimeofday, SYS_swapoff as swapoff, SYS_swapon as swapon,
        SYS_syslog as syslog, SYS_umount2 as umount2, SYS_unshare as unshare,
        SYS_userfaultfd as userfaultfd, SYS_vhangup as vhangup,
    };
    // Unimplemented since Linux 2.6 but still numbered; libc no longer names them.
    #[cfg(target_arch = "x86_64")]
    pub const create_module: libc::c_long = 174;
    #[cfg(target_arch = "x86_64")]
    pub const get_kernel_syms: libc::c_long = 177;
    #[cfg(target_arch = "x86_64")]
    pub const query_module: libc::c_long = 178;
}

/// Namespace-creating clone flags (CLONE_NEWTIME, NEWNS, NEWCGROUP, NEWUTS, NEWIPC,
/// NEWUSER, NEWPID, NEWNET).
const CLONE_NS_FLAGS: u32 = 0x0000_0080
    | 0x0002_0000
    | 0x0200_0000
    | 0x0400_0000
    | 0x0800_0000
    | 0x1000_0000
    | 0x2000_0000
    | 0x4000_0000;

/// The policy. Order does not matter for correctness; hot syscalls are not listed at
/// all, and the kernel's seccomp action cache skips the filter for them.
pub static POLICY: &[Group] = &[
    Group {
        why: "reading or steering other processes: ptrace and cross-process memory access \
              are the first step of most in-jail escalations",
        errno: libc::EPERM,
        when: When::Always,
        syscalls: sc![
            ptrace,
            process_vm_readv,
            process_vm_writev,
            pidfd_getfd,
            kcmp
        ],
    },
    Group {
        why: "large kernel attack surfaces with a long record of privilege-escalation bugs, \
              needed by no graded program",
        errno: libc::EPERM,
        when: When::Always,
        syscalls: sc![
            bpf,
            perf_event_open,
            userfaultfd,
            io_uring_setup,
            io_uring_enter,
            io_uring_register
        ],
    },
    Group {
        why: "kernel keyrings are not namespaced: keys would leak between jobs and the host",
        errno: libc::EPERM,
        when: When::Always,
        syscalls: sc![keyctl, add_key, request_key],
    },
    Group {
        why: "the filesystem view is fixed before exec: no mount API, old or new, no chroot",
        errno: libc::EPERM,
        when: When::Always,
        syscalls: sc![
            mount,
            umount2,
            fsopen,
            fsconfig,
            fsmount,
            fspick,
            move_mount,
            open_tree,
            mount_setattr,
            pivot_root,
            chroot
        ],
    },
    Group {
        why: "no new namespaces and no joining others: a fresh user namespace would hand \
              the program capabilities again",
        errno: libc::EPERM,
        when: When::Always,
        syscalls: sc![unshare, setns],
    },
    Group {
        why: "clone with namespace flags, for the same reason as unshare",
        errno: libc::EPERM,
        when: When::ArgAnyBit {
            arg: 0,
            mask: CLONE_NS_FLAGS,
        },
        syscalls: sc![clone],
    },
    Group {
        why: "clone3 keeps its flags in memory BPF cannot read; ENOSYS makes libc fall back \
              to clone, which the rule above checks (Docker does the same)",
        errno: libc::ENOSYS,
        when: When::Always,
        syscalls: sc![clone3],
    },
    Group {
        why: "host-wide state: kernel images and modules, power, swap, clocks, accounting, \
              kernel log, quotas, raw port I/O",
        errno: libc::EPERM,
        when: When::Always,
        syscalls: sc![
            kexec_load,
            kexec_file_load,
            init_module,
            finit_module,
            delete_module,
            reboot,
            swapon,
            swapoff,
            acct,
            settimeofday,
            clock_settime,
            clock_adjtime,
            syslog,
            quotactl,
            quotactl_fd,
            vhangup,
            fanotify_init
        ],
    },
    #[cfg(target_arch = "x86_64")]
    Group {
        why: "obsolete or port-I/O syscalls only x86_64 still carries",
        errno: libc::EPERM,
        when: When::Always,
        syscalls: sc![
            iopl,
            ioperm,
            _sysctl,
            uselib,
            ustat,
            sysfs,
            create_module,
            get_kernel_syms,
            query_module,
            nfsservctl,
            lookup_dcookie
        ],
    },
    Group {
        why: "file handles bypass the mount view: open_by_handle_at is the 'shocker' \
              container escape",
        errno: libc::EPERM,
        when: When::Always,
        syscalls: sc![open_by_handle_at, name_to_handle_at],
    },
    Group {
        why: "TIOCSTI pushes bytes into a terminal's input queue (bwrap CVE-2017-5226); \
              the jail has no tty, this is the second line",
        errno: libc::EPERM,
        when: When::ArgEq {
            arg: 1,
            value: libc::TIOCSTI as u32,
        },
        syscalls: sc![ioctl],
    },
    Group {
        why: "TIOCLINUX can likewise inject into a virtual console",
        errno: libc::EPERM,
        when: When::ArgEq {
            arg: 1,
            value: libc::TIOCLINUX as u32,
        },
        syscalls: sc![ioctl],
    },
];

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xC000_003E;
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xC000_00B7;
/// x32 syscalls arrive with the native arch and this bit set in the number.
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

const BPF_LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
const BPF_JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
const BPF_JSET_K: u16 = (libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K) as u16;
const BPF_RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;
const RET_ALLOW: u32 = 0x7fff_0000;
const RET_KILL_PROCESS: u32 = 0x8000_0000;
const RET_ERRNO: u32 = 0x0005_0000;
const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;
const fn off_arg(i: u8) -> u32 {
    16 + 8 * i as u32
}

fn stmt(code: u16, k: u32) -> sock_filter {
    sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}
fn jump(code: u16, k: u32, jt: u8, jf: u8) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

/// Compiles [`POLICY`] to BPF.
pub fn compile() -> Vec<sock_filter> {
    let mut p = vec![
        // A foreign architecture (i386 via int 0x80) is not something we parse: kill.
        stmt(BPF_LD_W_ABS, OFF_ARCH),
        jump(BPF_JEQ_K, AUDIT_ARCH, 1, 0),
        stmt(BPF_RET_K, RET_KILL_PROCESS),
        stmt(BPF_LD_W_ABS, OFF_NR),
    ];
    if cfg!(target_arch = "x86_64") {
        // The x32 ABI: a second syscall table on the same arch; deny it whole.
        p.push(jump(BPF_JSET_K, X32_SYSCALL_BIT, 0, 1));
        p.push(stmt(BPF_RET_K, RET_ERRNO | libc::EPERM as u32));
    }
    for group in POLICY {
        let ret = stmt(BPF_RET_K, RET_ERRNO | (group.errno as u32 & 0xffff));
        for &(_, nr) in group.syscalls {
            match group.when {
                When::Always => {
                    p.push(jump(BPF_JEQ_K, nr as u32, 0, 1));
                    p.push(ret);
                }
                When::ArgAnyBit { arg, mask } => {
                    p.push(jump(BPF_JEQ_K, nr as u32, 0, 4));
                    p.push(stmt(BPF_LD_W_ABS, off_arg(arg)));
                    p.push(jump(BPF_JSET_K, mask, 0, 1));
                    p.push(ret);
                    p.push(stmt(BPF_LD_W_ABS, OFF_NR));
                }
                When::ArgEq { arg, value } => {
                    p.push(jump(BPF_JEQ_K, nr as u32, 0, 4));
                    p.push(stmt(BPF_LD_W_ABS, off_arg(arg)));
                    p.push(jump(BPF_JEQ_K, value, 0, 1));
                    p.push(ret);
                    p.push(stmt(BPF_LD_W_ABS, OFF_NR));
                }
            }
        }
    }
    p.push(stmt(BPF_RET_K, RET_ALLOW));
    p
}

/// The compiled program, built once per process.
pub fn program() -> &'static [sock_filter] {
    static PROG: std::sync::OnceLock<Vec<sock_filter>> = std::sync::OnceLock::new();
    PROG.get_or_init(compile)
}

/// Installs `prog` on the calling thread. Needs `no_new_privs` first.
pub fn install(prog: &[sock_filter]) -> Result<(), i32> {
    let fprog = sock_fprog {
        len: prog.len() as u16,
        filter: prog.as_ptr() as *mut sock_filter,
    };
    // SAFETY: `fprog` points into `prog`, which outlives the call; the kernel copies it.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0,
            &fprog as *const sock_fprog,
        )
    };
    crate::sys::cvt(rc).map(drop)
}

/// Names of every denied syscall, for `doctor` and the docs.
pub fn denied_names() -> Vec<&'static str> {
    let mut v: Vec<&str> = POLICY
        .iter()
        .flat_map(|g| g.syscalls.iter().map(|s| s.0))
        .collect();
    v.dedup();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn program_fits_and_jumps_are_short() {
        let p = compile();
        assert!(p.len() < 4096);
        assert_eq!(p.last().unwrap().k, RET_ALLOW);
    }

    #[test]
    fn issue_minimum_is_denied() {
        let names = denied_names();
        for must in [
            "ptrace",
            "process_vm_readv",
            "process_vm_writev",
            "bpf",
            "perf_event_open",
            "userfaultfd",
            "io_uring_setup",
            "io_uring_enter",
            "io_uring_register",
            "keyctl",
            "add_key",
            "request_key",
            "mount",
            "umount2",
            "fsopen",
            "fsmount",
            "move_mount",
            "open_tree",
            "pivot_root",
            "unshare",
            "setns",
            "clone",
            "kexec_load",
            "init_module",
            "finit_module",
            "open_by_handle_at",
            "reboot",
            "swapon",
        ] {
            assert!(names.contains(&must), "{must} is not denied");
        }
    }
}
