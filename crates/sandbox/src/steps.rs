//! The step table: every step of a run, in execution order, with the side that takes
//! it, the name errors show, and one line on what it does. It is the only list:
//! the [`Step`] enum, [`Step::name`], the `(step, errno)` messages of `wire.rs`, the
//! error a failed step returns and the table in docs/sandbox.md (a test checks it)
//! all come from here.

/// Which process takes a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The calling thread, in `run()`.
    Supervisor,
    /// PID 1 of the jail, between the clone and the payload's start, and after it.
    Init,
    /// The process that becomes the command (PID 3), before its `execve`.
    Payload,
}

impl Side {
    pub fn name(self) -> &'static str {
        match self {
            Side::Supervisor => "supervisor",
            Side::Init => "init",
            Side::Payload => "payload",
        }
    }
}

macro_rules! steps {
    ($($side:ident $variant:ident $name:literal $what:literal;)*) => {
        /// One step of a run (see the module comment). The discriminant, in table
        /// order from 0, is what travels through the message pipe.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[repr(u32)]
        pub enum Step {
            $($variant,)*
        }

        impl Step {
            /// Every step, in execution order.
            pub const ALL: &'static [Step] = &[$(Step::$variant,)*];

            /// The name errors and docs use.
            pub const fn name(self) -> &'static str {
                match self {
                    $(Step::$variant => $name,)*
                }
            }

            /// What the step does, in one line (docs/sandbox.md).
            pub const fn what(self) -> &'static str {
                match self {
                    $(Step::$variant => $what,)*
                }
            }

            pub const fn side(self) -> Side {
                match self {
                    $(Step::$variant => Side::$side,)*
                }
            }
        }
    };
}

