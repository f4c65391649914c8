//! Validates a [`Spec`] and turns it into a [`Plan`]: every path, string, option and
//! pointer the jail needs after fork, prepared in the parent so the child never
//! allocates.

use std::ffi::{CStr, CString, OsStr};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use crate::gvisor::{self, Platform};
use crate::steps::Step;
use crate::sys::{self, CStrArray, MmLayout};
use crate::{Error, Isolation, Network, Spec};

/// Directories that hold the jail's own mounts: user paths may not go there.
const RESERVED: &[&str] = &[
    "/proc",
    "/dev",
    "/usr",
    "/etc",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/tmp",
    "/.oldroot",
    "/.ovl",
    crate::gvisor::DIR,
];

/// Where a bind's (or an overlay lower's) source comes from.
pub enum Source {
    /// `/.oldroot/<host path>`: the jail opens it by path, with its own credentials,
    /// so every parent folder must let the jail user through. Rootless (the jail
    /// user is the caller) and the host's system directories.
    Path(CString),
    /// A detached copy of the host mount, made by the supervisor with its own
    /// credentials (`open_tree(OPEN_TREE_CLONE)`), attributes already set: the jail
    /// only attaches it (`move_mount`), wherever the host path lies.
    Tree(OwnedFd),
}

pub struct BindOp {
    pub src: Source,
    /// The host path, absolute and free of symlinks.
    pub host: PathBuf,
    pub dst: CString,
    pub writable: bool,
    /// `HOST → INSIDE`, for errors.
    pub what: String,
}

impl BindOp {
    pub fn attrs(&self) -> u64 {
        if self.writable {
            sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NODEV
        } else {
            sys::MOUNT_ATTR_RDONLY | sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NODEV
        }
    }
}

pub struct LowerOp {
    pub src: Source,
    pub host: PathBuf,
    /// Where a `Tree` source is attached before the overlay is mounted: under the
    /// overlay's staging tmpfs, which detach-old-root takes away with everything.
    pub staged: CString,
}

pub struct OverlayOp {
    pub staging: CString,
    /// `LOWER:… → INSIDE`, for errors.
    pub what: String,
    pub upper: CString,
    pub work: CString,
    pub lowers: Vec<LowerOp>,
    pub tmpfs_opts: CString,
    /// The overlay's mount options (see [`OverlayOp::set_opts`]).
    pub opts: CString,
    pub dst: CString,
}

impl OverlayOp {
    /// `lowerdir=` from where each lower is when the overlay is mounted.
    fn set_opts(&mut self) -> Result<(), Error> {
        let mut lowers = Vec::new();
        for l in &self.lowers {
            let path = match &l.src {
                Source::Path(p) => p.to_str(),
                Source::Tree(_) => l.staged.to_str(),
            };
            lowers.push(path.map_err(|_| {
                Error::InvalidSpec(format!("overlay lower {} is not UTF-8", l.host.display()))
            })?);
        }
        let staging = self.staging.to_str().unwrap_or_default();
        self.opts = cstr(format!(
            "lowerdir={},upperdir={staging}/upper,workdir={staging}/work,userxattr",
            lowers.join(":")
        ))?;
        Ok(())
    }
}

