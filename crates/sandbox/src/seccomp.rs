//! The seccomp policy, kept as data (Firecracker's seccompiler style: a table with
//! the reason for each group), and its compiler to classic BPF.
//!
//! An **allow-list**. Every syscall the table knows is allowed, allowed on
//! condition of its arguments, or refused with EPERM; a syscall the table does not
//! know (one a future kernel adds, an unimplemented relic) gets **ENOSYS**, which is
//! what libc sees on an older kernel and falls back from (glibc's `clone3` → `clone`).
//! Before the table, a foreign architecture (i386 through `int 0x80`) kills the
//! process and the x32 ABI (`nr | 0x4000_0000`) gets EPERM.
//!
//! Hand-built BPF rather than a seccompiler/libseccomp dependency: the jail installs
//! the filter after fork (no allocation then: the program is compiled before), the
//! policy needs argument checks on the low 32 bits only, and the compiler below is a
//! small assembler with labels, unit-tested by running its output. The program is a
//! binary search over the syscall number, so any syscall is decided in a few
//! comparisons; the kernel also caches the verdict of every syscall whose rule reads
//! no argument, which it works out by running the filter for each number when it is
//! installed (a linear list of the allow-list took 2.6× as long to install: 464 µs
//! against 98 µs for the search, 178 µs for the old deny-list, on this machine).
//!
//! docs/sandbox.md compares the policy with Docker's default profile.

use libc::{c_long, sock_filter, sock_fprog};

/// A verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Allow,
    Errno(i32),
}

/// Syscalls with one verdict and the reason for it.
#[derive(Debug)]
pub struct Group {
    pub why: &'static str,
    pub action: Action,
    pub syscalls: &'static [(&'static str, c_long)],
}

/// A test on the low 32 bits of one argument.
#[derive(Debug, Clone, Copy)]
pub enum Test {
    /// The argument is one of `values`.
    In { arg: u8, values: &'static [u32] },
    /// The argument has a bit of `mask` set.
    AnyBit { arg: u8, mask: u32 },
}

/// A syscall whose verdict depends on its arguments: the first arm whose tests all
/// hold decides, else `otherwise`.
#[derive(Debug)]
pub struct Conditional {
    pub why: &'static str,
    pub syscall: (&'static str, c_long),
    pub arms: &'static [(&'static [Test], Action)],
    pub otherwise: Action,
}

/// What a syscall the policy does not know gets.
pub const UNKNOWN: Action = Action::Errno(libc::ENOSYS);

macro_rules! sc {
    ($($name:ident),* $(,)?) => { &[$((stringify!($name), sysno::$name)),*] };
}

/// Syscall numbers under their kernel names. Numbers from 424 up are the same on
/// every architecture; the x86-only ones are -1 (absent) elsewhere.
#[allow(non_upper_case_globals)]
mod sysno {
    use libc::c_long;

