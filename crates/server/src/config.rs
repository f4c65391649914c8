//! Worker settings, as the command line's flags and variables give them (app.rs), and
//! the kill switch: a worker runs untrusted code only when `WORKER_ENABLED=true` and
//! `RUN_UNTRUSTED_CODE=true` are both set.

use std::path::Path;
use std::time::Duration;

use gauntlet_queue::worker::EngineConfig;
use gauntlet_queue::{KillSwitch, KillSwitchError};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error(transparent)]
    KillSwitch(#[from] KillSwitchError),
}

/// The worker part of the service's settings, filled in from the flags and variables
/// of `serve` and `worker` (`app::WorkerArgs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerSettings {
    /// `WORKER_ENABLED`
    pub enabled: bool,
    /// `RUN_UNTRUSTED_CODE`
    pub run_untrusted_code: bool,
    /// `WORKER_MAX_CONCURRENCY`; default: the number of cores.
    pub max_concurrency: usize,
    /// `WORKER_MIN_FREE_DISK_MB`: claiming stops below this much free space in the runs dir.
    pub min_free_disk_bytes: u64,
    /// `WORKER_DRAIN_GRACE`: how long SIGTERM lets running jobs finish.
    pub drain_grace: Duration,
    /// `WORKER_MAX_ATTEMPTS`: claims a job gets before it is given up.
    pub max_attempts: u32,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        WorkerSettings {
            enabled: false,
            run_untrusted_code: false,
            max_concurrency: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            min_free_disk_bytes: 256 * 1024 * 1024,
            drain_grace: Duration::from_secs(30),
            max_attempts: 3,
        }
    }
}

impl WorkerSettings {
    /// The kill switch: both flags set, or an error that names what is missing.
    pub fn authorize(&self) -> Result<KillSwitch, ConfigError> {
        Ok(KillSwitch::acknowledge(
            self.enabled,
            self.run_untrusted_code,
        )?)
    }

    /// The engine configuration for these settings, with runs under `<data_dir>/runs`.
    pub fn engine_config(&self, data_dir: &Path, exercise_hashes: Vec<String>) -> EngineConfig {
        EngineConfig {
            max_concurrency: self.max_concurrency,
            min_free_disk_bytes: self.min_free_disk_bytes,
            ..EngineConfig::new(data_dir.join("runs"), exercise_hashes)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kill_switch_table() {
        let cases: &[(bool, bool, bool)] = &[
            (false, false, false),
            (true, false, false),
            (false, true, false),
            (true, true, true),
        ];
        for &(enabled, run_untrusted_code, allowed) in cases {
            let s = WorkerSettings {
                enabled,
                run_untrusted_code,
                ..WorkerSettings::default()
            };
            assert_eq!(
                s.authorize().is_ok(),
                allowed,
                "{enabled} {run_untrusted_code}"
            );
        }
        let err = WorkerSettings {
            enabled: true,
            ..WorkerSettings::default()
        }
        .authorize()
        .unwrap_err()
        .to_string();
        assert!(err.contains("RUN_UNTRUSTED_CODE is not true"), "{err}");
        assert!(!err.contains("WORKER_ENABLED is not"), "{err}");
    }
}
