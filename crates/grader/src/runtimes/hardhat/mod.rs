//! The `hardhat` runtime: Solidity exercises compiled with the pinned solcjs and tested
//! with Hardhat 2 against an Anvil chain borrowed from the pool. The prepared toolchain
//! is bound read-only at `/opt/gauntlet/hardhat`; the layout it expects is described
//! in toolchains/hardhat/README.md.

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use gauntlet_exercise::{Exercise, ResultsFormat, TestSpec};
use gauntlet_sandbox::Bind;

pub mod anvil;
pub mod toolchain;

use self::anvil::{AnvilPool, PoolConfig, TOOLCHAIN_INSIDE};
use self::toolchain::HardhatToolchain;
use super::runners;
use super::runtime::{Lease, Runtime, RuntimeError};

/// Where the shared compile cache is bound inside the jail (hardhat.config.js reads it).
pub const COMPILE_CACHE_INSIDE: &str = "/opt/gauntlet/compile-cache";

pub struct Hardhat {
    toolchain: HardhatToolchain,
    compile_cache: PathBuf,
    pool_size: usize,
    /// Started on first use, so commands that never grade Solidity never start Anvil.
    pool: OnceLock<Result<AnvilPool, String>>,
    /// When each exercise's compile cache was last trimmed.
    trimmed: Mutex<HashMap<String, Instant>>,
}

/// Compile outputs kept per exercise (entries are 100–400 KiB: at most ~600 MiB).
pub const COMPILE_CACHE_ENTRIES: usize = 1500;
/// How often an exercise's compile cache is trimmed, at most.
const TRIM_EVERY: Duration = Duration::from_secs(300);

impl Hardhat {
    /// `pool_size` chains are started on the first lease.
    pub fn new(toolchain: HardhatToolchain, data_dir: &Path, pool_size: usize) -> Arc<Self> {
        Arc::new(Hardhat {
            toolchain,
            compile_cache: data_dir.join("compile-cache").join("hardhat"),
            pool_size,
            pool: OnceLock::new(),
            trimmed: Mutex::new(HashMap::new()),
        })
    }

    /// The pinned toolchain this runtime runs on, prepared or not.
    pub fn toolchain(&self) -> &HardhatToolchain {
        &self.toolchain
    }

    /// The prepared toolchain, or why this runtime cannot grade: not prepared, or, when
    /// rootless, out of the jail user's reach (Anvil and the tests would then fail to
    /// start with no better message than a timeout).
    pub fn ready(&self) -> Result<PathBuf, RuntimeError> {
        let not_ready = |reason: String| RuntimeError::NotReady {
            runtime: "hardhat".into(),
            reason,
        };
        if !self.toolchain.is_prepared() {
            return Err(not_ready(format!(
                "toolchain {} is not prepared in {}: run `gauntlet toolchains prepare`",
                self.toolchain.version,
                self.toolchain.root.display()
            )));
        }
        let dir = self.toolchain.dir();
        crate::jail_can_reach(&dir).map_err(not_ready)?;
        Ok(dir)
    }

    /// The pool, started now if it was not yet.
    pub fn pool(&self) -> Result<&AnvilPool, RuntimeError> {
        let dir = self.ready()?;
        self.pool
            .get_or_init(|| {
                AnvilPool::start(PoolConfig::new(dir, self.pool_size)).map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|reason| RuntimeError::NotReady {
                runtime: "hardhat".into(),
                reason: reason.clone(),
            })
    }

    /// The pool if it has been started (for metrics), without starting it.
    pub fn started_pool(&self) -> Option<&AnvilPool> {
        self.pool.get().and_then(|r| r.as_ref().ok())
    }

    /// The compile cache is the one folder the jail writes that outlives a run: one
    /// per exercise (a poisoned entry could only ever reach the same exercise), created
    /// once by the host owned by the jail's user; the host never reads or follows
    /// anything in it.
    fn compile_cache_dir(&self, ex: &Exercise) -> Option<PathBuf> {
        let dir = self.compile_cache.join(ex.id.as_str());
        if dir.is_dir() {
            self.trim_now_and_then(ex.id.as_str(), &dir);
            return Some(dir);
        }
        fs::create_dir_all(&self.compile_cache).ok()?;
        gauntlet_sandbox::create_jail_dir(&dir).ok()?;
        Some(dir)
    }

    fn trim_now_and_then(&self, id: &str, dir: &Path) {
        {
            let mut last = self.trimmed.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            match last.get(id) {
                Some(t) if now.duration_since(*t) < TRIM_EVERY => return,
                _ => last.insert(id.to_owned(), now),
            };
        }
        if let Err(e) = trim_compile_cache(dir, COMPILE_CACHE_ENTRIES) {
            tracing::warn!(exercise = id, error = %e, "could not trim the compile cache");
        }
    }
}

/// Keeps the `keep` newest entries of a compile cache folder and deletes the rest.
///
/// The folder is writable by jails, so the host does not walk it (a planted link would
/// turn a cleanup into deleting host files): the trim runs in a jail of its own, as
/// the jail user, with only that folder bound.
pub fn trim_compile_cache(dir: &Path, keep: usize) -> Result<gauntlet_sandbox::Report, String> {
    let script = format!(
        "find /cache -type f -name '*.json' -printf '%T@ %p\\n' | sort -rn | tail -n +{} \
         | cut -d' ' -f2- | xargs -r rm -f --",
        keep + 1
    );
    let mut spec = gauntlet_sandbox::Spec::new(["/bin/sh", "-c", script.as_str()]);
    spec.rw_binds.push(Bind {
        host: dir.to_owned(),
        inside: "/cache".into(),
    });
    spec.limits.wall_time = Duration::from_secs(60);
    spec.limits.cpu_time = Duration::from_secs(30);
    spec.limits.idle_timeout = None;
    struct Discard;
    impl gauntlet_sandbox::OutputSink for Discard {
        fn output(&mut self, _: gauntlet_sandbox::Stream, _: &[u8]) {}
    }
    let report = gauntlet_sandbox::run(&spec, &mut Discard).map_err(|e| e.to_string())?;
    if report.status != gauntlet_sandbox::Status::Exited || report.exit_code != Some(0) {
        return Err(format!(
            "trim ended {:?} {:?}",
            report.status, report.exit_code
        ));
    }
    Ok(report)
}

impl Runtime for Hardhat {
    fn name(&self) -> &'static str {
        "hardhat"
    }