pub struct Plan {
    /// Host directory the root tmpfs is mounted on before pivot_root.
    pub staging: CString,
    pub root_opts: CString,
    pub tmp_opts: CString,
    /// Directories to create in the new root, parents first.
    pub dirs: Vec<CString>,
    /// Empty files to create as mount points for file binds.
    pub mount_files: Vec<CString>,
    /// (target, link) symlinks in the new root (`/bin -> usr/bin`, `/etc/localtime`).
    pub symlinks: Vec<(CString, CString)>,
    /// Small files written into the new root (`/etc/passwd`, …).
    pub files: Vec<(CString, Vec<u8>)>,
    pub binds: Vec<BindOp>,
    pub overlays: Vec<OverlayOp>,
    pub join_net: bool,
    pub rlimits: Vec<(libc::__rlimit_resource_t, u64, u64)>,
    pub workdir: CString,
    pub exec_candidates: Vec<CString>,
    pub argv: CStrArray,
    pub envp: CStrArray,
    /// The jail user is the caller (no root): `setgroups` is denied.
    pub rootless: bool,
    /// Writable paths for Landlock (dirs), and file binds that are writable.
    pub landlock_rw: Vec<CString>,
    pub landlock_abi: u32,
    pub collect: Vec<(CString, u64)>,
    pub seccomp: &'static [libc::sock_filter],
    /// This process's memory layout, for init to scrub the supervisor's command line
    /// and environment out of its copy (`None`: `/proc/self/stat` unreadable).
    pub mm: Option<MmLayout>,
    /// The `/proc` entries to mask that this kernel has: (path, is a directory).
    pub proc_masks: &'static [(&'static CStr, bool)],
    /// Every descriptor init keeps until its mounts are made, sorted: its own pipes
    /// and socket, and the bind sources of [`Source::Tree`] (set by the supervisor).
    pub keep_fds: Vec<RawFd>,
    /// `binds[first_user_bind..]` are the caller's; before are the system's.
    pub first_user_bind: usize,
    /// A warm jail's preamble starts at this niceness (0: unchanged).
    pub nice: i32,
    /// Under gVisor, its platform: the payload becomes runsc (see gvisor.rs);
    /// `argv`, `envp`, `exec_candidates` and `rlimits` are then runsc's, and the
    /// command's are in the bundle, one of `files`.
    pub gvisor: Option<Platform>,
}

impl Plan {
    /// As root, the caller's bind sources and overlay lowers (a data dir, prepared
    /// layers, job folders, toolchains, exercises, wherever they are) become detached
    /// copies of their host mounts, opened with the supervisor's own credentials:
    /// the jail user never has to get through the host folders above them (a clone
    /// in `/root`, 0700, works). Rootless the jail user is the caller, who can reach
    /// them by path, and `open_tree` needs privilege the caller lacks: paths stay;
    /// so they do as root where the kernel refuses `open_tree` (EPERM, ENOSYS).
    pub fn open_sources(&mut self) -> Result<(), Error> {
        if self.rootless {
            return Ok(());
        }
        let err = |host: &Path, e: i32| Error::Setup {
            step: Step::BindSources.name(),
            source: std::io::Error::new(
                std::io::Error::from_raw_os_error(e).kind(),
                format!(
                    "{}: {}",
                    host.display(),
                    std::io::Error::from_raw_os_error(e)
                ),
            ),
        };
        let first = self.first_user_bind;
        for b in &mut self.binds[first..] {
            let attrs = b.attrs();
            match detached_copy(&b.host, Some(attrs)) {
                Ok(tree) => b.src = Source::Tree(tree),
                Err(libc::EPERM | libc::ENOSYS) => return Ok(()),
                Err(e) => return Err(err(&b.host, e)),
            }
        }
        for o in &mut self.overlays {
            for l in &mut o.lowers {
                match detached_copy(&l.host, None) {
                    Ok(tree) => l.src = Source::Tree(tree),
                    Err(libc::EPERM | libc::ENOSYS) => return Ok(()),
                    Err(e) => return Err(err(&l.host, e)),
                }
            }
            o.set_opts()?;
        }
        Ok(())
    }

    /// The descriptors of every `Tree` source (init keeps them until it has
    /// attached them).
    pub fn tree_fds(&self) -> impl Iterator<Item = RawFd> + '_ {
        let binds = self.binds.iter().map(|b| &b.src);
        let lowers = self
            .overlays
            .iter()
            .flat_map(|o| o.lowers.iter().map(|l| &l.src));
        binds.chain(lowers).filter_map(|s| match s {
            Source::Tree(fd) => Some(fd.as_raw_fd()),
            Source::Path(_) => None,
        })
    }

    /// Which item of a list step an error is about (`Failure::detail`), if any.
    pub fn describe(&self, step: Step, detail: u32) -> Option<&str> {
        let i = detail as usize;
        match step {
            Step::BindPaths => self.binds.get(i).map(|b| b.what.as_str()),
            Step::MountOverlay => self.overlays.get(i).map(|o| o.what.as_str()),
            _ => None,
        }
    }
}