steps! {
    Supervisor Plan "plan"
        "validate the spec (paths absolute and normalised, no nesting, nothing inside the jail's own directories, host paths free of symlinks) and prepare every string, path, pointer array and the BPF program the jail needs";
    Supervisor BindSources "bind-sources"
        "as root: a detached copy of each of the caller's bind sources and overlay lowers (`openat2(RESOLVE_NO_SYMLINKS)`, `open_tree(OPEN_TREE_CLONE)`, `mount_setattr`), made with the supervisor's credentials, so the jail user never walks the host folders above them";
    Supervisor CgroupCreate "cgroup-create"
        "the run's cgroup(s) under Gauntlet's own: before the clone on v2 (the jail is born in it), while the jail mounts on v1";
    Supervisor CgroupLimits "cgroup-limits"
        "memory (no swap), pids and, on v1, kernel TCP buffer limits written into it";
    Supervisor Pipes "pipes"
        "stdout, stderr, the message pipe, the results channel and the sync socket (under gVisor stdout, stderr and the results channel are sockets); the jail's ends numbered above 9 and handed to the jail user";
    Supervisor Network "network"
        "the namespace to join (`Network::Join`), or an empty one lent from the pool; otherwise the clone makes one";
    Supervisor Clone "clone"
        "`clone3` with a new user, mount, PID, IPC and UTS namespace (and network, unless one is joined) and a pidfd, into the v2 cgroup; as root, with the thread's effective ids switched to 990000 for the call, so that uid owns the new user namespace";
    Supervisor UidMap "uid-map"
        "`1000 <host uid> 1`: the caller's uid when rootless, 990000 as root (`setgroups deny` when rootless); under gVisor (root only) also `0 990001 1` for runsc and `65534 990002 1` for its sentry";
    Supervisor GidMap "gid-map"
        "`1000 <host gid> 1`";
    Supervisor StartJail "start-jail"
        "tell the jail to go on (sync socket)";
    Supervisor SendCgroup "send-cgroup"
        "v1: open each hierarchy's `tasks` file of the new cgroups and send the descriptors (`SCM_RIGHTS`); v2: an empty message";
    Init WaitForSupervisor "wait-for-supervisor"
        "`PR_SET_PDEATHSIG(SIGKILL)`, then wait for the go; EOF means the supervisor is gone";
    Init SetIds "set-ids"
        "become uid/gid 1000 with no supplementary groups (raw syscalls), then the death signal again (a credential change clears it)";
    Init HideFromPtrace "hide-from-ptrace"
        "`PR_SET_DUMPABLE 0`: init holds a copy of the supervisor's memory; the payload (same uid) must not open `/proc/1/mem` or `/proc/1/fd`";
    Init ScrubIdentity "scrub-identity"
        "name `gauntlet-init`; `/proc/1/cmdline` pointed at that name and `/proc/1/environ` at nothing (`PR_SET_MM_MAP`), init's copy of the supervisor's argv and environment zeroed";
    Init CloseInheritedFds "close-inherited-fds"
        "close every descriptor but the jail's own pipes and socket (the host process's sockets, database connections)";
    Init MakeMountsPrivate "make-mounts-private"
        "`MS_REC|MS_PRIVATE` on `/`: no propagation to or from the host";
    Init MountRootTmpfs "mount-root-tmpfs"
        "a 1 MiB tmpfs (4096 inodes) as the new root";
    Init PivotRoot "pivot-root"
        "`pivot_root` into it; the host stays reachable at `/.oldroot` until detach-old-root";
    Init BuildSkeleton "build-skeleton"
        "directories and mount points, `/bin`, `/lib`… as the host's merged-`/usr` links, a fresh minimal `/etc`";
    Init BindPaths "bind-paths"
        "`/usr`, `/etc/alternatives`, `/etc/ld.so.cache` by path (`openat2(RESOLVE_NO_SYMLINKS)`, `open_tree(OPEN_TREE_CLONE)`, `mount_setattr`, `move_mount`), then the caller's binds: the supervisor's copies attached with `move_mount` (root), or by path like the system's (rootless); not recursive";
    Init MountProc "mount-proc"
        "a procfs of the new PID namespace; `/proc/bus`, `/proc/fs`, `/proc/irq`, `/proc/sys`, `/proc/sysrq-trigger` read-only (Docker's list)";
    Init BuildDev "build-dev"
        "a tmpfs `/dev` with `null zero full random urandom` (and `kvm` for gVisor's KVM platform), the `fd`/`std*` links and a size-capped `/dev/shm`, then read-only";
    Init MaskProc "mask-proc"
        "the `/proc` entries Docker masks that this kernel has (`kcore`, `keys`, `timer_list`, `sched_debug`, `acpi`, …): files under `/dev/null`, directories under an empty read-only tmpfs";
    Init MountTmp "mount-tmp"
        "the per-run `/tmp`, size-capped";
    Init MountOverlay "mount-overlay"
        "per overlay: a size-capped tmpfs staged under the old root for `upper/`, `work/` and, as root, the supervisor's copies of the lowers (`move_mount`), then the overlay over them";
    Init GvisorState "gvisor-state"
        "under gVisor: runsc's state folder, a 1 MiB tmpfs at `/.gvisor/state` (its bundle, `/.gvisor/config.json`, was written with the skeleton)";
    Init DetachOldRoot "detach-old-root"
        "`umount2(/.oldroot, MNT_DETACH)` by a helper that sleeps through the RCU grace period while init goes on once `rmdir` proves the detach";
    Init RemountRootReadOnly "remount-root-read-only"
        "the root tmpfs goes read-only";
    Init SetHostname "set-hostname"
        "`gauntlet`";
    Init LoopbackUp "loopback-up"
        "`lo` up in a namespace the clone made (a joined or lent one is ready)";
    Init CgroupAttach "cgroup-attach"
        "wait for the cgroup message; v1: write `0` to each `tasks` descriptor (the jail moves itself); EOF means the supervisor is gone";
    Init CgroupNamespace "cgroup-namespace"
        "`unshare(CLONE_NEWCGROUP)`: the run's cgroup is the jail's `/`";
    Init SpawnPayload "spawn-payload"
        "`clone(CLONE_VM|CLONE_VFORK)` on a stack carved out of init's: the payload (PID 3) shares init's memory until its `execve`";
    Payload NewSession "new-session"
        "`setsid`: no controlling terminal";
    Payload DieWithInit "die-with-init"
        "`PR_SET_PDEATHSIG(SIGKILL)`";
    Payload Stdio "stdio"
        "stdin `/dev/null`, stdout and stderr the pipes, fd 3 the results channel when on, fd 4 a warm jail's job socket; everything else closed (under gVisor the results channel is stdin, which a shim inside gVisor moves to fd 3)";
    Payload Workdir "workdir"
        "`chdir` to the working directory, `umask 022`";
    Payload Rlimits "rlimits"
        "core 0, nofile 1024, fsize, stack 8 MiB, cpu, memlock 64 KiB, msgqueue 0; a warm jail's niceness";
    Payload GvisorIds "gvisor-ids"
        "under gVisor: become uid/gid 0 of the jail's user namespace (host 990001), with the capabilities runsc needs there to build its sandbox; drop-capabilities, landlock and seccomp are then skipped: the command inside gVisor runs as 1000 with no capabilities and `no_new_privs`, and runsc filters its sentry's system calls itself";
    Payload DropCapabilities "drop-capabilities"
        "the bounding set one by one, the ambient set, then effective, permitted and inheritable";
    Payload NoNewPrivs "no-new-privs"
        "`PR_SET_NO_NEW_PRIVS`";
    Payload Landlock "landlock"
        "read and execute everywhere, write only beneath the writable paths (when the kernel has Landlock)";
    Payload Seccomp "seccomp"
        "the BPF filter, last, so it need not allow the set-up";
    Payload Exec "exec"
        "`execve` of each PATH candidate, with exactly the prepared environment (under gVisor: `runsc run` on the bundle)";
    Init ReapPayload "reap-payload"
        "reap until the payload ends, then send its wait status";
    Init KillLeftovers "kill-leftovers"
        "`kill(-1, SIGKILL)` and reap: whatever the payload left behind (double-forked daemons) dies before files are read";
    Init CollectFiles "collect-files"
        "read the `Collect` files with `RESOLVE_IN_ROOT|RESOLVE_NO_SYMLINKS`, regular files only, size-capped, and send them";
    Supervisor Watch "watch"
        "forward output under the cap; stop on the wall, idle, CPU, memory, pids or output limit, or a `Control` kill; the kill takes init and its whole PID namespace";
    Supervisor Report "report"
        "status, exit code or signal, times, peak memory, byte counts, layers, collected files, results";
}

