//! Runtimes: what each kind of exercise needs (`runtime.rs`), the ones this build
//! ships (`system.rs`: shell, python, node; `hardhat/`: Solidity on an Anvil pool),
//! and the registry that finds them by name. New toolchains plug in by implementing
//! [`Runtime`] and registering it.

pub mod hardhat;
pub mod runners;
mod runtime;
mod system;

use std::collections::BTreeMap;
use std::sync::Arc;

pub use runtime::{Lease, Runtime, RuntimeError};

use hardhat::Hardhat;
use system::System;

/// The runtimes the server knows, by name.
#[derive(Clone, Default)]
pub struct Registry {
    runtimes: BTreeMap<&'static str, Arc<dyn Runtime>>,
    /// Runtimes this build ships that cannot run here, with the reason: their
    /// exercises get that reason instead of "unknown runtime".
    unavailable: BTreeMap<&'static str, String>,
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
    pub fn standard(hardhat: Arc<Hardhat>) -> Self {
        let mut r = Registry::system();
        r.register(hardhat);
        r
    }

    pub fn register(&mut self, runtime: Arc<dyn Runtime>) {
        self.runtimes.insert(runtime.name(), runtime);
    }

    /// Records a runtime of this build that cannot run here, and why.
    pub fn unavailable(&mut self, name: &'static str, reason: String) {
        self.unavailable.insert(name, reason);
    }

    pub fn get(&self, name: &str) -> Result<&Arc<dyn Runtime>, RuntimeError> {
        if let Some(runtime) = self.runtimes.get(name) {
            return Ok(runtime);
        }
        Err(match self.unavailable.get(name) {
            Some(reason) => RuntimeError::NotReady {
                runtime: name.to_owned(),
                reason: reason.clone(),
            },
            None => RuntimeError::Unknown(name.to_owned()),
        })
    }

    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.runtimes.keys().copied()
    }
}