pub fn cstr(p: impl AsRef<OsStr>) -> Result<CString, Error> {
    CString::new(p.as_ref().as_bytes())
        .map_err(|_| Error::InvalidSpec(format!("{:?} contains a NUL byte", p.as_ref())))
}

/// Checks that an inside path is absolute, normalised and free of `..`.
fn inside_path(p: &Path, what: &str) -> Result<PathBuf, Error> {
    if !p.is_absolute() {
        return Err(Error::InvalidSpec(format!(
            "{what} {} is not an absolute path",
            p.display()
        )));
    }
    let mut out = PathBuf::from("/");
    for c in p.components() {
        match c {
            Component::RootDir => {}
            Component::Normal(n) => out.push(n),
            Component::CurDir => {}
            Component::ParentDir | Component::Prefix(_) => {
                return Err(Error::InvalidSpec(format!(
                    "{what} {} contains '..'",
                    p.display()
                )))
            }
        }
    }
    Ok(out)
}

/// A host path must be absolute, normalised and free of symlinks in every
/// component: the host never follows a symlink that a sandbox may have planted
/// (Judge0 CVE-2024-28185). The jail re-checks at mount time (RESOLVE_NO_SYMLINKS).
fn host_path(p: &Path, what: &str) -> Result<PathBuf, Error> {
    let norm = inside_path(p, what)?;
    let mut acc = PathBuf::from("/");
    for c in norm.components().skip(1) {
        acc.push(c);
        let meta = std::fs::symlink_metadata(&acc).map_err(|e| {
            Error::InvalidSpec(format!("{what} {}: {} ({e})", p.display(), acc.display()))
        })?;
        if meta.file_type().is_symlink() {
            return Err(Error::InvalidSpec(format!(
                "{what} {}: {} is a symlink; host paths must not contain symlinks",
                p.display(),
                acc.display()
            )));
        }
    }
    Ok(norm)
}

fn under(p: &Path, base: &Path) -> bool {
    p == base || p.starts_with(base)
}

fn user_mount_point(inside: &Path, what: &str, taken: &mut Vec<PathBuf>) -> Result<(), Error> {
    if inside == Path::new("/") {
        return Err(Error::InvalidSpec(format!("{what} cannot be mounted on /")));
    }
    for r in RESERVED {
        if under(inside, Path::new(r)) {
            return Err(Error::InvalidSpec(format!(
                "{what} {} is inside {r}, which the sandbox provides itself",
                inside.display()
            )));
        }
    }
    for t in taken.iter() {
        if under(inside, t) || under(t, inside) {
            return Err(Error::InvalidSpec(format!(
                "{what} {} overlaps {}; mount points may not nest",
                inside.display(),
                t.display()
            )));
        }
    }
    taken.push(inside.to_path_buf());
    Ok(())
}

/// Top-level entries of the host root that are symlinks into /usr (merged /usr)
/// or real directories to bind, found once.
fn host_top_level() -> &'static [(String, Option<PathBuf>)] {
    static TOP: OnceLock<Vec<(String, Option<PathBuf>)>> = OnceLock::new();
    TOP.get_or_init(|| {
        ["bin", "sbin", "lib", "lib32", "lib64", "libx32"]
            .iter()
            .filter_map(|name| {
                let p = Path::new("/").join(name);
                let meta = std::fs::symlink_metadata(&p).ok()?;
                if meta.file_type().is_symlink() {
                    Some((name.to_string(), Some(std::fs::read_link(&p).ok()?)))
                } else if meta.is_dir() {
                    Some((name.to_string(), None))
                } else {
                    None
                }
            })
            .collect()
    })
}

pub const JAIL_UID: u32 = 1000;
pub const JAIL_GID: u32 = 1000;
/// The descriptor the command finds the results channel on, and the variable that
/// says so.
pub const RESULTS_FD: libc::c_int = 3;
const RESULTS_FD_VAR: &str = "GAUNTLET_RESULTS_FD";
/// A warm jail's job socket (`Spec::warm`), and the variable that says so.
pub const JOB_FD: libc::c_int = 4;
const JOB_FD_VAR: &str = "GAUNTLET_JOB_FD";
/// The command's PATH unless the spec gives its own.
pub const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin";

