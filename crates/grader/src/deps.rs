//! Exercise dependencies (`dependencies:` in `exercise.yaml`), installed once per lock
//! file content and shared, read-only, by every job of every exercise with the same
//! lock.
//!
//! - **Where.** `<data-dir>/deps/<key>/`, where the key is the kind and a hash of the
//!   lock's bytes (and the installer's recipe, [`RECIPE`]). A python set is a site
//!   folder bound read-only at [`PYTHON_INSIDE`] and put on `PYTHONPATH`; a node set
//!   is a folder holding `node_modules/`, laid under the job's workspace as one more
//!   read-only lower of its overlay, so that `/workspace/node_modules` is where npm
//!   would put it (jest and babel look for that path segment; `.bin` links work).
//! - **How.** In a jail like any other, as the jail's user, with no capability: pip
//!   (`--require-hashes --only-binary :all:`) or `npm ci --ignore-scripts`. Its only
//!   way out is the egress proxy (gateway.rs), allowing the operator's package hosts;
//!   or no network at all when the operator gives a local wheelhouse or npm cache.
//!   Nothing the packages contain ever runs during the install.
//! - **Sealed.** Once installed, the host gives every file to root and drops every
//!   write bit (never following a link), then renames the folder into place: jobs see
//!   it owned by nobody they can act as, and cannot change it; a half-made install is
//!   never visible.
//! - **Once.** Installs of one key are serialized by a lock file; the second waiter
//!   finds the folder made.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gauntlet_exercise::{self as exercise, Exercise};
use gauntlet_sandbox::{Bind, Limits, Network, Overlay, Spec};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::egress::{Counters, HostPort, Policy};
use crate::gateway::{self, Gateway, PROXY_URL};
use crate::phase;

/// Bump when the install commands change what lands in a set.
const RECIPE: &str = "1";
/// Where a python set is bound in a job, and what `PYTHONPATH` names.
pub const PYTHON_INSIDE: &str = "/opt/gauntlet/python";
/// The hosts a dependency install may reach when the operator names none.
pub const DEFAULT_PACKAGE_HOSTS: &str = "pypi.org,files.pythonhosted.org,registry.npmjs.org";

/// Where dependencies come from: the operator's settings (docs/api.md, "Egress").
#[derive(Debug, Clone)]
pub struct PackageSources {
    /// What an install may reach through the proxy (`GAUNTLET_PACKAGE_HOSTS`).
    pub hosts: Vec<HostPort>,
    /// A PyPI mirror's simple index (its host is allowed too).
    pub pip_index_url: Option<String>,
    /// A local folder of wheels: pip installs from it alone, with no network.
    pub pip_find_links: Option<PathBuf>,
    /// An npm registry mirror (its host is allowed too).
    pub npm_registry: Option<String>,
    /// A local npm cache (`npm cache add`, or a machine's `~/.npm/_cacache` parent): npm
    /// installs from it alone, `--offline`, with no network.
    pub npm_cache: Option<PathBuf>,
    /// Allowed and refused connections of every proxy, for `/metrics`.
    pub counters: Arc<Counters>,
}

impl Default for PackageSources {
    fn default() -> Self {
        PackageSources {
            hosts: crate::egress::parse_host_list(DEFAULT_PACKAGE_HOSTS, 443)
                .expect("valid default hosts"),
            pip_index_url: None,
            pip_find_links: None,
            npm_registry: None,
            npm_cache: None,
            counters: Arc::default(),
        }
    }
}

impl PackageSources {
    /// The install's allow-list: the package hosts, plus a mirror's host.
    fn allow_list(&self, mirror: Option<&str>) -> Result<Vec<HostPort>, DepsError> {
        let mut hosts = self.hosts.clone();
        if let Some(url) = mirror {
            hosts.push(host_of_url(url).map_err(DepsError::config)?);
        }
        Ok(hosts)
    }
}

/// `host:port` of an `http(s)://` URL.
pub fn host_of_url(url: &str) -> Result<HostPort, String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("{url:?} is not a URL"))?;
    let port = match scheme {
        "https" => 443,
        "http" => 80,
        _ => return Err(format!("{url:?}: only http and https URLs")),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err(format!("{url:?}: credentials in a URL are refused"));
    }
    HostPort::parse(authority, port)
}

/// The two kinds of dependency sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Python,
    Node,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Python => "python",
            Kind::Node => "node",
        }
    }
}

