//! What a runtime is: what a kind of exercise needs from the sandbox (binds,
//! environment, a network), its default test command, its protected paths, its
//! preparation step, and what it lends a job for the length of a run.

use std::path::Path;

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

    /// [`Runtime::lease`] without waiting: an error when nothing is free now (a warm
    /// jail is then simply not started).
    fn lease_now(&self) -> Result<Option<Box<dyn Lease>>, RuntimeError> {
        self.lease()
    }

    /// The trusted preamble a warm jail runs for `test` (warm.rs), or `None` when this
    /// test command cannot be run warm. It takes the test command after `--`.
    fn preamble(&self, _test: &TestSpec) -> Option<Vec<String>> {
        None
    }
}