/// Validates `spec` and prepares everything the jail will need, in the jail's order.
pub fn build(spec: &Spec, landlock_abi: u32) -> Result<Plan, Error> {
    check_limits(&spec.limits)?;
    let mut p = Plan::empty(spec, landlock_abi)?;
    p.system_root()?;
    p.etc_files()?;
    let mut taken = Vec::new();
    p.user_binds(spec, &mut taken)?;
    p.user_overlays(spec, &mut taken)?;
    p.rlimits = rlimits(spec);
    if let Some(w) = &spec.warm {
        if !(0..=19).contains(&w.nice) {
            return Err(Error::InvalidSpec(format!(
                "warm nice must be 0 to 19, not {}",
                w.nice
            )));
        }
        p.nice = w.nice;
    }
    let env = p.command(spec)?;
    if spec.isolation == Isolation::Gvisor {
        p.under_gvisor(spec, &env)?;
    }
    p.collect = spec
        .collect
        .iter()
        .map(|c| Ok((cstr(inside_path(&c.inside, "collect")?)?, c.max_bytes)))
        .collect::<Result<_, Error>>()?;
    Ok(p)
}

fn check_limits(l: &crate::Limits) -> Result<(), Error> {
    let bad = |m: &str| Err(Error::InvalidSpec(m.into()));
    if l.memory < 4 << 20 {
        return bad("memory limit below 4 MiB");
    }
    if l.pids < 2 {
        return bad("pids limit below 2");
    }
    if l.wall_time.is_zero() || l.cpu_time.is_zero() {
        return bad("time limits must be positive");
    }
    if l.tmp_size < 4096 {
        return bad("tmp size below 4 KiB");
    }
    Ok(())
}

/// Resource limits, the second line behind the cgroup and the supervisor.
fn rlimits(spec: &Spec) -> Vec<(libc::__rlimit_resource_t, u64, u64)> {
    let l = &spec.limits;
    // A warm jail's preamble spends CPU before its job's limit starts counting (the
    // supervisor enforces each exactly; this is the backstop for both together).
    let cpu = l.cpu_time
        + spec
            .warm
            .as_ref()
            .map_or(Duration::ZERO, |w| w.preamble_cpu);
    let cpu_s = cpu.as_secs() + u64::from(cpu.subsec_nanos() > 0);
    let fsize = l
        .tmp_size
        .max(spec.overlays.iter().map(|o| o.size).max().unwrap_or(0))
        .max(64 << 20);
    vec![
        (libc::RLIMIT_CORE, 0, 0),
        (libc::RLIMIT_NOFILE, 1024, 1024),
        (libc::RLIMIT_FSIZE, fsize, fsize),
        (libc::RLIMIT_STACK, 8 << 20, 8 << 20),
        (libc::RLIMIT_CPU, cpu_s, cpu_s + 1),
        (libc::RLIMIT_MEMLOCK, 64 << 10, 64 << 10),
        (libc::RLIMIT_MSGQUEUE, 0, 0),
    ]
}

/// The fresh, minimal `/etc`.
const ETC_FILES: [(&str, &str); 5] = [
    (
        "/etc/passwd",
        "root:x:0:0:root:/nonexistent:/usr/sbin/nologin\n\
         sandbox:x:1000:1000:sandbox:/tmp:/bin/sh\n\
         nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
    ),
    (
        "/etc/group",
        "root:x:0:\nsandbox:x:1000:\nnogroup:x:65534:\n",
    ),
    (
        "/etc/hosts",
        "127.0.0.1 localhost gauntlet\n::1 localhost\n",
    ),
    ("/etc/hostname", "gauntlet\n"),
    (
        "/etc/nsswitch.conf",
        "passwd: files\ngroup: files\nhosts: files\n",
    ),
];