/// What is known of an installed set (`<key>.json` beside it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SetInfo {
    pub kind: Kind,
    pub key: String,
    /// Bytes of the files in it.
    pub bytes: u64,
    pub files: u64,
    /// How long its install took.
    pub install_ms: u64,
    /// True when this call installed it (false: it was there already).
    #[serde(skip)]
    pub fresh: bool,
}

/// One installed set.
#[derive(Debug, Clone)]
pub struct InstalledSet {
    pub dir: PathBuf,
    pub info: SetInfo,
}

/// An exercise's installed dependencies.
#[derive(Debug, Clone, Default)]
pub struct Installed {
    pub python: Option<InstalledSet>,
    pub node: Option<InstalledSet>,
}

impl Installed {
    pub fn sets(&self) -> impl Iterator<Item = &InstalledSet> {
        self.python.iter().chain(self.node.iter())
    }

    /// The read-only binds a job needs (the python site folder).
    pub fn binds(&self) -> Vec<Bind> {
        self.python
            .iter()
            .map(|set| Bind {
                host: set.dir.clone(),
                inside: PYTHON_INSIDE.into(),
            })
            .collect()
    }

    /// The job's environment for them: `PYTHONPATH`, and a `PATH` that starts with
    /// their commands (`pytest`, `jest`), as a virtualenv or an npm script would.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env = Vec::new();
        let mut path = Vec::new();
        if self.python.is_some() {
            // The workspace too, after the packages: a bare `pytest` then imports the
            // learner's modules as `python3 -m pytest` (cwd on the path) does.
            env.push((
                "PYTHONPATH".to_owned(),
                format!("{PYTHON_INSIDE}:{}", crate::WORKSPACE),
            ));
            path.push(format!("{PYTHON_INSIDE}/bin"));
        }
        if self.node.is_some() {
            path.push(format!("{}/node_modules/.bin", crate::WORKSPACE));
        }
        if !path.is_empty() {
            path.push(gauntlet_sandbox::DEFAULT_PATH.to_owned());
            env.push(("PATH".to_owned(), path.join(":")));
        }
        env
    }

    /// Lowers under the workspace (the folder holding `node_modules/`).
    pub fn lowers(&self) -> Vec<PathBuf> {
        self.node.iter().map(|set| set.dir.clone()).collect()
    }
}

/// Why an exercise's dependencies are not installed.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct DepsError {
    pub message: String,
    /// The install's own output, when it ran.
    pub log: String,
    /// True when the operator's settings or the package are at fault (retrying will
    /// not help); false for a failure that may pass (a registry down, say).
    pub permanent: bool,
}

impl DepsError {
    fn config(message: impl Into<String>) -> DepsError {
        DepsError {
            message: message.into(),
            log: String::new(),
            permanent: true,
        }
    }

    fn io(what: &str, e: io::Error) -> DepsError {
        DepsError {
            message: format!("dependencies: cannot {what}: {e}"),
            log: String::new(),
            permanent: false,
        }
    }
}

/// Installed sets under `<data-dir>/deps`.
#[derive(Debug)]
pub struct DepsCache {
    root: PathBuf,
    /// The sets of each exercise version (content hash) found or installed by this
    /// process: a grade then neither reads nor hashes the lock files again.
    known: Mutex<HashMap<String, Installed>>,
}

impl DepsCache {
    pub fn new(root: PathBuf) -> io::Result<DepsCache> {
        fs::create_dir_all(&root)?;
        // Traversable, not listable: jobs reach their set by its path.
        fs::set_permissions(&root, fs::Permissions::from_mode(0o711))?;
        Ok(DepsCache {
            root,
            known: Mutex::default(),
        })
    }

    /// Removes install folders older than `age` that never became a set: left by a
    /// process that died mid-install (an install ends within its 10-minute limit).
    pub fn sweep_staging(&self, age: Duration) -> io::Result<usize> {
        crate::tree::sweep_staging(&self.root, age)
    }