    macro_rules! x86_only {
        ($($sys:ident as $name:ident),* $(,)?) => {
            #[cfg(target_arch = "x86_64")]
            pub use libc::{$($sys as $name),*};
            $(#[cfg(not(target_arch = "x86_64"))] pub const $name: c_long = -1;)*
        };
    }

    x86_only!(
        SYS_access as access,
        SYS_alarm as alarm,
        SYS_arch_prctl as arch_prctl,
        SYS_chmod as chmod,
        SYS_chown as chown,
        SYS_creat as creat,
        SYS_dup2 as dup2,
        SYS_epoll_create as epoll_create,
        SYS_epoll_wait as epoll_wait,
        SYS_eventfd as eventfd,
        SYS_fork as fork,
        SYS_futimesat as futimesat,
        SYS_get_thread_area as get_thread_area,
        SYS_set_thread_area as set_thread_area,
        SYS_getdents as getdents,
        SYS_getpgrp as getpgrp,
        SYS_inotify_init as inotify_init,
        SYS_lchown as lchown,
        SYS_link as link,
        SYS_lstat as lstat,
        SYS_mkdir as mkdir,
        SYS_mknod as mknod,
        SYS_open as open,
        SYS_pause as pause,
        SYS_pipe as pipe,
        SYS_poll as poll,
        SYS_readlink as readlink,
        SYS_rename as rename,
        SYS_rmdir as rmdir,
        SYS_select as select,
        SYS_signalfd as signalfd,
        SYS_stat as stat,
        SYS_symlink as symlink,
        SYS_time as time,
        SYS_unlink as unlink,
        SYS_utime as utime,
        SYS_utimes as utimes,
        SYS_vfork as vfork,
        SYS_iopl as iopl,
        SYS_ioperm as ioperm,
        SYS_modify_ldt as modify_ldt,
        SYS__sysctl as _sysctl,
        SYS_uselib as uselib,
        SYS_ustat as ustat,
        SYS_sysfs as sysfs,
    );
    // Unimplemented since Linux 2.6 but still numbered; libc no longer names them.
    #[cfg(target_arch = "x86_64")]
    pub const create_module: c_long = 174;
    #[cfg(target_arch = "x86_64")]
    pub const get_kernel_syms: c_long = 177;
    #[cfg(target_arch = "x86_64")]
    pub const query_module: c_long = 178;
    #[cfg(not(target_arch = "x86_64"))]
    pub const create_module: c_long = -1;
    #[cfg(not(target_arch = "x86_64"))]
    pub const get_kernel_syms: c_long = -1;
    #[cfg(not(target_arch = "x86_64"))]
    pub const query_module: c_long = -1;
    // Newer than this libc.
    pub const cachestat: c_long = 451;
    pub const map_shadow_stack: c_long = 453;
    pub const futex_wake: c_long = 454;
    pub const futex_wait: c_long = 455;
    pub const futex_requeue: c_long = 456;
    pub const statmount: c_long = 457;
    pub const listmount: c_long = 458;
    pub const setxattrat: c_long = 463;
    pub const getxattrat: c_long = 464;
    pub const listxattrat: c_long = 465;
    pub const removexattrat: c_long = 466;
    pub const open_tree_attr: c_long = 467;

    pub use libc::{
        SYS_accept as accept, SYS_accept4 as accept4, SYS_acct as acct, SYS_add_key as add_key,
        SYS_adjtimex as adjtimex, SYS_bind as bind, SYS_bpf as bpf, SYS_brk as brk,
        SYS_capget as capget, SYS_capset as capset, SYS_chdir as chdir, SYS_chroot as chroot,
        SYS_clock_adjtime as clock_adjtime, SYS_clock_getres as clock_getres,
        SYS_clock_gettime as clock_gettime, SYS_clock_nanosleep as clock_nanosleep,
        SYS_clock_settime as clock_settime, SYS_clone as clone, SYS_clone3 as clone3,
        SYS_close as close, SYS_close_range as close_range, SYS_connect as connect,
        SYS_copy_file_range as copy_file_range, SYS_delete_module as delete_module, SYS_dup as dup,
        SYS_dup3 as dup3, SYS_epoll_create1 as epoll_create1, SYS_epoll_ctl as epoll_ctl,
        SYS_epoll_pwait as epoll_pwait, SYS_epoll_pwait2 as epoll_pwait2, SYS_eventfd2 as eventfd2,
        SYS_execve as execve, SYS_execveat as execveat, SYS_exit as exit,
        SYS_exit_group as exit_group, SYS_faccessat as faccessat, SYS_faccessat2 as faccessat2,
        SYS_fadvise64 as fadvise64, SYS_fallocate as fallocate, SYS_fanotify_init as fanotify_init,
        SYS_fanotify_mark as fanotify_mark, SYS_fchdir as fchdir, SYS_fchmod as fchmod,
        SYS_fchmodat as fchmodat, SYS_fchmodat2 as fchmodat2, SYS_fchown as fchown,
        SYS_fchownat as fchownat, SYS_fcntl as fcntl, SYS_fdatasync as fdatasync,
        SYS_fgetxattr as fgetxattr, SYS_finit_module as finit_module, SYS_flistxattr as flistxattr,
        SYS_flock as flock, SYS_fremovexattr as fremovexattr, SYS_fsconfig as fsconfig,
        SYS_fsetxattr as fsetxattr, SYS_fsmount as fsmount, SYS_fsopen as fsopen,
        SYS_fspick as fspick, SYS_fstat as fstat, SYS_fstatfs as fstatfs, SYS_fsync as fsync,
        SYS_ftruncate as ftruncate, SYS_futex as futex, SYS_futex_waitv as futex_waitv,
        SYS_get_mempolicy as get_mempolicy, SYS_get_robust_list as get_robust_list,
        SYS_getcpu as getcpu, SYS_getcwd as getcwd, SYS_getdents64 as getdents64,
        SYS_getegid as getegid, SYS_geteuid as geteuid, SYS_getgid as getgid,
        SYS_getgroups as getgroups, SYS_getitimer as getitimer, SYS_getpeername as getpeername,
        SYS_getpgid as getpgid, SYS_getpid as getpid, SYS_getppid as getppid,
        SYS_getpriority as getpriority, SYS_getrandom as getrandom, SYS_getresgid as getresgid,
        SYS_getresuid as getresuid, SYS_getrlimit as getrlimit, SYS_getrusage as getrusage,
        SYS_getsid as getsid, SYS_getsockname as getsockname, SYS_getsockopt as getsockopt,
        SYS_gettid as gettid, SYS_gettimeofday as gettimeofday, SYS_getuid as getuid,
        SYS_getxattr as getxattr, SYS_init_module as init_module,
        SYS_inotify_add_watch as inotify_add_watch, SYS_inotify_init1 as inotify_init1,
        SYS_inotify_rm_watch as inotify_rm_watch, SYS_io_cancel as io_cancel,
        SYS_io_destroy as io_destroy, SYS_io_getevents as io_getevents, SYS_io_setup as io_setup,
        SYS_io_submit as io_submit, SYS_io_uring_enter as io_uring_enter,
        SYS_io_uring_register as io_uring_register, SYS_io_uring_setup as io_uring_setup,
        SYS_ioctl as ioctl, SYS_ioprio_get as ioprio_get, SYS_ioprio_set as ioprio_set,
        SYS_kcmp as kcmp, SYS_kexec_file_load as kexec_file_load, SYS_kexec_load as kexec_load,
        SYS_keyctl as keyctl, SYS_kill as kill, SYS_landlock_add_rule as landlock_add_rule,
        SYS_landlock_create_ruleset as landlock_create_ruleset,
        SYS_landlock_restrict_self as landlock_restrict_self, SYS_lgetxattr as lgetxattr,
        SYS_linkat as linkat, SYS_listen as listen, SYS_listxattr as listxattr,
        SYS_llistxattr as llistxattr, SYS_lookup_dcookie as lookup_dcookie,
        SYS_lremovexattr as lremovexattr, SYS_lseek as lseek, SYS_lsetxattr as lsetxattr,
        SYS_madvise as madvise, SYS_mbind as mbind, SYS_membarrier as membarrier,
        SYS_memfd_create as memfd_create, SYS_memfd_secret as memfd_secret,
        SYS_migrate_pages as migrate_pages, SYS_mincore as mincore, SYS_mkdirat as mkdirat,
        SYS_mknodat as mknodat, SYS_mlock as mlock, SYS_mlock2 as mlock2, SYS_mlockall as mlockall,
        SYS_mmap as mmap, SYS_mount as mount, SYS_mount_setattr as mount_setattr,
        SYS_move_mount as move_mount, SYS_move_pages as move_pages, SYS_mprotect as mprotect,
        SYS_mq_getsetattr as mq_getsetattr, SYS_mq_notify as mq_notify, SYS_mq_open as mq_open,
        SYS_mq_timedreceive as mq_timedreceive, SYS_mq_timedsend as mq_timedsend,
        SYS_mq_unlink as mq_unlink, SYS_mremap as mremap, SYS_mseal as mseal, SYS_msgctl as msgctl,
        SYS_msgget as msgget, SYS_msgrcv as msgrcv, SYS_msgsnd as msgsnd, SYS_msync as msync,
        SYS_munlock as munlock, SYS_munlockall as munlockall, SYS_munmap as munmap,
        SYS_name_to_handle_at as name_to_handle_at, SYS_nanosleep as nanosleep,
        SYS_newfstatat as newfstatat, SYS_nfsservctl as nfsservctl,
        SYS_open_by_handle_at as open_by_handle_at, SYS_open_tree as open_tree,
        SYS_openat as openat, SYS_openat2 as openat2, SYS_perf_event_open as perf_event_open,
        SYS_personality as personality, SYS_pidfd_getfd as pidfd_getfd,
        SYS_pidfd_open as pidfd_open, SYS_pidfd_send_signal as pidfd_send_signal,
        SYS_pipe2 as pipe2, SYS_pivot_root as pivot_root, SYS_pkey_alloc as pkey_alloc,
        SYS_pkey_free as pkey_free, SYS_pkey_mprotect as pkey_mprotect, SYS_ppoll as ppoll,
        SYS_prctl as prctl, SYS_pread64 as pread64, SYS_preadv as preadv, SYS_preadv2 as preadv2,
        SYS_prlimit64 as prlimit64, SYS_process_madvise as process_madvise,
        SYS_process_mrelease as process_mrelease, SYS_process_vm_readv as process_vm_readv,
        SYS_process_vm_writev as process_vm_writev, SYS_pselect6 as pselect6, SYS_ptrace as ptrace,
        SYS_pwrite64 as pwrite64, SYS_pwritev as pwritev, SYS_pwritev2 as pwritev2,
        SYS_quotactl as quotactl, SYS_quotactl_fd as quotactl_fd, SYS_read as read,
        SYS_readahead as readahead, SYS_readlinkat as readlinkat, SYS_readv as readv,
        SYS_reboot as reboot, SYS_recvfrom as recvfrom, SYS_recvmmsg as recvmmsg,
        SYS_recvmsg as recvmsg, SYS_remap_file_pages as remap_file_pages,
        SYS_removexattr as removexattr, SYS_renameat as renameat, SYS_renameat2 as renameat2,
        SYS_request_key as request_key, SYS_restart_syscall as restart_syscall, SYS_rseq as rseq,
        SYS_rt_sigaction as rt_sigaction, SYS_rt_sigpending as rt_sigpending,
        SYS_rt_sigprocmask as rt_sigprocmask, SYS_rt_sigqueueinfo as rt_sigqueueinfo,
        SYS_rt_sigreturn as rt_sigreturn, SYS_rt_sigsuspend as rt_sigsuspend,
        SYS_rt_sigtimedwait as rt_sigtimedwait, SYS_rt_tgsigqueueinfo as rt_tgsigqueueinfo,
        SYS_sched_get_priority_max as sched_get_priority_max,
        SYS_sched_get_priority_min as sched_get_priority_min,
        SYS_sched_getaffinity as sched_getaffinity, SYS_sched_getattr as sched_getattr,
        SYS_sched_getparam as sched_getparam, SYS_sched_getscheduler as sched_getscheduler,
        SYS_sched_rr_get_interval as sched_rr_get_interval,
        SYS_sched_setaffinity as sched_setaffinity, SYS_sched_setattr as sched_setattr,
        SYS_sched_setparam as sched_setparam, SYS_sched_setscheduler as sched_setscheduler,
        SYS_sched_yield as sched_yield, SYS_seccomp as seccomp, SYS_semctl as semctl,
        SYS_semget as semget, SYS_semop as semop, SYS_semtimedop as semtimedop,
        SYS_sendfile as sendfile, SYS_sendmmsg as sendmmsg, SYS_sendmsg as sendmsg,
        SYS_sendto as sendto, SYS_set_mempolicy as set_mempolicy,
        SYS_set_mempolicy_home_node as set_mempolicy_home_node,
        SYS_set_robust_list as set_robust_list, SYS_set_tid_address as set_tid_address,
        SYS_setdomainname as setdomainname, SYS_setfsgid as setfsgid, SYS_setfsuid as setfsuid,
        SYS_setgid as setgid, SYS_setgroups as setgroups, SYS_sethostname as sethostname,
        SYS_setitimer as setitimer, SYS_setns as setns, SYS_setpgid as setpgid,
        SYS_setpriority as setpriority, SYS_setregid as setregid, SYS_setresgid as setresgid,
        SYS_setresuid as setresuid, SYS_setreuid as setreuid, SYS_setrlimit as setrlimit,
        SYS_setsid as setsid, SYS_setsockopt as setsockopt, SYS_settimeofday as settimeofday,
        SYS_setuid as setuid, SYS_setxattr as setxattr, SYS_shmat as shmat, SYS_shmctl as shmctl,
        SYS_shmdt as shmdt, SYS_shmget as shmget, SYS_shutdown as shutdown,
        SYS_sigaltstack as sigaltstack, SYS_signalfd4 as signalfd4, SYS_socket as socket,
        SYS_socketpair as socketpair, SYS_splice as splice, SYS_statfs as statfs,
        SYS_statx as statx, SYS_swapoff as swapoff, SYS_swapon as swapon,
        SYS_symlinkat as symlinkat, SYS_sync as sync, SYS_sync_file_range as sync_file_range,
        SYS_syncfs as syncfs, SYS_sysinfo as sysinfo, SYS_syslog as syslog, SYS_tee as tee,
        SYS_tgkill as tgkill, SYS_timer_create as timer_create, SYS_timer_delete as timer_delete,
        SYS_timer_getoverrun as timer_getoverrun, SYS_timer_gettime as timer_gettime,
        SYS_timer_settime as timer_settime, SYS_timerfd_create as timerfd_create,
        SYS_timerfd_gettime as timerfd_gettime, SYS_timerfd_settime as timerfd_settime,
        SYS_times as times, SYS_tkill as tkill, SYS_truncate as truncate, SYS_umask as umask,
        SYS_umount2 as umount2, SYS_uname as uname, SYS_unlinkat as unlinkat,
        SYS_unshare as unshare, SYS_userfaultfd as userfaultfd, SYS_utimensat as utimensat,
        SYS_vhangup as vhangup, SYS_vmsplice as vmsplice, SYS_wait4 as wait4, SYS_waitid as waitid,
        SYS_write as write, SYS_writev as writev,
    };
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

const EPERM: Action = Action::Errno(libc::EPERM);

/// The syscalls with one verdict, grouped by why.
pub static POLICY: &[Group] = &[
    Group {
        why: "running code: memory, its mappings and protection keys, the process's own \
              threads, exec, exit",
        action: Action::Allow,
        syscalls: sc![
            brk,
            mmap,
            munmap,
            mremap,
            mprotect,
            madvise,
            mincore,
            msync,
            mlock,
            mlock2,
            munlock,
            mlockall,
            munlockall,
            membarrier,
            memfd_create,
            memfd_secret,
            mseal,
            remap_file_pages,
            pkey_alloc,
            pkey_free,
            pkey_mprotect,
            map_shadow_stack,
            set_tid_address,
            set_robust_list,
            get_robust_list,
            rseq,
            futex,
            futex_waitv,
            futex_wake,
            futex_wait,
            futex_requeue,
            arch_prctl,
            get_thread_area,
            set_thread_area,
            prctl,
            execve,
            execveat,
            exit,
            exit_group,
            fork,
            vfork,
            wait4,
            waitid,
            restart_syscall,
        ],
    },
    Group {
        why: "NUMA placement of the program's own memory, inside its memory cgroup (some \
              runtimes probe it)",
        action: Action::Allow,
        syscalls: sc![mbind, set_mempolicy, get_mempolicy, set_mempolicy_home_node],
    },
    Group {
        why: "signals and process ids inside the jail's own PID namespace",
        action: Action::Allow,
        syscalls: sc![
            rt_sigaction,
            rt_sigprocmask,
            rt_sigreturn,
            rt_sigpending,
            rt_sigtimedwait,
            rt_sigsuspend,
            rt_sigqueueinfo,
            rt_tgsigqueueinfo,
            sigaltstack,
            kill,
            tkill,
            tgkill,
            pause,
            alarm,
            signalfd,
            signalfd4,
            pidfd_open,
            pidfd_send_signal,
            getpid,
            getppid,
            gettid,
            getpgid,
            getpgrp,
            setpgid,
            getsid,
            setsid,
        ],
    },
    Group {
        why: "clocks and timers (setting the clock is refused below)",
        action: Action::Allow,
        syscalls: sc![
            clock_gettime,
            clock_getres,
            clock_nanosleep,
            nanosleep,
            gettimeofday,
            time,
            times,
            adjtimex,
            getitimer,
            setitimer,
            timer_create,
            timer_settime,
            timer_gettime,
            timer_getoverrun,
            timer_delete,
            timerfd_create,
            timerfd_settime,
            timerfd_gettime,
        ],
    },
    Group {
        why: "files and directories, inside the jail's mounts and Landlock's rules",
        action: Action::Allow,
        syscalls: sc![
            read,
            write,
            readv,
            writev,
            pread64,
            pwrite64,
            preadv,
            pwritev,
            preadv2,
            pwritev2,
            open,
            openat,
            openat2,
            creat,
            close,
            close_range,
            lseek,
            dup,
            dup2,
            dup3,
            fcntl,
            flock,
            fsync,
            fdatasync,
            sync,
            syncfs,
            sync_file_range,
            ftruncate,
            truncate,
            fallocate,
            fadvise64,
            readahead,
            stat,
            fstat,
            lstat,
            newfstatat,
            statx,
            statfs,
            fstatfs,
            access,
            faccessat,
            faccessat2,
            getdents,
            getdents64,
            getcwd,
            chdir,
            fchdir,
            mkdir,
            mkdirat,
            rmdir,
            unlink,
            unlinkat,
            rename,
            renameat,
            renameat2,
            link,
            linkat,
            symlink,
            symlinkat,
            readlink,
            readlinkat,
            chmod,
            fchmod,
            fchmodat,
            fchmodat2,
            chown,
            fchown,
            lchown,
            fchownat,
            umask,
            utime,
            utimes,
            utimensat,
            futimesat,
            mknod,
            mknodat,
            copy_file_range,
            sendfile,
            splice,
            tee,
            vmsplice,
            cachestat,
            getxattr,
            lgetxattr,
            fgetxattr,
            getxattrat,
            listxattr,
            llistxattr,
            flistxattr,
            listxattrat,
            setxattr,
            lsetxattr,
            fsetxattr,
            setxattrat,
            removexattr,
            lremovexattr,
            fremovexattr,
            removexattrat,
        ],
    },
    Group {
        why: "pipes, event loops and file watches (libuv, tokio, asyncio)",
        action: Action::Allow,
        syscalls: sc![
            pipe,
            pipe2,
            poll,
            ppoll,
            select,
            pselect6,
            epoll_create,
            epoll_create1,
            epoll_ctl,
            epoll_wait,
            epoll_pwait,
            epoll_pwait2,
            eventfd,
            eventfd2,
            inotify_init,
            inotify_init1,
            inotify_add_watch,
            inotify_rm_watch,
            io_setup,
            io_destroy,
            io_submit,
            io_cancel,
            io_getevents,
        ],
    },
    Group {
        why: "sockets once made (which families may be made is decided below), in the \
              jail's network namespace",
        action: Action::Allow,
        syscalls: sc![
            bind,
            listen,
            accept,
            accept4,
            connect,
            getsockname,
            getpeername,
            sendto,
            recvfrom,
            sendmsg,
            recvmsg,
            sendmmsg,
            recvmmsg,
            shutdown,
            setsockopt,
            getsockopt,
        ],
    },
    Group {
        why: "the program's own identity, limits and scheduling: without capabilities it \
              can only narrow them",
        action: Action::Allow,
        syscalls: sc![
            getuid,
            geteuid,
            getgid,
            getegid,
            getresuid,
            getresgid,
            getgroups,
            setuid,
            setgid,
            setreuid,
            setregid,
            setresuid,
            setresgid,
            setfsuid,
            setfsgid,
            setgroups,
            capget,
            capset,
            getrlimit,
            setrlimit,
            prlimit64,
            getrusage,
            getpriority,
            setpriority,
            sched_yield,
            sched_getaffinity,
            sched_setaffinity,
            sched_getparam,
            sched_setparam,
            sched_getscheduler,
            sched_setscheduler,
            sched_getattr,
            sched_setattr,
            sched_get_priority_max,
            sched_get_priority_min,
            sched_rr_get_interval,
            getcpu,
            ioprio_get,
            ioprio_set,
            uname,
            sysinfo,
            getrandom,
        ],
    },
    Group {
        why: "System V and POSIX IPC, in the jail's own IPC namespace (RLIMIT_MSGQUEUE 0 \
              keeps POSIX queues empty)",
        action: Action::Allow,
        syscalls: sc![
            shmget,
            shmat,
            shmdt,
            shmctl,
            semget,
            semop,
            semtimedop,
            semctl,
            msgget,
            msgsnd,
            msgrcv,
            msgctl,
            mq_open,
            mq_unlink,
            mq_timedsend,
            mq_timedreceive,
            mq_notify,
            mq_getsetattr,
        ],
    },
    Group {
        why: "sandboxing a program may add on top of ours (it can only narrow)",
        action: Action::Allow,
        syscalls: sc![
            seccomp,
            landlock_create_ruleset,
            landlock_add_rule,
            landlock_restrict_self
        ],
    },
    Group {
        why: "reading or steering other processes: ptrace and cross-process memory access \
              are the first step of most in-jail escalations",
        action: EPERM,
        syscalls: sc![
            ptrace,
            process_vm_readv,
            process_vm_writev,
            process_madvise,
            process_mrelease,
            pidfd_getfd,
            kcmp,
            migrate_pages,
            move_pages,
        ],
    },
    Group {
        why: "large kernel attack surfaces with a long record of privilege-escalation bugs, \
              needed by no graded program (libuv falls back from io_uring)",
        action: EPERM,
        syscalls: sc![
            bpf,
            perf_event_open,
            userfaultfd,
            io_uring_setup,
            io_uring_enter,
            io_uring_register,
            modify_ldt,
        ],
    },
    Group {
        why: "kernel keyrings are not namespaced: keys would leak between jobs and the host",
        action: EPERM,
        syscalls: sc![keyctl, add_key, request_key],
    },
    Group {
        why: "the filesystem view is fixed before exec: no mount API, old or new, no chroot",
        action: EPERM,
        syscalls: sc![
            mount,
            umount2,
            fsopen,
            fsconfig,
            fsmount,
            fspick,
            move_mount,
            open_tree,
            open_tree_attr,
            mount_setattr,
            statmount,
            listmount,
            pivot_root,
            chroot,
        ],
    },
    Group {
        why: "no new namespaces and no joining others: a fresh user namespace would hand \
              the program capabilities again",
        action: EPERM,
        syscalls: sc![unshare, setns],
    },
    Group {
        why: "clone3 keeps its flags in memory BPF cannot read; ENOSYS makes libc fall back \
              to clone, whose flags are checked (Docker does the same)",
        action: Action::Errno(libc::ENOSYS),
        syscalls: sc![clone3],
    },
    Group {
        why: "host-wide state: kernel images and modules, power, swap, clocks, accounting, \
              kernel log, quotas, host and domain names, raw port I/O",
        action: EPERM,
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
            fanotify_init,
            fanotify_mark,
            sethostname,
            setdomainname,
            iopl,
            ioperm,
        ],
    },
    Group {
        why: "obsolete syscalls x86_64 still numbers",
        action: EPERM,
        syscalls: sc![
            _sysctl,
            uselib,
            ustat,
            sysfs,
            create_module,
            get_kernel_syms,
            query_module,
            nfsservctl,
            lookup_dcookie,
        ],
    },
    Group {
        why: "file handles bypass the mount view: open_by_handle_at is the 'shocker' \
              container escape",
        action: EPERM,
        syscalls: sc![open_by_handle_at, name_to_handle_at],
    },
];

const AF_UNIX: u32 = libc::AF_UNIX as u32;
const AF_INET: u32 = libc::AF_INET as u32;
const AF_INET6: u32 = libc::AF_INET6 as u32;
const AF_NETLINK: u32 = libc::AF_NETLINK as u32;
const NETLINK_ROUTE: u32 = 0;

/// The syscalls whose verdict depends on their arguments.
pub static CONDITIONAL: &[Conditional] = &[
    Conditional {
        why: "socket families a grader needs: UNIX, IPv4, IPv6, and netlink for routing \
              information only (getifaddrs: Node's os.networkInterfaces, Python's \
              if_nameindex). Refused: AF_VSOCK (reaches the hypervisor and host agents, \
              whatever the network namespace), AF_ALG, AF_PACKET, kernel-event netlink, \
              and every other family",
        syscall: ("socket", sysno::socket),
        arms: &[
            (
                &[Test::In {
                    arg: 0,
                    values: &[AF_UNIX, AF_INET, AF_INET6],
                }],
                Action::Allow,
            ),
            (
                &[
                    Test::In {
                        arg: 0,
                        values: &[AF_NETLINK],
                    },
                    Test::In {
                        arg: 2,
                        values: &[NETLINK_ROUTE],
                    },
                ],
                Action::Allow,
            ),
        ],
        otherwise: Action::Errno(libc::EAFNOSUPPORT),
    },
    Conditional {
        why: "socket pairs are UNIX sockets",
        syscall: ("socketpair", sysno::socketpair),
        arms: &[(
            &[Test::In {
                arg: 0,
                values: &[AF_UNIX],
            }],
            Action::Allow,
        )],
        otherwise: Action::Errno(libc::EAFNOSUPPORT),
    },
    Conditional {
        why: "clone with namespace flags, for the same reason as unshare",
        syscall: ("clone", sysno::clone),
        arms: &[(
            &[Test::AnyBit {
                arg: 0,
                mask: CLONE_NS_FLAGS,
            }],
            EPERM,
        )],
        otherwise: Action::Allow,
    },
    Conditional {
        why: "TIOCSTI pushes bytes into a terminal's input queue (bwrap CVE-2017-5226) and \
              TIOCLINUX can do the same on a virtual console; the jail has no tty, this is \
              the second line",
        syscall: ("ioctl", sysno::ioctl),
        arms: &[(
            &[Test::In {
                arg: 1,
                values: &[libc::TIOCSTI as u32, libc::TIOCLINUX as u32],
            }],
            EPERM,
        )],
        otherwise: Action::Allow,
    },
    Conditional {
        why: "execution domains as Docker allows them: Linux (0), 32-bit uname (8), \
              UNAME26 and both together, and the query 0xffffffff; not READ_IMPLIES_EXEC \
              or ADDR_NO_RANDOMIZE, which weaken memory protections",
        syscall: ("personality", sysno::personality),
        arms: &[(
            &[Test::In {
                arg: 0,
                values: &[0, 0x0008, 0x0002_0000, 0x0002_0008, 0xffff_ffff],
            }],
            Action::Allow,
        )],
        otherwise: EPERM,
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
const BPF_JGE_K: u16 = (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16;
const BPF_JA: u16 = (libc::BPF_JMP | libc::BPF_JA) as u16;
const BPF_RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;
const RET_ALLOW: u32 = 0x7fff_0000;
const RET_KILL_PROCESS: u32 = 0x8000_0000;
const RET_ERRNO: u32 = 0x0005_0000;
const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;
const fn off_arg(i: u8) -> u32 {
    16 + 8 * i as u32
}

fn ret(action: Action) -> u32 {
    match action {
        Action::Allow => RET_ALLOW,
        Action::Errno(e) => RET_ERRNO | (e as u32 & 0xffff),
    }
}

/// A small BPF assembler: conditional jumps name labels, resolved to the forward
/// offsets classic BPF wants when the program is done.
#[derive(Default)]
struct Asm {
    code: Vec<sock_filter>,
    /// (instruction index, label for jt, label for jf); `usize::MAX` = next.
    jumps: Vec<(usize, usize, usize)>,
    /// (instruction index, label) of unconditional jumps, whose offset is 32 bits.
    long_jumps: Vec<(usize, usize)>,
    labels: Vec<Option<usize>>,
}

const NEXT: usize = usize::MAX;

impl Asm {
    fn label(&mut self) -> usize {
        self.labels.push(None);
        self.labels.len() - 1
    }

    fn bind(&mut self, label: usize) {
        self.labels[label] = Some(self.code.len());
    }

    fn stmt(&mut self, code: u16, k: u32) {
        self.code.push(sock_filter {
            code,
            jt: 0,
            jf: 0,
            k,
        });
    }

    fn jump(&mut self, code: u16, k: u32, jt: usize, jf: usize) {
        self.jumps.push((self.code.len(), jt, jf));
        self.stmt(code, k);
    }

    fn ja(&mut self, label: usize) {
        self.long_jumps.push((self.code.len(), label));
        self.stmt(BPF_JA, 0);
    }

    fn finish(mut self) -> Vec<sock_filter> {
        for &(at, label) in &self.long_jumps {
            let target = self.labels[label].expect("every label is bound");
            self.code[at].k = (target - at - 1) as u32;
        }
        for &(at, jt, jf) in &self.jumps {
            let offset = |label: usize| -> u8 {
                if label == NEXT {
                    return 0;
                }
                let target = self.labels[label].expect("every label is bound");
                let off = target - at - 1;
                u8::try_from(off).expect("a BPF jump of at most 255 instructions")
            };
            let (t, f) = (offset(jt), offset(jf));
            (self.code[at].jt, self.code[at].jf) = (t, f);
        }
        self.code
    }
}

/// What the filter decides for one syscall number.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Verdict {
    Is(Action),
    /// `CONDITIONAL[i]` decides.
    Conditional(usize),
}

/// Every syscall number's verdict as sorted, merged intervals `[start, next start)`,
/// the numbers the table does not know filled with [`UNKNOWN`].
fn intervals() -> Vec<(u32, Verdict)> {
    let mut known: Vec<(u32, Verdict)> = POLICY
        .iter()
        .flat_map(|g| {
            g.syscalls
                .iter()
                .map(move |(_, nr)| (*nr, Verdict::Is(g.action)))
        })
        .chain(
            CONDITIONAL
                .iter()
                .enumerate()
                .map(|(i, c)| (c.syscall.1, Verdict::Conditional(i))),
        )
        .filter(|(nr, _)| *nr >= 0)
        .map(|(nr, v)| (nr as u32, v))
        .collect();
    known.sort_by_key(|(nr, _)| *nr);
    let mut out: Vec<(u32, Verdict)> = Vec::new();
    let mut push = |start: u32, v: Verdict| match out.last() {
        Some((_, last)) if *last == v && !matches!(v, Verdict::Conditional(_)) => {}
        _ => out.push((start, v)),
    };
    let mut next = 0u32;
    for (nr, v) in known {
        if nr > next {
            push(next, Verdict::Is(UNKNOWN));
        }
        push(nr, v);
        next = nr + 1;
    }
    push(next, Verdict::Is(UNKNOWN));
    out
}

/// Compiles the policy to BPF: after the architecture checks, a balanced binary
/// search over the syscall number (a few comparisons for any syscall, which keeps
/// both the filter and the kernel's verdict cache, built when it is installed,
/// cheap), ending in a return, or in a conditional's argument checks.
pub fn compile() -> Vec<sock_filter> {
    let mut a = Asm::default();
    // A foreign architecture (i386 via int 0x80) is not something we parse: kill.
    a.stmt(BPF_LD_W_ABS, OFF_ARCH);
    let native = a.label();
    a.jump(BPF_JEQ_K, AUDIT_ARCH, native, NEXT);
    a.stmt(BPF_RET_K, RET_KILL_PROCESS);
    a.bind(native);
    a.stmt(BPF_LD_W_ABS, OFF_NR);
    if cfg!(target_arch = "x86_64") {
        // The x32 ABI: a second syscall table on the same arch; refused whole.
        let native_abi = a.label();
        a.jump(BPF_JSET_K, X32_SYSCALL_BIT, NEXT, native_abi);
        a.stmt(BPF_RET_K, ret(EPERM));
        a.bind(native_abi);
    }
    search(&mut a, &intervals());
    a.finish()
}

/// `if nr >= middle { right half } else { left half }`, down to one interval.
fn search(a: &mut Asm, intervals: &[(u32, Verdict)]) {
    if let [(_, verdict)] = intervals {
        match *verdict {
            Verdict::Is(action) => a.stmt(BPF_RET_K, ret(action)),
            Verdict::Conditional(i) => conditional(a, &CONDITIONAL[i]),
        }
        return;
    }
    let mid = intervals.len() / 2;
    let right = a.label();
    let left = a.label();
    a.jump(BPF_JGE_K, intervals[mid].0, NEXT, left);
    a.ja(right);
    a.bind(left);
    search(a, &intervals[..mid]);
    a.bind(right);
    search(a, &intervals[mid..]);
}

/// The arms of a conditional, each ending in a return, then its `otherwise`.
fn conditional(a: &mut Asm, c: &Conditional) {
    for (tests, action) in c.arms {
        let next_arm = a.label();
        for test in *tests {
            match *test {
                Test::In { arg, values } => {
                    a.stmt(BPF_LD_W_ABS, off_arg(arg));
                    let matched = a.label();
                    for (i, v) in values.iter().enumerate() {
                        let last = i + 1 == values.len();
                        a.jump(BPF_JEQ_K, *v, matched, if last { next_arm } else { NEXT });
                    }
                    a.bind(matched);
                }
                Test::AnyBit { arg, mask } => {
                    a.stmt(BPF_LD_W_ABS, off_arg(arg));
                    a.jump(BPF_JSET_K, mask, NEXT, next_arm);
                }
            }
        }
        a.stmt(BPF_RET_K, ret(*action));
        a.bind(next_arm);
    }
    a.stmt(BPF_RET_K, ret(c.otherwise));
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

/// Names of every syscall refused outright (EPERM, or ENOSYS for clone3), for
/// `doctor` and the docs.
pub fn denied_names() -> Vec<&'static str> {
    names(|a| a != Action::Allow)
}

fn names(pick: impl Fn(Action) -> bool) -> Vec<&'static str> {
    POLICY
        .iter()
        .filter(|g| pick(g.action))
        .flat_map(|g| g.syscalls.iter())
        .filter(|(_, nr)| *nr >= 0)
        .map(|(name, _)| *name)
        .collect()
}

/// The part of the policy an OCI runtime spec can state, for gVisor to apply to the
/// command inside its own kernel (`runsc --oci-seccomp`; gvisor.rs): every refused
/// group with its errno, and each conditional refusal decided by one test (`clone`
/// with a namespace flag, one rule per flag bit; `ioctl` TIOCSTI and TIOCLINUX).
/// Not stated: the allow-list's default (gVisor answers a call it does not
/// implement with ENOSYS itself), refusals with another errno than EPERM, and the
/// allowed socket families and personalities (gVisor has none of the refused
/// families, and refuses every personality change).
pub fn oci_rules() -> &'static serde_json::Value {
    static RULES: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    RULES.get_or_init(build_oci_rules)
}

fn build_oci_rules() -> serde_json::Value {
    use serde_json::json;
    // The runsc of Debian 12 (2022-12) ignores `errnoRet` and answers EPERM: only
    // EPERM refusals are stated (clone3's ENOSYS, which libc falls back from, is
    // what gVisor answers by itself).
    let errno = |action: Action| match action {
        Action::Errno(e) if e == libc::EPERM => Some(e),
        _ => None,
    };
    let mut rules = Vec::new();
    for g in POLICY {
        let Some(e) = errno(g.action) else { continue };
        let names: Vec<&str> = g
            .syscalls
            .iter()
            .filter(|s| s.1 >= 0)
            .map(|s| s.0)
            .collect();
        if !names.is_empty() {
            rules.push(json!({"names": names, "action": "SCMP_ACT_ERRNO", "errnoRet": e}));
        }
    }
    for c in CONDITIONAL
        .iter()
        .filter(|c| c.otherwise == Action::Allow && c.syscall.1 >= 0)
    {
        for (tests, action) in c.arms {
            let (Some(e), [test]) = (errno(*action), tests) else {
                continue;
            };
            let args: Vec<serde_json::Value> = match *test {
                Test::In { arg, values } => values
                    .iter()
                    .map(|v| json!({"index": arg, "value": v, "op": "SCMP_CMP_EQ"}))
                    .collect(),
                Test::AnyBit { arg, mask } => (0..32)
                    .map(|b| 1u32 << b)
                    .filter(|bit| mask & bit != 0)
                    .map(|bit| {
                        json!({"index": arg, "value": bit, "valueTwo": bit, "op": "SCMP_CMP_MASKED_EQ"})
                    })
                    .collect(),
            };
            for arg in args {
                rules.push(json!({
                    "names": [c.syscall.0], "action": "SCMP_ACT_ERRNO", "errnoRet": e,
                    "args": [arg],
                }));
            }
        }
    }
    json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": rules})
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the compiled filter answers for `nr` with `args`, by running it.
    fn verdict(prog: &[sock_filter], arch: u32, nr: u32, args: [u64; 6]) -> u32 {
        let mut data = [0u8; 64];
        data[0..4].copy_from_slice(&nr.to_le_bytes());
        data[4..8].copy_from_slice(&arch.to_le_bytes());
        for (i, a) in args.iter().enumerate() {
            data[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_le_bytes());
        }
        let (mut pc, mut acc) = (0usize, 0u32);
        loop {
            let insn = prog[pc];
            match insn.code {
                BPF_LD_W_ABS => {
                    let k = insn.k as usize;
                    acc = u32::from_le_bytes(data[k..k + 4].try_into().unwrap());
                    pc += 1;
                }
                BPF_JEQ_K | BPF_JSET_K | BPF_JGE_K => {
                    let hit = match insn.code {
                        BPF_JEQ_K => acc == insn.k,
                        BPF_JSET_K => acc & insn.k != 0,
                        _ => acc >= insn.k,
                    };
                    pc += 1 + usize::from(if hit { insn.jt } else { insn.jf });
                }
                BPF_JA => pc += 1 + insn.k as usize,
                BPF_RET_K => return insn.k,
                other => panic!("unexpected BPF opcode {other:#x}"),
            }
        }
    }

    #[test]
    fn every_syscall_has_one_verdict() {
        let mut seen = std::collections::HashMap::new();
        let all = POLICY
            .iter()
            .flat_map(|g| g.syscalls.iter())
            .chain(CONDITIONAL.iter().map(|c| &c.syscall));
        for (name, nr) in all.filter(|(_, nr)| *nr >= 0) {
            assert!(seen.insert(*nr, *name).is_none(), "{name} is listed twice");
        }
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn the_filter_says_what_the_table_says() {
        let p = compile();
        assert!(p.len() < 512, "{} instructions", p.len());
        let v = |nr: c_long, args: [u64; 6]| verdict(&p, AUDIT_ARCH, nr as u32, args);
        let z = [0u64; 6];
        for g in POLICY {
            for (name, nr) in g.syscalls.iter().filter(|(_, nr)| *nr >= 0) {
                assert_eq!(v(*nr, z), ret(g.action), "{name}");
            }
        }
        // Every number the table does not name, up to well past today's last one.
        let named: Vec<c_long> = POLICY
            .iter()
            .flat_map(|g| g.syscalls.iter().map(|(_, nr)| *nr))
            .chain(CONDITIONAL.iter().map(|c| c.syscall.1))
            .collect();
        for nr in (0..1024).filter(|nr| !named.contains(nr)) {
            assert_eq!(v(nr, z), ret(UNKNOWN), "{nr}");
        }
        let errno = |e: i32| ret(Action::Errno(e));
        for (name, nr, args, want) in [
            ("socket unix", sysno::socket, [1, 1, 0, 0, 0, 0], RET_ALLOW),
            (
                "socket inet6",
                sysno::socket,
                [10, 1, 0, 0, 0, 0],
                RET_ALLOW,
            ),
            (
                "socket vsock",
                sysno::socket,
                [40, 1, 0, 0, 0, 0],
                errno(libc::EAFNOSUPPORT),
            ),
            (
                "socket alg",
                sysno::socket,
                [38, 5, 0, 0, 0, 0],
                errno(libc::EAFNOSUPPORT),
            ),
            (
                "netlink route",
                sysno::socket,
                [16, 3, 0, 0, 0, 0],
                RET_ALLOW,
            ),
            (
                "netlink uevent",
                sysno::socket,
                [16, 3, 15, 0, 0, 0],
                errno(libc::EAFNOSUPPORT),
            ),
            (
                "socketpair inet",
                sysno::socketpair,
                [2, 1, 0, 0, 0, 0],
                errno(libc::EAFNOSUPPORT),
            ),
            (
                "clone thread",
                sysno::clone,
                [0x3d0f00, 0, 0, 0, 0, 0],
                RET_ALLOW,
            ),
            (
                "clone newuser",
                sysno::clone,
                [0x1000_0011, 0, 0, 0, 0, 0],
                errno(libc::EPERM),
            ),
            (
                "ioctl fionbio",
                sysno::ioctl,
                [0, 0x5421, 0, 0, 0, 0],
                RET_ALLOW,
            ),
            (
                "ioctl tiocsti",
                sysno::ioctl,
                [0, 0x5412, 0, 0, 0, 0],
                errno(libc::EPERM),
            ),
            (
                "personality query",
                sysno::personality,
                [0xffff_ffff, 0, 0, 0, 0, 0],
                RET_ALLOW,
            ),
            (
                "personality linux32",
                sysno::personality,
                [8, 0, 0, 0, 0, 0],
                RET_ALLOW,
            ),
            (
                "read_implies_exec",
                sysno::personality,
                [0x0040_0000, 0, 0, 0, 0, 0],
                errno(libc::EPERM),
            ),
            ("unknown 999", 999, z, errno(libc::ENOSYS)),
            ("lsm_get_self_attr", 459, z, errno(libc::ENOSYS)),
            ("x32 getpid", 0x4000_0027, z, errno(libc::EPERM)),
        ] {
            assert_eq!(v(nr, args), want, "{name}");
        }
        assert_eq!(verdict(&p, 0x4000_0003, 20, z), RET_KILL_PROCESS, "i386");
    }
}
