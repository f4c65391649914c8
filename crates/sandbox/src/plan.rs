//! Validates a [`Spec`] and turns it into a [`Plan`]: every path, string, option and
//! pointer the jail needs after fork, prepared in the parent so the child never
//! allocates.

use std::ffi::{CString, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::sync::OnceLock;

use crate::steps::Step;
use crate::sys::CStrArray;
use crate::{Error, Network, Spec};

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
];

pub struct BindOp {
    /// `/.oldroot/<canonical host path>`.
    pub src: CString,
    pub dst: CString,
    pub writable: bool,
    /// `HOST → INSIDE`, for errors.
    pub what: String,
}

pub struct OverlayOp {
    pub staging: CString,
    /// `LOWER:… → INSIDE`, for errors.
    pub what: String,
    pub upper: CString,
    pub work: CString,
    pub tmpfs_opts: CString,
    pub opts: CString,
    pub dst: CString,
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
}

impl Plan {
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
const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin";

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
    p.command(spec)?;
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
    let cpu_s = l.cpu_time.as_secs() + u64::from(l.cpu_time.subsec_nanos() > 0);
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
        })
    }

    fn bind(&mut self, host: &Path, inside: &Path, writable: bool) -> Result<(), Error> {
        self.binds.push(BindOp {
            src: cstr(Path::new("/.oldroot").join(host.strip_prefix("/").unwrap_or(host)))?,
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
            let lowers = o
                .lowers
                .iter()
                .map(|l| overlay_lower(l))
                .collect::<Result<Vec<_>, _>>()?;
            push_parents(&mut self.dirs, &inside)?;
            self.dirs.push(cstr(&inside)?);
            let staging = format!("/.oldroot/dev/gauntlet-overlay-{i}");
            let shown: Vec<String> = o.lowers.iter().map(|l| l.display().to_string()).collect();
            self.overlays.push(OverlayOp {
                upper: cstr(format!("{staging}/upper"))?,
                work: cstr(format!("{staging}/work"))?,
                tmpfs_opts: cstr(format!("size={},mode=0755", o.size))?,
                opts: cstr(format!(
                    "lowerdir={},upperdir={staging}/upper,workdir={staging}/work,userxattr",
                    lowers.join(":")
                ))?,
                staging: cstr(&staging)?,
                what: format!("{} → {}", shown.join(":"), inside.display()),
                dst: cstr(&inside)?,
            });
            self.landlock_rw.push(cstr(&inside)?);
        }
        Ok(())
    }

    /// The command and its environment: exactly `spec.env` over PATH, HOME and LANG
    /// (and the results channel's variable), and the PATH candidates for `execve`.
    fn command(&mut self, spec: &Spec) -> Result<(), Error> {
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
        self.envp = CStrArray::new(
            env.iter()
                .map(|(k, v)| cstr(format!("{k}={v}")))
                .collect::<Result<_, _>>()?,
        );
        let cmd = spec.argv[0].as_bytes();
        if cmd.contains(&b'/') {
            self.exec_candidates.push(cstr(&spec.argv[0])?);
            return Ok(());
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
        Ok(())
    }
}

/// An overlay lower as overlayfs's `lowerdir=` takes it: through the old root.
fn overlay_lower(lower: &Path) -> Result<String, Error> {
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
    Ok(format!("/.oldroot{s}"))
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