    /// The sets `ex` declares, installing what is not there yet. Blocks while another
    /// job installs the same set.
    pub fn ensure(&self, ex: &Exercise, sources: &PackageSources) -> Result<Installed, DepsError> {
        let Some(deps) = &ex.dependencies else {
            return Ok(Installed::default());
        };
        let known = |installed: &Installed| installed.sets().all(|set| set.dir.is_dir());
        if let Some(installed) = self.lock_known().get(&ex.content_hash).filter(|i| known(i)) {
            return Ok(installed.clone());
        }
        let read = |rel: &exercise::RelPath| {
            let path = ex.dir.join(rel.as_str());
            fs::read(&path).map_err(|e| DepsError::io(&format!("read {}", path.display()), e))
        };
        let mut installed = Installed::default();
        if let Some(req) = &deps.python {
            let text = read(req)?;
            installed.python = Some(self.ensure_set(Kind::Python, &[&text], |dir| {
                install_python(dir, &text, sources)
            })?);
        }
        if let Some(lock) = &deps.node {
            let lock_bytes = read(lock)?;
            let beside = Path::new(lock.as_str())
                .parent()
                .unwrap_or(Path::new(""))
                .join("package.json");
            let package_json = fs::read(ex.dir.join(&beside))
                .map_err(|e| DepsError::io(&format!("read {}", beside.display()), e))?;
            installed.node = Some(self.ensure_set(Kind::Node, &[&lock_bytes], |dir| {
                install_node(dir, &lock_bytes, &package_json, sources)
            })?);
        }
        let mut remembered = installed.clone();
        for set in remembered
            .python
            .iter_mut()
            .chain(remembered.node.iter_mut())
        {
            set.info.fresh = false;
        }
        self.lock_known()
            .insert(ex.content_hash.clone(), remembered);
        Ok(installed)
    }

    fn lock_known(&self) -> std::sync::MutexGuard<'_, HashMap<String, Installed>> {
        self.known.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The set's key: its kind and a hash of what decides its content.
    fn key(kind: Kind, inputs: &[&[u8]]) -> String {
        let mut h = Sha256::new();
        h.update(kind.as_str());
        h.update([0]);
        h.update(RECIPE);
        for input in inputs {
            h.update((input.len() as u64).to_le_bytes());
            h.update(input);
        }
        // Where the packages came from (a registry, a mirror, a local wheelhouse) is
        // not part of the key: the lock's hashes pin them.
        let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        format!("{}-{}", kind.as_str(), &hex[..24])
    }

    fn ensure_set(
        &self,
        kind: Kind,
        inputs: &[&[u8]],
        install: impl FnOnce(&Path) -> Result<(), DepsError>,
    ) -> Result<InstalledSet, DepsError> {
        let key = Self::key(kind, inputs);
        let dir = self.root.join(&key);
        let info_path = self.root.join(format!("{key}.json"));
        if let Some(set) = read_set(&dir, &info_path) {
            return Ok(set);
        }
        let _lock = lock_file(&self.root.join(format!("{key}.lock")))
            .map_err(|e| DepsError::io("lock the install", e))?;
        if let Some(set) = read_set(&dir, &info_path) {
            return Ok(set);
        }
        let staging = self
            .root
            .join(format!(".tmp-{key}-{:016x}", rand::random::<u64>()));
        let started = Instant::now();
        let made = (|| {
            gauntlet_sandbox::create_jail_dir(&staging)
                .map_err(|e| DepsError::io("create the install folder", e))?;
            install(&staging)?;
            seal(&staging).map_err(|e| DepsError::io("seal the installed files", e))
        })();
        let (bytes, files) = match made {
            Ok(counts) => counts,
            Err(e) => {
                let _ = fs::remove_dir_all(&staging);
                return Err(e);
            }
        };
        let info = SetInfo {
            kind,
            key: key.clone(),
            bytes,
            files,
            install_ms: started.elapsed().as_millis() as u64,
            fresh: true,
        };
        let publish = || -> io::Result<()> {
            let json = serde_json::to_vec(&info).map_err(io::Error::other)?;
            fs::write(&info_path, json)?;
            fs::rename(&staging, &dir)
        };
        if let Err(e) = publish() {
            let _ = fs::remove_dir_all(&staging);
            return Err(DepsError::io("publish the installed set", e));
        }
        tracing::info!(
            set = key.as_str(),
            bytes,
            files,
            install_ms = info.install_ms,
            "dependencies installed"
        );
        Ok(InstalledSet { dir, info })
    }
}

fn read_set(dir: &Path, info_path: &Path) -> Option<InstalledSet> {
    if !dir.is_dir() {
        return None;
    }
    let info: SetInfo = serde_json::from_slice(&fs::read(info_path).ok()?).ok()?;
    Some(InstalledSet {
        dir: dir.to_owned(),
        info,
    })
}

/// An exclusive lock held while the returned file is open.
fn lock_file(path: &Path) -> io::Result<fs::File> {
    let f = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
        .open(path)?;
    // Blocks until the other installer is done.
    f.lock()?;
    Ok(f)
}

