//! Runtimes: what a kind of exercise needs from the sandbox (binds, environment, a
//! network), its default test command, its protected paths and its preparation step.
//! New toolchains plug in by implementing [`Runtime`] and registering it.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use gauntlet_exercise::{Exercise, TestSpec};
use gauntlet_sandbox::{Bind, Network};

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("unknown runtime {0:?}")]
    Unknown(String),
    #[error("runtime {runtime} is not ready: {reason}")]
    NotReady { runtime: String, reason: String },
    #[error("runtime {runtime} failed to prepare the exercise: {reason}")]
    Prepare { runtime: String, reason: String },
}

/// Something a runtime lends to one job for the length of its run (an Anvil chain,
/// say). Dropping it gives it back.
pub trait Lease: Send {
    fn network(&self) -> Network;
    fn env(&self) -> Vec<(String, String)>;
    /// Lines the service printed during the run, for the log.
    fn service_log(&mut self) -> Vec<String> {
        Vec::new()
    }
}

pub trait Runtime: Send + Sync {
    fn name(&self) -> &'static str;

    /// Part of the prepared layer's cache key: bump it when `prepare` changes what it writes.
    fn version(&self) -> String {
        "1".to_owned()
    }

    /// The test command when the exercise gives none.
    fn default_test(&self) -> Option<TestSpec> {
        None
    }

    /// Workspace paths (besides `tests/`) a submission may never write.
    fn protected_paths(&self) -> Vec<String> {
        Vec::new()
    }

    /// Read-only binds the test command needs beyond the sandbox's standard root.
    fn binds(&self) -> Vec<Bind> {
        Vec::new()
    }

    /// Writable binds that outlive a run (a compile cache), per exercise. The host
    /// creates them owned by the jail's user and never reads or follows anything inside.
    fn rw_binds(&self, _exercise: &Exercise) -> Vec<Bind> {
        Vec::new()
    }

    /// Environment variables of the test command (beyond PATH/HOME/LANG).
    fn env(&self) -> Vec<(String, String)> {
        Vec::new()
    }

    /// Adds the runtime's own files to a freshly assembled prepared layer.
    fn prepare(&self, _layer: &Path) -> Result<(), RuntimeError> {
        Ok(())
    }

    /// Borrows whatever the run needs for its length, waiting a bounded time.
    fn lease(&self) -> Result<Option<Box<dyn Lease>>, RuntimeError> {
        Ok(None)
    }
}

/// A runtime on the system's `sh`, `python3` and `node` from the sandbox's standard
/// root (`/usr`, `/bin`, …), with the test runners at `.gauntlet/runner/` (runners.rs).
struct System {
    name: &'static str,
    env: &'static [(&'static str, &'static str)],
}

impl Runtime for System {
    fn name(&self) -> &'static str {
        self.name
    }

    fn version(&self) -> String {
        format!("1-runner-{}", crate::runners::version())
    }

    fn protected_paths(&self) -> Vec<String> {
        vec![".gauntlet".into()]
    }

    fn prepare(&self, layer: &Path) -> Result<(), RuntimeError> {
        crate::runners::install(layer).map_err(|e| RuntimeError::Prepare {
            runtime: self.name.into(),
            reason: format!("writing the test runners: {e}"),
        })
    }

    fn env(&self) -> Vec<(String, String)> {
        self.env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }
}

/// The runtimes the server knows, by name.
#[derive(Clone, Default)]
pub struct Registry {
    runtimes: BTreeMap<&'static str, Arc<dyn Runtime>>,
}

impl Registry {
    /// `shell`, `python` and `node`, on the system's interpreters.
    pub fn system() -> Self {
        let mut r = Registry::default();
        r.register(Arc::new(System {
            name: "shell",
            env: &[],
        }));
        r.register(Arc::new(System {
            name: "python",
            // No .pyc files in the read-only layers, no user site-packages.
            env: &[("PYTHONDONTWRITEBYTECODE", "1"), ("PYTHONNOUSERSITE", "1")],
        }));
        r.register(Arc::new(System {
            name: "node",
            env: &[],
        }));
        r
    }

    /// Every runtime this build ships: the system ones and `hardhat` on the given
    /// toolchain and pool.
    pub fn standard(hardhat: Arc<crate::hardhat::Hardhat>) -> Self {
        let mut r = Registry::system();
        r.register(hardhat);
        r
    }

    pub fn register(&mut self, runtime: Arc<dyn Runtime>) {
        self.runtimes.insert(runtime.name(), runtime);
    }

    pub fn get(&self, name: &str) -> Result<&Arc<dyn Runtime>, RuntimeError> {
        self.runtimes
            .get(name)
            .ok_or_else(|| RuntimeError::Unknown(name.to_owned()))
    }

    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.runtimes.keys().copied()
    }
}