    fn version(&self) -> String {
        format!(
            "hh-{}-w{}",
            self.toolchain.version,
            runners::hardhat_version()
        )
    }

    fn default_test(&self) -> Option<TestSpec> {
        Some(TestSpec {
            command: vec![
                "node".into(),
                format!("{TOOLCHAIN_INSIDE}/node_modules/hardhat/internal/cli/cli.js"),
                "test".into(),
                "--config".into(),
                format!("{TOOLCHAIN_INSIDE}/hardhat.config.js"),
            ],
            results: ResultsFormat::ChannelTap,
        })
    }

    fn protected_paths(&self) -> Vec<String> {
        vec![
            "node_modules".into(),
            "package.json".into(),
            ".gauntlet".into(),
        ]
    }

    fn binds(&self) -> Vec<Bind> {
        vec![Bind {
            host: self.toolchain.dir(),
            inside: TOOLCHAIN_INSIDE.into(),
        }]
    }

    fn rw_binds(&self, ex: &Exercise) -> Vec<Bind> {
        self.compile_cache_dir(ex)
            .map(|host| Bind {
                host,
                inside: COMPILE_CACHE_INSIDE.into(),
            })
            .into_iter()
            .collect()
    }

    /// The workspace gets the toolchain's package.json, a `node_modules` link to the
    /// toolchain inside the jail (Hardhat insists on a local install it can resolve),
    /// and the warm preamble at `.gauntlet/runner/` (runners.rs).
    fn prepare(&self, layer: &Path) -> Result<(), RuntimeError> {
        let dir = self.ready()?;
        let fail = |what: &str, e: std::io::Error| RuntimeError::Prepare {
            runtime: "hardhat".into(),
            reason: format!("{what}: {e}"),
        };
        let pkg = layer.join("package.json");
        fs::copy(dir.join("workspace/package.json"), &pkg).map_err(|e| fail("package.json", e))?;
        fs::set_permissions(&pkg, fs::Permissions::from_mode(0o644))
            .map_err(|e| fail("package.json", e))?;
        symlink(
            format!("{TOOLCHAIN_INSIDE}/node_modules"),
            layer.join("node_modules"),
        )
        .map_err(|e| fail("node_modules link", e))?;
        runners::install_hardhat(layer).map_err(|e| fail("the warm preamble", e))?;
        Ok(())
    }

    fn lease(&self) -> Result<Option<Box<dyn Lease>>, RuntimeError> {
        Ok(Some(Box::new(self.pool()?.acquire()?)))
    }

    fn lease_now(&self) -> Result<Option<Box<dyn Lease>>, RuntimeError> {
        Ok(Some(Box::new(self.pool()?.try_acquire()?)))
    }

    /// `warm-hardhat.js`: node with Hardhat's modules and the compiler loaded; only for
    /// the default test command, which it runs in-process.
    fn preamble(&self, test: &TestSpec) -> Option<Vec<String>> {
        if test.command != self.default_test()?.command {
            return None;
        }
        let mut argv = vec![
            "node".to_owned(),
            format!("{}/{}/warm-hardhat.js", crate::WORKSPACE, runners::DIR),
            "--".to_owned(),
        ];
        argv.extend(test.command.iter().cloned());
        Some(argv)
    }
}