/// Gives everything under `dir` to root and drops every write bit (and any set-id
/// bit), never following a link; refuses anything but files, folders and links.
/// Returns (bytes, files). Only the install's jail wrote here, and it is gone.
fn seal(dir: &Path) -> io::Result<(u64, u64)> {
    let mut bytes = 0;
    let mut files = 0;
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d)? {
            let path = entry?.path();
            let meta = fs::symlink_metadata(&path)?;
            let ft = meta.file_type();
            give_to_root(&path)?;
            if ft.is_symlink() {
                continue;
            }
            let mode = if ft.is_dir() {
                stack.push(path.clone());
                0o555
            } else if ft.is_file() {
                files += 1;
                bytes += meta.size();
                if meta.mode() & 0o111 != 0 {
                    0o555
                } else {
                    0o444
                }
            } else {
                return Err(io::Error::other(format!(
                    "{} is not a file, folder or link",
                    path.display()
                )));
            };
            fs::set_permissions(&path, fs::Permissions::from_mode(mode))?;
        }
    }
    give_to_root(dir)?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o555))?;
    Ok((bytes, files))
}

/// As root, the set becomes root's (the jail's user is another); rootless, the jail's
/// user is the caller, and the dropped write bits are what keeps it read-only.
fn give_to_root(path: &Path) -> io::Result<()> {
    if gauntlet_sandbox::rootless() {
        return Ok(());
    }
    std::os::unix::fs::lchown(path, Some(0), Some(0))
}

/// The install jail's limits: an install is trusted code (pip, npm) on pinned,
/// hash-checked packages, but it still runs in a jail with bounds.
fn install_limits() -> Limits {
    Limits {
        wall_time: Duration::from_secs(600),
        idle_timeout: None,
        cpu_time: Duration::from_secs(600),
        memory: 2 << 30,
        pids: 256,
        tmp_size: 1 << 30,
        output_limit: 4 << 20,
    }
}

/// An install's jail: `/out` is the set being made (the jail user's). No network until
/// [`run_install`] gives it a gateway (which brings the host's CA certificates).
fn install_spec(argv: Vec<String>, out: &Path) -> Spec {
    let mut spec = Spec::new(argv);
    spec.limits = install_limits();
    spec.rw_binds.push(Bind {
        host: out.to_owned(),
        inside: "/out".into(),
    });
    spec.workdir = "/out".into();
    spec.network = Network::None;
    spec
}

/// Runs an install jail, with the proxy when `policy`, and explains a failure.
fn run_install(
    kind: Kind,
    spec: Spec,
    policy: Option<Policy>,
    sources: &PackageSources,
) -> Result<(), DepsError> {
    let (ran, refused) = match policy {
        Some(policy) => {
            let job = format!("deps-{}", kind.as_str());
            let gateway = Gateway::open(policy, &job, sources.counters.clone())
                .map_err(|e| DepsError::config(format!("{} dependencies: {e}", kind.as_str())))?;
            let (ran, stats) = gateway.run(spec, 64 << 10);
            (ran, stats.denials)
        }
        None => (phase::run(&spec, 64 << 10), Vec::new()),
    };
    let ran = ran.map_err(|e| DepsError {
        message: format!(
            "{} dependencies: the install jail failed: {e}",
            kind.as_str()
        ),
        log: String::new(),
        permanent: false,
    })?;
    if ran.succeeded() {
        return Ok(());
    }
    let mut message = format!(
        "{} dependencies did not install ({})",
        kind.as_str(),
        ran.ending()
    );
    if let Some(first) = refused.first() {
        message.push_str(&format!("; egress refused: {first}"));
    }
    let last = ran.last_lines(1);
    if !last.is_empty() {
        message.push_str(&format!("; last line: {}", last.trim()));
    }
    Err(DepsError {
        message,
        log: ran.output,
        // A refused host is the operator's or the package's to fix; anything else
        // (a registry timing out) may pass.
        permanent: !refused.is_empty(),
    })
}