impl Plan {
    fn empty(spec: &Spec, landlock_abi: u32) -> Result<Plan, Error> {
        if spec.argv.is_empty() {
            return Err(Error::InvalidSpec("no command given".into()));
        }
        Ok(Plan {
            staging: CString::from(c"/tmp"),
            root_opts: CString::from(c"size=1m,nr_inodes=4096,mode=0755"),
            tmp_opts: cstr(format!("size={},mode=1777", spec.limits.tmp_size))?,
            dirs: Vec::new(),
            mount_files: Vec::new(),
            symlinks: Vec::new(),
            files: Vec::new(),
            binds: Vec::new(),
            overlays: Vec::new(),
            join_net: matches!(spec.network, Network::Join(_)),
            rlimits: Vec::new(),
            workdir: cstr(inside_path(&spec.workdir, "workdir")?)?,
            exec_candidates: Vec::new(),
            argv: CStrArray::new(Vec::new()),
            envp: CStrArray::new(Vec::new()),
            rootless: crate::sys::geteuid() != 0,
            landlock_rw: vec![CString::from(c"/tmp"), CString::from(c"/dev/shm")],
            landlock_abi,
            collect: Vec::new(),
            seccomp: crate::seccomp::program(),
            mm: mm_layout(),
            proc_masks: proc_masks(),
            keep_fds: Vec::new(),
            first_user_bind: 0,
            nice: 0,
            gvisor: None,
        })
    }

    fn bind(&mut self, host: &Path, inside: &Path, writable: bool) -> Result<(), Error> {
        self.binds.push(BindOp {
            src: Source::Path(through_old_root(host)?),
            host: host.to_path_buf(),
            dst: cstr(inside)?,
            writable,
            what: format!("{} → {}", host.display(), inside.display()),
        });
        Ok(())
    }

    /// The skeleton of the new root and the host's system directories in it:
    /// `/usr`, the top-level links of a merged `/usr` (or binds where they are real
    /// directories), Debian's alternatives (awk, editor, … are links into
    /// `/etc/alternatives`), the loader cache, the time zone link.
    fn system_root(&mut self) -> Result<(), Error> {
        for d in [
            "/.oldroot",
            "/usr",
            "/proc",
            "/dev",
            "/tmp",
            "/etc",
            "/etc/alternatives",
        ] {
            self.dirs.push(cstr(d)?);
        }
        self.bind(Path::new("/usr"), Path::new("/usr"), false)?;
        for (name, link) in host_top_level() {
            let inside = Path::new("/").join(name);
            match link {
                Some(target) => self.symlinks.push((cstr(target)?, cstr(&inside)?)),
                None => {
                    self.dirs.push(cstr(&inside)?);
                    self.bind(&inside, &inside, false)?;
                }
            }
        }
        let alternatives = Path::new("/etc/alternatives");
        if alternatives.is_dir() {
            self.bind(alternatives, alternatives, false)?;
        }
        let ld_cache = Path::new("/etc/ld.so.cache");
        if ld_cache.is_file() {
            self.mount_files.push(cstr(ld_cache)?);
            self.bind(ld_cache, ld_cache, false)?;
        }
        if let Ok(tz) = std::fs::read_link("/etc/localtime") {
            self.symlinks.push((cstr(tz)?, cstr("/etc/localtime")?));
        }
        Ok(())
    }

    fn etc_files(&mut self) -> Result<(), Error> {
        for (path, content) in ETC_FILES {
            self.files.push((cstr(path)?, content.as_bytes().to_vec()));
        }
        Ok(())
    }

    /// The caller's binds: absolute, normalised, not nested, not in reserved dirs.
    fn user_binds(&mut self, spec: &Spec, taken: &mut Vec<PathBuf>) -> Result<(), Error> {
        self.first_user_bind = self.binds.len();
        for (binds, writable) in [(&spec.ro_binds, false), (&spec.rw_binds, true)] {
            let what = if writable { "rw-bind" } else { "ro-bind" };
            for b in binds {
                let inside = inside_path(&b.inside, what)?;
                user_mount_point(&inside, what, taken)?;
                let host = host_path(&b.host, what)?;
                let meta = std::fs::metadata(&host)
                    .map_err(|e| Error::InvalidSpec(format!("{what} {}: {e}", host.display())))?;
                push_parents(&mut self.dirs, &inside)?;
                if meta.is_dir() {
                    self.dirs.push(cstr(&inside)?);
                } else {
                    self.mount_files.push(cstr(&inside)?);
                }
                self.bind(&host, &inside, writable)?;
                if writable {
                    self.landlock_rw.push(cstr(&inside)?);
                }
            }
        }
        Ok(())
    }

