//! The `shell`, `python` and `node` runtimes: the system's interpreters from the
//! sandbox's standard root, with the test runners at `.gauntlet/runner/` (runners.rs).

use std::path::Path;

use gauntlet_exercise::TestSpec;

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

    /// node's tests under `warm.js`, everything else under `warm.py` (which runs a
    /// python script in its own interpreter, and execs any other command).
    fn preamble(&self, test: &TestSpec) -> Option<Vec<String>> {
        let node = test.command.first().is_some_and(|c| c == "node");
        let (interpreter, script) = if node {
            ("node", "warm.js")
        } else {
            ("python3", "warm.py")
        };
        let mut argv = vec![
            interpreter.to_owned(),
            format!("{}/{}/{script}", crate::WORKSPACE, runners::DIR),
            "--".to_owned(),
        ];
        argv.extend(test.command.iter().cloned());
        Some(argv)
    }

    fn env(&self) -> Vec<(String, String)> {
        self.env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }
}