fn install_python(
    out: &Path,
    requirements: &[u8],
    sources: &PackageSources,
) -> Result<(), DepsError> {
    let inputs = out.join(".gauntlet-in");
    write_inputs(&inputs, &[("requirements.txt", requirements)])?;
    let mut argv: Vec<String> = [
        "/usr/bin/python3",
        "-m",
        "pip",
        "install",
        "--isolated",
        "--no-input",
        "--disable-pip-version-check",
        "--no-cache-dir",
        "--progress-bar",
        "off",
        "--require-hashes",
        "--only-binary",
        ":all:",
        "--no-warn-script-location",
        "--target",
        "/out/site",
        "-r",
        "/out/.gauntlet-in/requirements.txt",
    ]
    .map(String::from)
    .to_vec();
    let (spec, policy) = match &sources.pip_find_links {
        // Offline: the wheelhouse alone, and no network at all.
        Some(wheels) => {
            argv.extend(["--no-index", "--find-links", "/wheelhouse"].map(String::from));
            let mut spec = install_spec(argv, out);
            spec.ro_binds.push(Bind {
                host: wheels.clone(),
                inside: "/wheelhouse".into(),
            });
            (spec, None)
        }
        None => {
            argv.extend(["--cert", gateway::CA_FILE, "--proxy", PROXY_URL].map(String::from));
            if let Some(index) = &sources.pip_index_url {
                argv.extend(["--index-url".into(), index.clone()]);
            }
            let allow = sources.allow_list(sources.pip_index_url.as_deref())?;
            (install_spec(argv, out), Some(install_policy(allow)))
        }
    };
    finish_python(out, run_install(Kind::Python, spec, policy, sources))
}

/// Moves the site folder up to be the set itself.
fn finish_python(out: &Path, installed: Result<(), DepsError>) -> Result<(), DepsError> {
    installed?;
    let _ = fs::remove_dir_all(out.join(".gauntlet-in"));
    let site = out.join("site");
    for entry in fs::read_dir(&site).map_err(|e| DepsError::io("read the site folder", e))? {
        let entry = entry.map_err(|e| DepsError::io("read the site folder", e))?;
        fs::rename(entry.path(), out.join(entry.file_name()))
            .map_err(|e| DepsError::io("move the site folder", e))?;
    }
    fs::remove_dir(&site).map_err(|e| DepsError::io("remove the site folder", e))
}

fn install_node(
    out: &Path,
    lock: &[u8],
    package_json: &[u8],
    sources: &PackageSources,
) -> Result<(), DepsError> {
    write_inputs(
        out,
        &[("package.json", package_json), ("package-lock.json", lock)],
    )?;
    let mut argv: Vec<String> = [
        "/usr/bin/npm",
        "ci",
        "--ignore-scripts",
        "--no-audit",
        "--no-fund",
        "--no-update-notifier",
        "--loglevel=warn",
    ]
    .map(String::from)
    .to_vec();
    let env = [
        ("npm_config_logs_dir", "/tmp/npm-logs"),
        ("npm_config_userconfig", "/tmp/npmrc"),
    ];
    let installed = if let Some(cache) = &sources.npm_cache {
        argv.extend(["--offline".into(), "--cache=/npm-cache".into()]);
        let mut spec = install_spec(argv, out);
        spec.env
            .extend(env.map(|(k, v)| (k.to_owned(), v.to_owned())));
        // npm writes to its cache as it reads: a copy-on-write view of the operator's.
        spec.overlays.push(Overlay {
            lowers: vec![cache.clone()],
            inside: "/npm-cache".into(),
            size: 512 << 20,
        });
        run_install(Kind::Node, spec, None, sources)
    } else {
        argv.push("--cache=/tmp/npm-cache".into());
        if let Some(registry) = &sources.npm_registry {
            argv.push(format!("--registry={registry}"));
        }
        let policy = install_policy(sources.allow_list(sources.npm_registry.as_deref())?);
        let mut spec = install_spec(argv, out);
        spec.env
            .extend(env.map(|(k, v)| (k.to_owned(), v.to_owned())));
        run_install(Kind::Node, spec, Some(policy), sources)
    };
    installed?;
    for name in ["package.json", "package-lock.json"] {
        fs::remove_file(out.join(name)).map_err(|e| DepsError::io("tidy the install", e))?;
    }
    Ok(())
}

/// Writes the install's inputs (host-owned, read-only) into `dir`, made if missing.
fn write_inputs(dir: &Path, files: &[(&str, &[u8])]) -> Result<(), DepsError> {
    let write = || -> io::Result<()> {
        fs::create_dir_all(dir)?;
        for (name, bytes) in files {
            let mut f = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o644)
                .custom_flags(libc::O_NOFOLLOW)
                .open(dir.join(name))?;
            f.write_all(bytes)?;
        }
        Ok(())
    };
    write().map_err(|e| DepsError::io("write the install's inputs", e))
}

/// The proxy's policy for an install: the allow-list, and room for npm's many
/// parallel tunnels (it keeps idle ones open for reuse).
fn install_policy(allow: Vec<HostPort>) -> Policy {
    let mut policy = Policy::new(allow);
    policy.max_concurrent = 256;
    policy.max_time = install_limits().wall_time;
    policy
}