    /// The caller's overlays; each upper layer lives in a tmpfs staged under the old
    /// root, which detach-old-root unmounts in one go: one RCU grace period for
    /// everything instead of one more per overlay.
    fn user_overlays(&mut self, spec: &Spec, taken: &mut Vec<PathBuf>) -> Result<(), Error> {
        for (i, o) in spec.overlays.iter().enumerate() {
            let inside = inside_path(&o.inside, "overlay")?;
            user_mount_point(&inside, "overlay", taken)?;
            if o.lowers.is_empty() {
                return Err(Error::InvalidSpec(format!(
                    "overlay {} has no lower directory",
                    inside.display()
                )));
            }
            if o.size < 4096 {
                return Err(Error::InvalidSpec("overlay size below 4 KiB".into()));
            }
            push_parents(&mut self.dirs, &inside)?;
            self.dirs.push(cstr(&inside)?);
            let staging = format!("/.oldroot/dev/gauntlet-overlay-{i}");
            let lowers = o
                .lowers
                .iter()
                .enumerate()
                .map(|(j, l)| {
                    let host = overlay_lower(l)?;
                    Ok(LowerOp {
                        src: Source::Path(through_old_root(&host)?),
                        staged: cstr(format!("{staging}/lower-{j}"))?,
                        host,
                    })
                })
                .collect::<Result<Vec<_>, Error>>()?;
            let shown: Vec<String> = o.lowers.iter().map(|l| l.display().to_string()).collect();
            let mut op = OverlayOp {
                upper: cstr(format!("{staging}/upper"))?,
                work: cstr(format!("{staging}/work"))?,
                lowers,
                tmpfs_opts: cstr(format!("size={},mode=0755", o.size))?,
                opts: CString::default(),
                staging: cstr(&staging)?,
                what: format!("{} → {}", shown.join(":"), inside.display()),
                dst: cstr(&inside)?,
            };
            op.set_opts()?;
            self.overlays.push(op);
            self.landlock_rw.push(cstr(&inside)?);
        }
        Ok(())
    }

    /// The payload becomes runsc, which runs the command in gVisor with the
    /// environment `env`, the jail's root read-only and its writable paths writable.
    fn under_gvisor(&mut self, spec: &Spec, env: &[(String, String)]) -> Result<(), Error> {
        let writable: Vec<PathBuf> = self
            .landlock_rw
            .iter()
            .map(|c| PathBuf::from(OsStr::from_bytes(c.as_bytes())))
            .collect();
        let gvisor::GvisorPlan {
            platform,
            config: (config_path, config),
            runsc,
            argv,
        } = gvisor::prepare(spec, env, &writable, &self.rlimits)?;
        self.dirs.push(cstr(gvisor::DIR)?);
        self.dirs.push(CString::from(gvisor::STATE));
        self.files.push((cstr(config_path)?, config));
        self.exec_candidates = vec![cstr(&runsc)?];
        self.argv = CStrArray::new(argv.iter().map(cstr).collect::<Result<_, _>>()?);
        self.envp = CStrArray::new(vec![cstr(format!("PATH={DEFAULT_PATH}"))?]);
        self.rlimits = gvisor::runsc_rlimits(&self.rlimits);
        self.gvisor = Some(platform);
        Ok(())
    }

