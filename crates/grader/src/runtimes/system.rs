//! The `shell`, `python` and `node` runtimes: the system's interpreters from the
//! sandbox's standard root, with the test runners at `.gauntlet/runner/` (runners.rs).

use std::path::Path;

use super::runners;
use super::runtime::{Runtime, RuntimeError};

/// A runtime on the system's `sh`, `python3` and `node` from the sandbox's standard
/// root (`/usr`, `/bin`, …), with the test runners at `.gauntlet/runner/` (runners.rs).
pub(super) struct System {
    pub(super) name: &'static str,
    pub(super) env: &'static [(&'static str, &'static str)],
}

impl Runtime for System {
    fn name(&self) -> &'static str {
        self.name
    }

    fn version(&self) -> String {
        format!("1-runner-{}", runners::version())
    }

    fn protected_paths(&self) -> Vec<String> {
        vec![".gauntlet".into()]
    }

    fn prepare(&self, layer: &Path) -> Result<(), RuntimeError> {
        runners::install(layer).map_err(|e| RuntimeError::Prepare {
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
