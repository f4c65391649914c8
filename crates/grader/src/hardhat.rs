//! The `hardhat` runtime: Solidity exercises compiled with the pinned solcjs and tested
//! with Hardhat 2 against an Anvil chain borrowed from the pool. The prepared toolchain
//! is bound read-only at `/opt/gauntlet/hardhat`; the layout it expects is described
//! in toolchains/hardhat/README.md.

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use gauntlet_exercise::{Exercise, ResultsFormat, TestSpec};
use gauntlet_sandbox::Bind;

use crate::anvil::{AnvilPool, PoolConfig, TOOLCHAIN_INSIDE};
use crate::runtime::{Lease, Runtime, RuntimeError};
use crate::toolchain::HardhatToolchain;

/// Where the shared compile cache is bound inside the jail (hardhat.config.js reads it).
pub const COMPILE_CACHE_INSIDE: &str = "/opt/gauntlet/compile-cache";

pub struct Hardhat {
    toolchain: HardhatToolchain,
    compile_cache: PathBuf,
    pool_size: usize,
    /// Started on first use, so commands that never grade Solidity never start Anvil.
    pool: OnceLock<Result<AnvilPool, String>>,
}

impl Hardhat {
    /// `pool_size` chains are started on the first lease.
    pub fn new(toolchain: HardhatToolchain, data_dir: &Path, pool_size: usize) -> Arc<Self> {
        Arc::new(Hardhat {
            toolchain,
            compile_cache: data_dir.join("compile-cache").join("hardhat"),
            pool_size,
            pool: OnceLock::new(),
        })
    }

    fn ready(&self) -> Result<PathBuf, RuntimeError> {
        if self.toolchain.is_prepared() {
            Ok(self.toolchain.dir())
        } else {
            Err(RuntimeError::NotReady {
                runtime: "hardhat".into(),
                reason: format!(
                    "toolchain {} is not prepared: run `gauntlet toolchains prepare`",
                    self.toolchain.version
                ),
            })
        }
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
            return Some(dir);
        }
        fs::create_dir_all(&self.compile_cache).ok()?;
        gauntlet_sandbox::create_jail_dir(&dir).ok()?;
        Some(dir)
    }
}

impl Runtime for Hardhat {
    fn name(&self) -> &'static str {
        "hardhat"
    }

    fn version(&self) -> String {
        format!("hh-{}", self.toolchain.version)
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
            results: ResultsFormat::Tap,
        })
    }

    fn protected_paths(&self) -> Vec<String> {
        vec!["node_modules".into(), "package.json".into()]
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

    /// The workspace gets the toolchain's package.json and a `node_modules` link to the
    /// toolchain inside the jail (Hardhat insists on a local install it can resolve).
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
        Ok(())
    }

    fn lease(&self) -> Result<Option<Box<dyn Lease>>, RuntimeError> {
        Ok(Some(Box::new(self.pool()?.acquire()?)))
    }
}