    /// The command and its environment: exactly `spec.env` over PATH, HOME and LANG
    /// (and the results channel's variable), and the PATH candidates for `execve`.
    /// Returns the environment.
    fn command(&mut self, spec: &Spec) -> Result<Vec<(String, String)>, Error> {
        self.argv = CStrArray::new(spec.argv.iter().map(cstr).collect::<Result<_, _>>()?);
        let mut env: Vec<(String, String)> = vec![
            ("PATH".into(), DEFAULT_PATH.into()),
            ("HOME".into(), "/tmp".into()),
            ("LANG".into(), "C.UTF-8".into()),
        ];
        for (k, v) in &spec.env {
            if k.is_empty() || k.contains(['=', '\0']) {
                return Err(Error::InvalidSpec(format!(
                    "bad environment variable name {k:?}"
                )));
            }
            env.retain(|(ek, _)| ek != k);
            env.push((k.clone(), v.clone()));
        }
        if spec.results.is_some() {
            env.retain(|(k, _)| k != RESULTS_FD_VAR);
            env.push((RESULTS_FD_VAR.into(), RESULTS_FD.to_string()));
        }
        if spec.warm.is_some() {
            env.retain(|(k, _)| k != JOB_FD_VAR);
            env.push((JOB_FD_VAR.into(), JOB_FD.to_string()));
        }
        self.envp = CStrArray::new(
            env.iter()
                .map(|(k, v)| cstr(format!("{k}={v}")))
                .collect::<Result<_, _>>()?,
        );
        let cmd = spec.argv[0].as_bytes();
        if cmd.contains(&b'/') {
            self.exec_candidates.push(cstr(&spec.argv[0])?);
            return Ok(env);
        }
        let path = env
            .iter()
            .find(|(k, _)| k == "PATH")
            .map_or(DEFAULT_PATH, |(_, v)| v.as_str());
        for dir in path.split(':').filter(|d| d.starts_with('/')) {
            let mut full = dir.as_bytes().to_vec();
            full.push(b'/');
            full.extend_from_slice(cmd);
            self.exec_candidates.push(cstr(OsStr::from_bytes(&full))?);
        }
        Ok(env)
    }
}

/// A detached, non-recursive copy of the mount at `host` (opened without following
/// any symlink), with mount attributes `attrs` set on it.
fn detached_copy(host: &Path, attrs: Option<u64>) -> Result<OwnedFd, i32> {
    let c = cstr(host).map_err(|_| libc::EINVAL)?;
    let resolve = sys::RESOLVE_NO_SYMLINKS | sys::RESOLVE_NO_MAGICLINKS;
    let path = sys::openat2(libc::AT_FDCWD, &c, libc::O_PATH, resolve)?;
    let tree = sys::open_tree(path.as_raw_fd(), sys::OPEN_TREE_CLONE)?;
    if let Some(attrs) = attrs {
        sys::mount_setattr(tree.as_raw_fd(), attrs)?;
    }
    Ok(tree)
}

/// The path of host `path` inside the jail before detach-old-root.
fn through_old_root(host: &Path) -> Result<CString, Error> {
    cstr(Path::new("/.oldroot").join(host.strip_prefix("/").unwrap_or(host)))
}

/// An overlay lower: a directory, with a path overlayfs's `lowerdir=` can hold.
fn overlay_lower(lower: &Path) -> Result<PathBuf, Error> {
    let host = host_path(lower, "overlay lower")?;
    if !host.is_dir() {
        return Err(Error::InvalidSpec(format!(
            "overlay lower {} is not a directory",
            host.display()
        )));
    }
    let s = host.to_str().ok_or_else(|| {
        Error::InvalidSpec(format!("overlay lower {} is not UTF-8", host.display()))
    })?;
    if s.contains([':', ',', '\\']) {
        return Err(Error::InvalidSpec(format!(
            "overlay lower {s} contains ':', ',' or '\\'"
        )));
    }
    Ok(host)
}

fn push_parents(dirs: &mut Vec<CString>, inside: &Path) -> Result<(), Error> {
    let mut acc = PathBuf::from("/");
    let comps: Vec<_> = inside.components().collect();
    for c in &comps[..comps.len().saturating_sub(1)] {
        if let Component::Normal(n) = c {
            acc.push(n);
            let c = cstr(&acc)?;
            if !dirs.contains(&c) {
                dirs.push(c);
            }
        }
    }
    Ok(())
}

