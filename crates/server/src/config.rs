//! Worker settings read from the environment, and the kill switch: a worker runs untrusted
//! code only when `WORKER_ENABLED=true` and `RUN_UNTRUSTED_CODE=true` are both set.

use std::path::Path;
use std::time::Duration;

use gauntlet_queue::worker::EngineConfig;
use gauntlet_queue::{KillSwitch, KillSwitchError};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error(transparent)]
    KillSwitch(#[from] KillSwitchError),
    #[error("invalid {name}={value:?}: {reason}")]
    Invalid {
        name: &'static str,
        value: String,
        reason: &'static str,
    },
}

/// The worker part of the service's settings. The binary fills it from flags and the
/// environment ([`WorkerSettings::from_env`] covers the environment half).
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
    /// `WORKER_DRAIN_GRACE_SECS`: how long SIGTERM lets running jobs finish.
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

fn flag(name: &'static str, value: Option<String>) -> Result<bool, ConfigError> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(false),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
        Some(v) => Err(ConfigError::Invalid {
            name,
            value: v.to_owned(),
            reason: "expected true or false",
        }),
    }
}

fn number<T: std::str::FromStr + PartialOrd>(
    name: &'static str,
    value: Option<String>,
    min: T,
) -> Result<Option<T>, ConfigError> {
    let Some(raw) = value.filter(|v| !v.trim().is_empty()) else {
        return Ok(None);
    };
    match raw.trim().parse::<T>() {
        Ok(n) if n >= min => Ok(Some(n)),
        _ => Err(ConfigError::Invalid {
            name,
            value: raw,
            reason: "expected a positive whole number",
        }),
    }
}

impl WorkerSettings {
    /// Reads the `WORKER_*` and `RUN_UNTRUSTED_CODE` variables; unset ones keep defaults.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Like [`WorkerSettings::from_env`] with any variable source (tests, config files).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut s = WorkerSettings {
            enabled: flag("WORKER_ENABLED", get("WORKER_ENABLED"))?,
            run_untrusted_code: flag("RUN_UNTRUSTED_CODE", get("RUN_UNTRUSTED_CODE"))?,
            ..WorkerSettings::default()
        };
        if let Some(n) = number("WORKER_MAX_CONCURRENCY", get("WORKER_MAX_CONCURRENCY"), 1)? {
            s.max_concurrency = n;
        }
        if let Some(mb) =
            number::<u64>("WORKER_MIN_FREE_DISK_MB", get("WORKER_MIN_FREE_DISK_MB"), 0)?
        {
            s.min_free_disk_bytes = mb.saturating_mul(1024 * 1024);
        }
        if let Some(secs) =
            number::<u64>("WORKER_DRAIN_GRACE_SECS", get("WORKER_DRAIN_GRACE_SECS"), 0)?
        {
            s.drain_grace = Duration::from_secs(secs);
        }
        if let Some(n) = number("WORKER_MAX_ATTEMPTS", get("WORKER_MAX_ATTEMPTS"), 1)? {
            s.max_attempts = n;
        }
        Ok(s)
    }

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

    fn settings(vars: &[(&str, &str)]) -> Result<WorkerSettings, ConfigError> {
        WorkerSettings::from_lookup(|k| {
            vars.iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn kill_switch_table() {
        let cases: &[(&[(&str, &str)], bool)] = &[
            (&[], false),
            (&[("WORKER_ENABLED", "true")], false),
            (&[("RUN_UNTRUSTED_CODE", "true")], false),
            (
                &[("WORKER_ENABLED", "true"), ("RUN_UNTRUSTED_CODE", "false")],
                false,
            ),
            (
                &[("WORKER_ENABLED", "TRUE"), ("RUN_UNTRUSTED_CODE", "true")],
                true,
            ),
        ];
        for (vars, allowed) in cases {
            let s = settings(vars).unwrap();
            assert_eq!(s.authorize().is_ok(), *allowed, "{vars:?}");
        }
        let err = settings(&[("WORKER_ENABLED", "true")])
            .unwrap()
            .authorize()
            .unwrap_err()
            .to_string();
        assert!(err.contains("RUN_UNTRUSTED_CODE is not true"), "{err}");
        assert!(!err.contains("WORKER_ENABLED is not"), "{err}");
    }

    #[test]
    fn rejects_bad_values() {
        assert!(settings(&[("WORKER_ENABLED", "yes")]).is_err());
        assert!(settings(&[("WORKER_MAX_CONCURRENCY", "0")]).is_err());
        assert!(settings(&[("WORKER_MAX_CONCURRENCY", "x")]).is_err());
        let s = settings(&[
            ("WORKER_MAX_CONCURRENCY", "7"),
            ("WORKER_MIN_FREE_DISK_MB", "1"),
        ])
        .unwrap();
        assert_eq!(s.max_concurrency, 7);
        assert_eq!(s.min_free_disk_bytes, 1024 * 1024);
    }
}