impl Step {
    /// The step's number in the table, from 1.
    pub fn number(self) -> u32 {
        self as u32 + 1
    }

    /// The step whose discriminant is `v` (a message from the jail).
    pub fn from_u32(v: u32) -> Option<Step> {
        Step::ALL.get(v as usize).copied()
    }
}

/// A step that failed in the jail: what `wire.rs` carries and the supervisor turns
/// into an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure {
    pub step: Step,
    pub errno: i32,
    /// Which item of the step's list failed (a bind, an overlay, a collect file),
    /// or [`NO_DETAIL`].
    pub detail: u32,
}

pub const NO_DETAIL: u32 = u32::MAX;

/// The error of one step function: an errno, and which item of its list failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    pub errno: i32,
    pub detail: u32,
}

impl From<i32> for Fault {
    fn from(errno: i32) -> Fault {
        Fault {
            errno,
            detail: NO_DETAIL,
        }
    }
}

/// `result.at(Step::X)?`: a step function's error, named by its step.
pub trait At<T> {
    fn at(self, step: Step) -> Result<T, Failure>;
}

impl<T, E: Into<Fault>> At<T> for Result<T, E> {
    #[inline]
    fn at(self, step: Step) -> Result<T, Failure> {
        self.map_err(|e| {
            let f = e.into();
            Failure {
                step,
                errno: f.errno,
                detail: f.detail,
            }
        })
    }
}

/// `result.item(i)`: which item of a step's list an error is about.
pub trait Item<T> {
    fn item(self, index: usize) -> Result<T, Fault>;
}

impl<T> Item<T> for Result<T, i32> {
    #[inline]
    fn item(self, index: usize) -> Result<T, Fault> {
        self.map_err(|errno| Fault {
            errno,
            detail: index as u32,
        })
    }
}

impl Step {
    /// The step table as docs/sandbox.md shows it.
    pub fn markdown_table() -> String {
        let mut t = String::from("| # | side | step | what |\n|---|---|---|---|\n");
        for s in Step::ALL {
            t.push_str(&format!(
                "| {} | {} | `{}` | {} |\n",
                s.number(),
                s.side().name(),
                s.name(),
                s.what()
            ));
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_numbers_follow_the_table() {
        for (i, s) in Step::ALL.iter().enumerate() {
            assert_eq!(s.number() as usize, i + 1);
            assert_eq!(Step::from_u32(*s as u32), Some(*s));
            assert_eq!(
                Step::ALL.iter().filter(|t| t.name() == s.name()).count(),
                1,
                "{}",
                s.name()
            );
        }
        assert_eq!(Step::from_u32(Step::ALL.len() as u32), None);
    }

    /// docs/sandbox.md carries the table between two markers, exactly as generated.
    #[test]
    fn docs_number_the_steps_as_the_table_does() {
        // Built in, so the test binary runs anywhere (tests/rootless/run.sh runs a
        // copy as a user who cannot read the clone).
        let docs = include_str!("../../../docs/sandbox.md");
        let (begin, end) = ("<!-- steps:begin -->\n", "<!-- steps:end -->");
        let start = docs.find(begin).expect("steps:begin marker") + begin.len();
        let stop = docs.find(end).expect("steps:end marker");
        let want = Step::markdown_table();
        assert!(
            docs[start..stop] == want,
            "docs/sandbox.md's step table is stale; replace it with:\n{want}"
        );
    }
}