/// `/proc` entries Docker masks (its default `MaskedPaths`): kernel memory, keys,
/// timer and scheduler internals, hardware lists. Files are covered by `/dev/null`,
/// directories by an empty read-only tmpfs. (`/sys/firmware` is on Docker's list
/// too; jails have no `/sys`.)
pub const PROC_MASKED: [&CStr; 9] = [
    c"/proc/asound",
    c"/proc/acpi",
    c"/proc/kcore",
    c"/proc/keys",
    c"/proc/latency_stats",
    c"/proc/timer_list",
    c"/proc/timer_stats",
    c"/proc/sched_debug",
    c"/proc/scsi",
];

/// `/proc` entries Docker makes read-only (its default `ReadonlyPaths`).
pub const PROC_READ_ONLY: [&CStr; 5] = [
    c"/proc/bus",
    c"/proc/fs",
    c"/proc/irq",
    c"/proc/sys",
    c"/proc/sysrq-trigger",
];

/// The masked entries this kernel has (a jail's procfs has the host's entries).
fn proc_masks() -> &'static [(&'static CStr, bool)] {
    static MASKS: OnceLock<Vec<(&'static CStr, bool)>> = OnceLock::new();
    MASKS.get_or_init(|| {
        PROC_MASKED
            .iter()
            .filter_map(|p| {
                let path = Path::new(OsStr::from_bytes(p.to_bytes()));
                let meta = std::fs::symlink_metadata(path).ok()?;
                Some((*p, meta.is_dir()))
            })
            .collect()
    })
}

/// This process's memory layout from `/proc/self/stat`, read once: the code, data,
/// heap and stack starts never move, and init is a copy of this address space.
fn mm_layout() -> Option<MmLayout> {
    static MM: OnceLock<Option<MmLayout>> = OnceLock::new();
    *MM.get_or_init(|| parse_stat(&std::fs::read_to_string("/proc/self/stat").ok()?))
}

/// Fields 26-28 and 45-51 of `/proc/PID/stat` (proc(5)), counted after the
/// parenthesised command name, which may hold spaces.
fn parse_stat(stat: &str) -> Option<MmLayout> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|w| w.parse().unwrap_or(0))
        .collect();
    let field = |n: usize| f.get(n - 3).copied();
    let mm = MmLayout {
        start_code: field(26)?,
        end_code: field(27)?,
        start_stack: field(28)?,
        start_data: field(45)?,
        end_data: field(46)?,
        start_brk: field(47)?,
        arg_start: field(48)?,
        arg_end: field(49)?,
        env_start: field(50)?,
        env_end: field(51)?,
    };
    (mm.arg_start < mm.arg_end && mm.env_start <= mm.env_end).then_some(mm)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_memory_layout_is_read_from_proc() {
        let mm = mm_layout().expect("/proc/self/stat");
        let argv0 = std::env::args().next().unwrap();
        // SAFETY: the kernel's own bounds of this process's argument area.
        let args = unsafe {
            std::slice::from_raw_parts(
                mm.arg_start as *const u8,
                (mm.arg_end - mm.arg_start) as usize,
            )
        };
        assert!(
            args.starts_with(argv0.as_bytes()),
            "{:?}",
            String::from_utf8_lossy(args)
        );
        // Fields from 3 on; the command name holds a ") " of its own.
        let mut fields = vec!["0".to_string(); 49];
        fields[0] = "S".into();
        for (n, v) in [(26, 10), (27, 20), (28, 30), (45, 40), (46, 50), (47, 60)] {
            fields[n - 3] = v.to_string();
        }
        for (n, v) in [(48, 70), (49, 80), (50, 90), (51, 100)] {
            fields[n - 3] = v.to_string();
        }
        let odd = format!("1 (a) b) {}", fields.join(" "));
        let mm = parse_stat(&odd).unwrap();
        assert_eq!(
            (mm.start_code, mm.end_code, mm.start_stack, mm.start_data),
            (10, 20, 30, 40)
        );
        assert_eq!(
            (mm.arg_start, mm.arg_end, mm.env_start, mm.env_end),
            (70, 80, 90, 100)
        );
        assert_eq!(parse_stat("garbage"), None);
    }
}
