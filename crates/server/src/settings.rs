//! Every setting of `gauntlet serve` and `gauntlet worker`, in one place: each one's flag,
//! environment variable, default and help, read once (flags win over the environment,
//! which wins over the defaults), validated at start-up and passed down as plain values.
//! Secrets stay in [`SecretString`] throughout.
//!
//! - [`Common`]: what both commands read (data dir, exercises, store, log format);
//! - [`Settings`]: the HTTP API (`serve` only), with [`Common`] inside;
//! - [`WorkerSettings`]: the workers and the grader they run (`serve` and `worker`);
//! - [`Serve`] and [`Worker`]: each command's whole set, and its validation.
//!
//! The queue and the grader read no flags and no environment: they take the config
//! structs made here ([`WorkerSettings::engine_config`], [`WorkerSettings::grader_config`]).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::builder::BoolishValueParser;
use clap::{Args, ValueEnum};
use gauntlet_grader::{GraderConfig, Toolchains};
use gauntlet_queue::store::{StoreError, StoreLocation};
use gauntlet_queue::worker::EngineConfig;
use gauntlet_queue::{KillSwitch, KillSwitchError};
use gauntlet_sandbox::Isolation;
use ipnet::IpNet;
use secrecy::{ExposeSecret, SecretString};

/// The shortest admin token or session secret accepted, in bytes.
pub const MIN_SECRET_BYTES: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("SESSION_SECRET is {0} bytes long; it must be at least {MIN_SECRET_BYTES} (or leave it unset to have one generated in the data dir)")]
    WeakSessionSecret(usize),
    #[error("{name} must be at least {min} (got {value})")]
    TooSmall {
        name: &'static str,
        min: u64,
        value: u64,
    },
    #[error("{0} must not be empty when set")]
    Empty(&'static str),
    #[error("invalid CORS origin {0:?}: expected scheme://host[:port]")]
    CorsOrigin(String),
    #[error("{var} {}: {reason}", path.display())]
    SecretFile {
        var: &'static str,
        path: PathBuf,
        reason: String,
    },
    #[error(
        "--worker-heartbeat ({heartbeat:?}) must be at most half of --worker-lease ({lease:?})"
    )]
    Heartbeat {
        heartbeat: Duration,
        lease: Duration,
    },
    #[error(transparent)]
    KillSwitch(#[from] KillSwitchError),
    #[error("DATABASE_URL: {0}")]
    Database(StoreError),
    #[error(
        "a standalone worker needs the store its API fills: set DATABASE_URL (or \
         --database) to the PostgreSQL database the API uses, or to sqlite:PATH to work \
         on a private SQLite file no API fills"
    )]
    NoSharedStore,
}

/// A secret setting: its flag, its variable, and its file variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretFlag {
    DatabaseUrl,
    RedisUrl,
    AdminToken,
    SessionSecret,
}

impl SecretFlag {
    pub const ALL: [SecretFlag; 4] = [
        SecretFlag::DatabaseUrl,
        SecretFlag::RedisUrl,
        SecretFlag::AdminToken,
        SecretFlag::SessionSecret,
    ];

    /// The clap argument id (the field name).
    pub fn id(self) -> &'static str {
        match self {
            SecretFlag::DatabaseUrl => "database_url",
            SecretFlag::RedisUrl => "redis_url",
            SecretFlag::AdminToken => "admin_token",
            SecretFlag::SessionSecret => "session_secret",
        }
    }

    pub fn flag(self) -> &'static str {
        match self {
            SecretFlag::DatabaseUrl => "--database-url",
            SecretFlag::RedisUrl => "--redis-url",
            SecretFlag::AdminToken => "--admin-token",
            SecretFlag::SessionSecret => "--session-secret",
        }
    }

    pub fn env(self) -> &'static str {
        match self {
            SecretFlag::DatabaseUrl => "DATABASE_URL",
            SecretFlag::RedisUrl => "REDIS_URL",
            SecretFlag::AdminToken => "ADMIN_TOKEN",
            SecretFlag::SessionSecret => "SESSION_SECRET",
        }
    }

    /// The variable naming its file.
    pub fn file_env(self) -> &'static str {
        match self {
            SecretFlag::DatabaseUrl => "DATABASE_URL_FILE",
            SecretFlag::RedisUrl => "REDIS_URL_FILE",
            SecretFlag::AdminToken => "ADMIN_TOKEN_FILE",
            SecretFlag::SessionSecret => "SESSION_SECRET_FILE",
        }
    }

    /// What to use instead of the flag.
    pub fn advice(self) -> String {
        format!(
            "{flag} on the command line is visible to every local user (ps, /proc/<pid>/cmdline); \
             set {env} in the environment, or put it in a file readable only by this user and \
             pass {flag}-file PATH (or {env}_FILE=PATH)",
            flag = self.flag(),
            env = self.env(),
        )
    }
}

/// The most bytes a secret file may hold.
const MAX_SECRET_FILE_BYTES: u64 = 64 << 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    On,
    Off,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// What `serve` and `worker` both read: where the data, the exercises and the store
/// live, and how to log.
#[derive(Clone, Args)]
pub struct Common {
    /// Data directory: the SQLite store (when no DATABASE_URL), prepared layers, job
    /// folders, and `serve`'s generated session secret.
    #[arg(long, env = "GAUNTLET_DATA_DIR", default_value = ".data")]
    pub data_dir: PathBuf,

    /// Folder of exercise packages.
    #[arg(long, env = "GAUNTLET_EXERCISES", default_value = "exercises")]
    pub exercises: PathBuf,

    /// The store: postgres://… (shared), or sqlite:PATH; `serve` uses
    /// <data-dir>/gauntlet.db when unset, `worker` refuses to start.
    #[arg(
        long = "database-url",
        visible_alias = "database",
        env = "DATABASE_URL",
        hide_env_values = true,
        value_parser = secret
    )]
    pub database_url: Option<SecretString>,

    /// File holding the store's URL (instead of --database-url, which `ps` shows).
    #[arg(
        long,
        env = "DATABASE_URL_FILE",
        value_name = "PATH",
        conflicts_with = "database_url"
    )]
    pub database_url_file: Option<PathBuf>,

    /// The secret flags given on the command line (`--admin-token`, ...), which every
    /// local user can read in `/proc/<pid>/cmdline`; the CLI fills it in from how it
    /// parsed the arguments, and start-up warns about each.
    #[arg(skip)]
    pub secrets_on_command_line: Vec<SecretFlag>,

    /// Log output: human `text` or one JSON object per line.
    #[arg(long, env = "GAUNTLET_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
}

impl Common {
    /// Reads `DATABASE_URL_FILE` into the store's URL. Call once at start, before
    /// validating.
    pub fn read_secret_files(&mut self) -> Result<(), SettingsError> {
        if let Some(path) = self.database_url_file.take() {
            self.database_url = Some(secret_from_file(SecretFlag::DatabaseUrl, &path)?);
        }
        Ok(())
    }

    /// Logs a warning for every secret given as a flag. Call once logging is set up.
    pub fn warn_about_secrets_on_command_line(&self) {
        for which in &self.secrets_on_command_line {
            tracing::warn!("{}", which.advice());
        }
    }

    fn validate(&self) -> Result<(), SettingsError> {
        if let Some(u) = &self.database_url {
            if u.expose_secret().trim().is_empty() {
                return Err(SettingsError::Empty("DATABASE_URL"));
            }
            StoreLocation::parse(u.expose_secret()).map_err(SettingsError::Database)?;
        }
        Ok(())
    }

    /// Where the store lives: `DATABASE_URL` when set; otherwise the data dir's own
    /// SQLite file, unless `standalone` (a `gauntlet worker`, which would wait forever on
    /// a store no API fills).
    pub fn store_location(
        &self,
        data_dir: &Path,
        standalone: bool,
    ) -> Result<StoreLocation, SettingsError> {
        match &self.database_url {
            Some(url) => StoreLocation::parse(url.expose_secret()).map_err(SettingsError::Database),
            None if standalone => Err(SettingsError::NoSharedStore),
            None => Ok(StoreLocation::embedded(data_dir)),
        }
    }
}

/// Everything the HTTP API reads (`serve` only).
#[derive(Clone, Args)]
pub struct Settings {
    #[command(flatten)]
    pub common: Common,

    /// Address the HTTP API listens on.
    #[arg(long, env = "GAUNTLET_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Redis URL: rate limits and session secret shared by every API instance.
    #[arg(long, env = "REDIS_URL", hide_env_values = true, value_parser = secret)]
    pub redis_url: Option<SecretString>,

    /// While Redis is unreachable: `local` (each instance counts alone) or `closed`
    /// (refuse submissions and event streams with 503).
    #[arg(
        long,
        env = "GAUNTLET_ON_REDIS_DOWN",
        value_enum,
        default_value = "local"
    )]
    pub on_redis_down: crate::limits::RedisDown,

    /// Bearer token for /api/v1/admin/ (at least 32 bytes; admin routes are disabled without one).
    #[arg(long, env = "ADMIN_TOKEN", hide_env_values = true, value_parser = secret)]
    pub admin_token: Option<SecretString>,

    /// Key that signs session cookies (at least 32 bytes); generated into the data dir when unset.
    #[arg(long, env = "SESSION_SECRET", hide_env_values = true, value_parser = secret)]
    pub session_secret: Option<SecretString>,

    /// File holding the Redis URL (instead of --redis-url, which `ps` shows).
    #[arg(
        long,
        env = "REDIS_URL_FILE",
        value_name = "PATH",
        conflicts_with = "redis_url"
    )]
    pub redis_url_file: Option<PathBuf>,
    /// File holding the admin token (instead of --admin-token, which `ps` shows).
    #[arg(
        long,
        env = "ADMIN_TOKEN_FILE",
        value_name = "PATH",
        conflicts_with = "admin_token"
    )]
    pub admin_token_file: Option<PathBuf>,
    /// File holding the session secret (instead of --session-secret, which `ps` shows).
    #[arg(
        long,
        env = "SESSION_SECRET_FILE",
        value_name = "PATH",
        conflicts_with = "session_secret"
    )]
    pub session_secret_file: Option<PathBuf>,

    /// `off` disables the per-client rate limits (IP, session, display name); queue caps stay.
    #[arg(long, env = "GAUNTLET_RATE_LIMITS", value_enum, default_value = "on")]
    pub rate_limits: Switch,

    /// Proxies (IP or CIDR, comma-separated in the environment) whose X-Forwarded-For is believed.
    #[arg(
        long = "trusted-proxy",
        env = "GAUNTLET_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<IpNet>,

    /// Submissions per client IP per minute.
    #[arg(long, env = "GAUNTLET_IP_PER_MINUTE", default_value_t = 20)]
    pub ip_per_minute: u32,
    /// Submissions per client IP per day.
    #[arg(long, env = "GAUNTLET_IP_PER_DAY", default_value_t = 1000)]
    pub ip_per_day: u32,
    /// Submissions per session per minute.
    #[arg(long, env = "GAUNTLET_SESSION_PER_MINUTE", default_value_t = 10)]
    pub session_per_minute: u32,
    /// Submissions per session per day.
    #[arg(long, env = "GAUNTLET_SESSION_PER_DAY", default_value_t = 300)]
    pub session_per_day: u32,
    /// Submissions per display name per minute.
    #[arg(long, env = "GAUNTLET_NAME_PER_MINUTE", default_value_t = 10)]
    pub name_per_minute: u32,
    /// Submissions per display name per day.
    #[arg(long, env = "GAUNTLET_NAME_PER_DAY", default_value_t = 300)]
    pub name_per_day: u32,

    /// Queued plus running submissions one session may have at once.
    #[arg(long, env = "GAUNTLET_MAX_ACTIVE_PER_SESSION", default_value_t = 2)]
    pub max_active_per_session: u32,
    /// Queued plus running submissions one client address (IPv6: network) may have at once.
    #[arg(long, env = "GAUNTLET_MAX_ACTIVE_PER_IP", default_value_t = 8)]
    pub max_active_per_ip: u32,
    /// Prefix length IPv6 clients are keyed by in every per-address limit.
    #[arg(long = "ipv6-prefix", env = "GAUNTLET_IPV6_PREFIX", default_value_t = crate::limits::DEFAULT_IPV6_PREFIX,
          value_parser = clap::value_parser!(u8).range(16..=128))]
    pub ipv6_prefix: u8,
    /// Queued submissions past which new ones get 503 "busy, retry shortly".
    #[arg(long, env = "GAUNTLET_MAX_QUEUE", default_value_t = 500)]
    pub max_queue: u32,
    /// Seconds a 503 busy answer asks the client to wait (Retry-After).
    #[arg(long, env = "GAUNTLET_BUSY_RETRY_AFTER", default_value_t = 5)]
    pub busy_retry_after: u32,

    /// Claims a submission gets before it is given up with `internal_error`.
    #[arg(long, env = "WORKER_MAX_ATTEMPTS", default_value_t = 3)]
    pub max_attempts: u32,

    /// Largest request body (JSON or multipart), e.g. `2MiB`.
    #[arg(long, env = "GAUNTLET_MAX_BODY", default_value = "2MiB", value_parser = size)]
    pub max_body: u64,
    /// Largest `archive` part of a multipart submission.
    #[arg(long, env = "GAUNTLET_MAX_ARCHIVE", default_value = "1MiB", value_parser = size)]
    pub max_archive: u64,
    /// Most parts in a multipart submission.
    #[arg(long, env = "GAUNTLET_MAX_PARTS", default_value_t = 4)]
    pub max_parts: u32,
    /// Largest non-archive multipart field (exercise, display_name).
    #[arg(long, env = "GAUNTLET_MAX_FIELD", default_value = "4KiB", value_parser = size)]
    pub max_field: u64,

    /// Time a client gets to send a request's headers.
    #[arg(long, env = "GAUNTLET_HEADER_TIMEOUT", default_value = "10s", value_parser = duration)]
    pub header_timeout: Duration,
    /// Time a client gets between two chunks of a request body.
    #[arg(long, env = "GAUNTLET_BODY_TIMEOUT", default_value = "30s", value_parser = duration)]
    pub body_timeout: Duration,
    /// Open event streams one session may hold (all instances sharing Redis together).
    #[arg(long, env = "GAUNTLET_MAX_STREAMS_PER_SESSION", default_value_t = 4)]
    pub max_streams_per_session: u32,
    /// Open event streams one client address (IPv6: network) may hold.
    #[arg(long, env = "GAUNTLET_MAX_STREAMS_PER_IP", default_value_t = 16)]
    pub max_streams_per_ip: u32,
    /// Open event streams this instance holds at most, all clients together.
    #[arg(long, env = "GAUNTLET_MAX_STREAMS", default_value_t = 512)]
    pub max_streams: u32,
    /// Keep-alive comment interval of event streams.
    #[arg(long, env = "GAUNTLET_SSE_KEEPALIVE", default_value = "15s", value_parser = duration)]
    pub sse_keepalive: Duration,
    /// Grace period for open connections on shutdown.
    #[arg(long, env = "GAUNTLET_SHUTDOWN_GRACE", default_value = "10s", value_parser = duration)]
    pub shutdown_grace: Duration,

    /// Origins allowed by CORS (comma-separated in the environment); CORS is off when empty.
    #[arg(
        long = "cors-origin",
        env = "GAUNTLET_CORS_ORIGINS",
        value_delimiter = ','
    )]
    pub cors_origins: Vec<String>,
    /// Serve the web app's files from this folder (a `web/dist` built by `scripts/web.sh
    /// build`), read on every request, instead of the copy embedded in the binary: for
    /// working on the front end without rebuilding the server.
    #[arg(long, env = "GAUNTLET_WEB_DIR")]
    pub web_dir: Option<std::path::PathBuf>,
    /// Mark cookies `Secure` and send HSTS: set when clients reach the server over TLS
    /// (for example through a TLS-terminating proxy).
    #[arg(long, env = "GAUNTLET_BEHIND_TLS", default_value_t = false)]
    pub behind_tls: bool,
    /// Session cookie lifetime.
    #[arg(long, env = "GAUNTLET_SESSION_TTL", default_value = "30d", value_parser = duration)]
    pub session_ttl: Duration,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // SecretString's own Debug already redacts; listed explicitly for clarity.
        f.debug_struct("Settings")
            .field("listen", &self.listen)
            .field("common", &self.common)
            .field("redis_url", &self.redis_url.as_ref().map(|_| "[redacted]"))
            .field(
                "admin_token",
                &self.admin_token.as_ref().map(|_| "[redacted]"),
            )
            .field(
                "session_secret",
                &self.session_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("rate_limits", &self.rate_limits)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("max_queue", &self.max_queue)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Common {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Common")
            .field("data_dir", &self.data_dir)
            .field("exercises", &self.exercises)
            .field(
                "database_url",
                &self.database_url.as_ref().map(|_| "[redacted]"),
            )
            .field("log_format", &self.log_format)
            .finish()
    }
}

/// A group of settings as an empty command line without the environment would have
/// them: the defaults only.
fn defaults<T: Args + clap::FromArgMatches>() -> T {
    let cmd = T::augment_args(clap::Command::new("defaults"));
    let cmd = cmd
        .get_arguments()
        .fold(clap::Command::new("defaults"), |c, a| {
            c.arg(a.clone().env(None::<&str>))
        });
    let m = cmd.get_matches_from(["defaults"]);
    T::from_arg_matches(&m).expect("defaults parse")
}

impl Default for Common {
    fn default() -> Self {
        defaults()
    }
}

impl Default for Settings {
    /// The defaults, as `gauntlet serve` with no flags and no environment would have them.
    fn default() -> Self {
        defaults()
    }
}

impl Settings {
    /// Checks what clap cannot: secret strength, sane limits, origins.
    pub fn validate(&self) -> Result<(), SettingsError> {
        if let Some(s) = &self.session_secret {
            let n = s.expose_secret().len();
            if n < MIN_SECRET_BYTES {
                return Err(SettingsError::WeakSessionSecret(n));
            }
        }
        for (name, value) in [
            ("GAUNTLET_MAX_PARTS", self.max_parts as u64),
            ("WORKER_MAX_ATTEMPTS", self.max_attempts as u64),
            ("GAUNTLET_MAX_ACTIVE_PER_IP", self.max_active_per_ip as u64),
            (
                "GAUNTLET_MAX_STREAMS_PER_IP",
                self.max_streams_per_ip as u64,
            ),
            ("GAUNTLET_MAX_STREAMS", self.max_streams as u64),
        ] {
            if value < 1 {
                return Err(SettingsError::TooSmall {
                    name,
                    min: 1,
                    value,
                });
            }
        }
        for (name, value, min) in [
            ("GAUNTLET_MAX_BODY", self.max_body, 1024),
            ("GAUNTLET_MAX_ARCHIVE", self.max_archive, 22),
            ("GAUNTLET_MAX_FIELD", self.max_field, 64),
        ] {
            if value < min {
                return Err(SettingsError::TooSmall { name, min, value });
            }
        }
        self.common.validate()?;
        if let Some(u) = &self.redis_url {
            if u.expose_secret().trim().is_empty() {
                return Err(SettingsError::Empty("REDIS_URL"));
            }
        }
        for o in &self.cors_origins {
            if !valid_origin(o) {
                return Err(SettingsError::CorsOrigin(o.clone()));
            }
        }
        Ok(())
    }

    /// Reads the `*_FILE` secrets into their settings (the store's too). Call once at
    /// start, before validating. A file holds the value as its only line; one trailing
    /// newline is ignored.
    pub fn read_secret_files(&mut self) -> Result<(), SettingsError> {
        self.common.read_secret_files()?;
        for (which, path) in [
            (SecretFlag::RedisUrl, self.redis_url_file.take()),
            (SecretFlag::AdminToken, self.admin_token_file.take()),
            (SecretFlag::SessionSecret, self.session_secret_file.take()),
        ] {
            let Some(path) = path else { continue };
            let value = secret_from_file(which, &path)?;
            let slot = match which {
                SecretFlag::RedisUrl => &mut self.redis_url,
                SecretFlag::AdminToken => &mut self.admin_token,
                _ => &mut self.session_secret,
            };
            *slot = Some(value);
        }
        Ok(())
    }

    /// The admin token when it is strong enough to enable the admin routes.
    pub fn strong_admin_token(&self) -> Option<&SecretString> {
        self.admin_token
            .as_ref()
            .filter(|t| t.expose_secret().len() >= MIN_SECRET_BYTES)
    }

    /// Every secret value the server holds, for the grader's redaction list. None of
    /// these may reach a worker's or sandbox's environment.
    pub fn secrets(&self) -> Vec<SecretString> {
        [
            &self.admin_token,
            &self.session_secret,
            &self.common.database_url,
            &self.redis_url,
        ]
        .into_iter()
        .flatten()
        .cloned()
        .collect()
    }

    /// True when the per-client rate limits apply (`GAUNTLET_RATE_LIMITS` is not `off`).
    pub fn rate_limits_on(&self) -> bool {
        self.rate_limits == Switch::On
    }
}

/// The workers and the grader they run: `serve` (unless `--no-workers`) and `worker`.
#[derive(Clone, Debug, Args)]
#[command(next_help_heading = "Workers")]
pub struct WorkerSettings {
    /// Acknowledge that workers run untrusted code (with --run-untrusted-code).
    #[arg(long, env = "WORKER_ENABLED", value_parser = BoolishValueParser::new(),
          num_args = 0..=1, default_missing_value = "true", default_value = "false")]
    pub worker_enabled: bool,
    /// Acknowledge that workers run untrusted code (with --worker-enabled).
    #[arg(long, env = "RUN_UNTRUSTED_CODE", value_parser = BoolishValueParser::new(),
          num_args = 0..=1, default_missing_value = "true", default_value = "false")]
    pub run_untrusted_code: bool,
    /// Jobs run at once (default: the number of cores).
    #[arg(long, env = "WORKER_MAX_CONCURRENCY",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_concurrency: Option<u32>,
    /// Claiming stops while the data dir's disk has less free space than this many MiB.
    #[arg(long, env = "WORKER_MIN_FREE_DISK_MB", default_value_t = 256)]
    pub min_free_disk_mb: u64,
    /// On SIGTERM, how long running jobs get to finish before they are requeued.
    #[arg(long, env = "WORKER_DRAIN_GRACE", default_value = "30s", value_parser = duration)]
    pub drain_grace: Duration,
    /// How long a claim lasts without renewal; a killed worker's jobs return to the
    /// queue after this.
    #[arg(long, env = "WORKER_LEASE", default_value = "30s", value_parser = duration)]
    pub worker_lease: Duration,
    /// How often running jobs renew their lease (at most half the lease).
    #[arg(long, env = "WORKER_HEARTBEAT", default_value = "5s", value_parser = duration)]
    pub worker_heartbeat: Duration,
    /// After an attempt the host failed (not the submission), how long the job waits
    /// before it may run again; doubled after each further failed attempt.
    #[arg(long, env = "WORKER_RETRY_BACKOFF", default_value = "2s", value_parser = duration)]
    pub retry_backoff: Duration,

    #[command(flatten)]
    pub grader: GraderSettings,
}

/// The grader's defaults and toolchains (part of [`WorkerSettings`]).
#[derive(Clone, Debug, Args)]
#[command(next_help_heading = "Grading")]
pub struct GraderSettings {
    /// Anvil chains kept for Solidity jobs (started on the first Solidity job), plus
    /// one for each warm jail.
    #[arg(long, env = "GAUNTLET_ANVIL_POOL", default_value_t = 2,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub anvil_pool: u32,
    /// Warm jails held at most: started ahead of demand for the exercises graded last,
    /// each with its runtime's preamble loaded, used once (0 turns the pool off).
    #[arg(long, env = "GAUNTLET_WARM_JAILS", default_value_t = 2)]
    pub warm_jails: u32,
    /// What the warm jails' memory limits may add up to.
    #[arg(long, env = "GAUNTLET_WARM_MEMORY", default_value = "2GiB", value_parser = size)]
    pub warm_memory: u64,
    /// How long a warm jail waits for a job before it is stopped (the pool empties
    /// when nobody grades).
    #[arg(long, env = "GAUNTLET_WARM_MAX_WAIT", default_value = "10m", value_parser = duration)]
    pub warm_max_wait: Duration,
    /// Where prepared toolchains live (default: /var/cache/gauntlet/toolchains as root,
    /// else $XDG_CACHE_HOME/gauntlet/toolchains; shared with the CLI's commands).
    #[arg(long, env = "GAUNTLET_TOOLCHAINS_DIR")]
    pub toolchains_dir: Option<PathBuf>,
    /// Prepare a missing toolchain at start-up, in the background (its exercises are
    /// unavailable, 503, until it is ready), and install the exercises' missing
    /// dependency sets; `false` leaves toolchain exercises unavailable until
    /// `gauntlet toolchains prepare` has run, and dependencies to the first grade.
    #[arg(long, env = "GAUNTLET_PREPARE_TOOLCHAINS", value_parser = BoolishValueParser::new(),
          num_args = 0..=1, default_missing_value = "true", default_value = "true")]
    pub prepare_toolchains: bool,
    /// Where toolchain sources (lockfiles, configs) are read from (default:
    /// `./toolchains`, else the ones this binary was built from).
    #[arg(long, env = "GAUNTLET_TOOLCHAIN_SOURCES")]
    pub toolchain_sources: Option<PathBuf>,
    /// Default wall-time limit of a run (an exercise may lower or raise it up to the maxima).
    #[arg(long, env = "GAUNTLET_WALL_TIME", default_value = "10s", value_parser = duration)]
    pub wall_time: Duration,
    /// Default CPU-time limit of a run.
    #[arg(long, env = "GAUNTLET_CPU_TIME", default_value = "5s", value_parser = duration)]
    pub cpu_time: Duration,
    /// Default idle-output limit of a run.
    #[arg(long, env = "GAUNTLET_IDLE_TIMEOUT", default_value = "5s", value_parser = duration)]
    pub idle_timeout: Duration,
    /// Default memory limit of a run.
    #[arg(long, env = "GAUNTLET_MEMORY", default_value = "256MiB", value_parser = size)]
    pub memory: u64,
    /// Default process limit of a run.
    #[arg(long, env = "GAUNTLET_PIDS", default_value_t = 64)]
    pub pids: u64,
    /// Cap on what one job writes into its workspace.
    #[arg(long, env = "GAUNTLET_WORKSPACE_SIZE", default_value = "64MiB", value_parser = size)]
    pub workspace_size: u64,
    /// Cap on the log kept in a result.
    #[arg(long, env = "GAUNTLET_LOG_LIMIT", default_value = "64KiB", value_parser = size)]
    pub log_limit: u64,
    /// What runs learner code (test runs, build steps): `namespaces` (the jail's layers
    /// on the host kernel) or `gvisor` (gVisor's kernel inside the jail). An exercise's
    /// `isolation:` can only make it stronger; gVisor asked for and unusable fails the
    /// grade, never falls back.
    #[arg(long, env = "GAUNTLET_ISOLATION", default_value = "namespaces",
          value_parser = isolation_parser())]
    pub isolation: Isolation,

    #[command(flatten)]
    pub egress: EgressArgs,
}

/// What dependency installs and git clones may reach (docs/api.md, "Egress"): the
/// service's workers and the CLI's `grade` and `exercises check` read the same ones.
#[derive(Clone, Debug, Args)]
#[command(next_help_heading = "Egress")]
pub struct EgressArgs {
    /// Hosts a dependency install may reach through the egress proxy:
    /// comma-separated host[:port], a bare host meaning port 443.
    #[arg(long, env = "GAUNTLET_PACKAGE_HOSTS",
          default_value = gauntlet_grader::deps::DEFAULT_PACKAGE_HOSTS, value_parser = https_hosts)]
    pub package_hosts: HostList,
    /// A PyPI mirror's simple index (https://…/simple); its host is allowed too.
    #[arg(long, env = "GAUNTLET_PIP_INDEX_URL", value_parser = mirror_url)]
    pub pip_index_url: Option<String>,
    /// A local folder of wheels: python dependencies install from it alone, offline.
    #[arg(long, env = "GAUNTLET_PIP_FIND_LINKS")]
    pub pip_find_links: Option<PathBuf>,
    /// An npm registry mirror (https://…/); its host is allowed too.
    #[arg(long, env = "GAUNTLET_NPM_REGISTRY", value_parser = mirror_url)]
    pub npm_registry: Option<String>,
    /// A local npm cache folder: node dependencies install from it alone, offline.
    #[arg(long, env = "GAUNTLET_NPM_CACHE")]
    pub npm_cache: Option<PathBuf>,
    /// Hosts git submissions may be fetched from: comma-separated host[:port], a bare
    /// host meaning port 443. Empty (the default) turns git submissions off.
    #[arg(long, env = "GAUNTLET_GIT_HOSTS", default_value = "", value_parser = https_hosts)]
    pub git_hosts: HostList,
}

/// A parsed `host[:port],…` list.
#[derive(Clone, Debug, Default)]
pub struct HostList(pub Vec<gauntlet_grader::egress::HostPort>);

fn https_hosts(s: &str) -> Result<HostList, String> {
    gauntlet_grader::egress::parse_host_list(s, 443).map(HostList)
}

fn mirror_url(s: &str) -> Result<String, String> {
    gauntlet_grader::deps::host_of_url(s).map(|_| s.to_owned())
}

impl EgressArgs {
    /// Puts these settings into a grader's configuration.
    pub fn apply(&self, cfg: &mut GraderConfig) {
        let packages = &mut cfg.packages;
        packages.hosts = self.package_hosts.0.clone();
        packages.pip_index_url = self.pip_index_url.clone();
        packages.pip_find_links = self.pip_find_links.clone();
        packages.npm_registry = self.npm_registry.clone();
        packages.npm_cache = self.npm_cache.clone();
        cfg.git_hosts = self.git_hosts.0.clone();
    }
}

impl Default for WorkerSettings {
    fn default() -> Self {
        defaults()
    }
}

impl WorkerSettings {
    fn validate(&self) -> Result<(), SettingsError> {
        if self.worker_heartbeat * 2 > self.worker_lease {
            return Err(SettingsError::Heartbeat {
                heartbeat: self.worker_heartbeat,
                lease: self.worker_lease,
            });
        }
        Ok(())
    }

    /// The kill switch: both acknowledgements, or a refusal that names what is missing.
    pub fn kill_switch(&self) -> Result<KillSwitch, KillSwitchError> {
        KillSwitch::acknowledge(self.worker_enabled, self.run_untrusted_code)
    }

    /// The engine's configuration, with job folders under `<data_dir>/runs`.
    pub fn engine_config(&self, data_dir: &Path, exercise_hashes: Vec<String>) -> EngineConfig {
        let mut config = EngineConfig::new(data_dir.join("runs"), exercise_hashes);
        if let Some(n) = self.max_concurrency {
            config.max_concurrency = n as usize;
        }
        config.min_free_disk_bytes = self.min_free_disk_mb.saturating_mul(1 << 20);
        config.lease = self.worker_lease;
        config.heartbeat = self.worker_heartbeat;
        // A dead worker's jobs come back within a lease and a sweep: sweep twice a lease.
        config.sweep_interval =
            (self.worker_lease / 2).clamp(Duration::from_millis(100), Duration::from_secs(15));
        config.retry_backoff = self.retry_backoff;
        config
    }

    /// The grader's configuration: its defaults, and `secrets` to redact from logs.
    pub fn grader_config(&self, data_dir: &Path, secrets: &[SecretString]) -> GraderConfig {
        let g = &self.grader;
        let mut cfg = GraderConfig::new(data_dir.to_owned());
        cfg.defaults.wall_time = g.wall_time;
        cfg.defaults.cpu_time = g.cpu_time;
        cfg.defaults.idle_timeout = Some(g.idle_timeout);
        cfg.defaults.memory = g.memory;
        cfg.defaults.pids = g.pids;
        cfg.workspace_size = g.workspace_size;
        cfg.log_limit = usize::try_from(g.log_limit).unwrap_or(usize::MAX);
        cfg.isolation = g.isolation;
        g.egress.apply(&mut cfg);
        cfg.secrets = secrets
            .iter()
            .map(|s| s.expose_secret().to_owned())
            .collect();
        cfg
    }

    /// The warm pool's settings (`None`: off).
    pub fn warm_config(&self) -> Option<gauntlet_grader::warm::WarmConfig> {
        let g = &self.grader;
        (g.warm_jails > 0).then(|| gauntlet_grader::warm::WarmConfig {
            max_jails: g.warm_jails as usize,
            max_memory: g.warm_memory,
            max_wait: g.warm_max_wait,
            // A held jail takes one of the worker's slots (docs/queue.md).
            slots: self
                .max_concurrency
                .map_or_else(gauntlet_queue::worker::default_concurrency, |n| n as usize),
            ..Default::default()
        })
    }

    /// Where the toolchains come from and go: `bundled` finds the shipped sources; they
    /// are prepared in the machine's toolchains folder unless `--toolchains-dir` says.
    pub fn toolchains(&self, bundled: impl FnOnce() -> PathBuf) -> Toolchains {
        let g = &self.grader;
        Toolchains {
            sources: g.toolchain_sources.clone().unwrap_or_else(bundled),
            prepared: g
                .toolchains_dir
                .clone()
                .unwrap_or_else(gauntlet_grader::locations::default_toolchains_dir),
            // A warm jail of a Solidity exercise holds a chain of its own while it
            // waits: the chains jobs use stay `anvil_pool`, whatever the pool holds.
            anvil_pool: (g.anvil_pool + g.warm_jails) as usize,
        }
    }
}

/// `gauntlet serve`: the API, and embedded workers unless `--no-workers`.
#[derive(Clone, Debug, Args)]
pub struct Serve {
    #[command(flatten)]
    pub api: Settings,
    #[command(flatten)]
    pub workers: WorkerSettings,
    /// Run the API only (workers elsewhere share the database).
    #[arg(long)]
    pub no_workers: bool,
}

impl Serve {
    /// Everything clap cannot check, including the kill switch when workers run here.
    pub fn validate(&self) -> Result<Option<KillSwitch>, SettingsError> {
        self.api.validate()?;
        if self.no_workers {
            return Ok(None);
        }
        self.workers.validate()?;
        Ok(Some(self.workers.kill_switch()?))
    }
}

/// `gauntlet worker`: workers only, on the store an API fills.
#[derive(Clone, Debug, Args)]
pub struct Worker {
    #[command(flatten)]
    pub common: Common,
    #[command(flatten)]
    pub workers: WorkerSettings,
}

impl Worker {
    /// Everything clap cannot check: the kill switch, and a store an API fills.
    pub fn validate(&self) -> Result<KillSwitch, SettingsError> {
        self.common.validate()?;
        self.workers.validate()?;
        let kill_switch = self.workers.kill_switch()?;
        if self.common.database_url.is_none() {
            return Err(SettingsError::NoSharedStore);
        }
        Ok(kill_switch)
    }

    /// The secrets this process holds, for the grader's redaction list.
    pub fn secrets(&self) -> Vec<SecretString> {
        self.common.database_url.iter().cloned().collect()
    }
}

/// Variables older documentation named but no version read: say so at start rather
/// than let an operator believe they apply.
pub fn unread_variables() -> Vec<String> {
    [("WORKER_DRAIN_GRACE_SECS", "WORKER_DRAIN_GRACE (e.g. 30s)")]
        .iter()
        .filter(|(name, _)| std::env::var_os(name).is_some())
        .map(|(name, instead)| format!("{name} is not read; set {instead} instead"))
        .collect()
}

fn valid_origin(o: &str) -> bool {
    let rest = match o
        .strip_prefix("https://")
        .or_else(|| o.strip_prefix("http://"))
    {
        Some(r) => r,
        None => return false,
    };
    !rest.is_empty()
        && !rest.contains('/')
        && rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
}

/// The secret in `which`'s file, or why not (naming the variable and the path).
fn secret_from_file(which: SecretFlag, path: &Path) -> Result<SecretString, SettingsError> {
    read_secret_file(path).map_err(|reason| SettingsError::SecretFile {
        var: which.file_env(),
        path: path.to_owned(),
        reason,
    })
}

/// A secret file's value: its first line (one trailing newline ignored), not empty.
fn read_secret_file(path: &Path) -> Result<SecretString, String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut bytes = Vec::new();
    file.take(MAX_SECRET_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > MAX_SECRET_FILE_BYTES {
        return Err(format!("larger than {MAX_SECRET_FILE_BYTES} bytes"));
    }
    let text = String::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_owned())?;
    let value = text
        .strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(&text);
    if value.is_empty() {
        return Err("empty".into());
    }
    if value.contains(['\n', '\r', '\0']) {
        return Err("holds more than one line: the secret must be its only line".into());
    }
    Ok(SecretString::from(value.to_owned()))
}

fn secret(s: &str) -> Result<SecretString, String> {
    Ok(SecretString::from(s.to_owned()))
}

/// clap's parser for `--isolation` (the workers', `grade`'s and `sandbox run`'s): the
/// names `namespaces` and `gvisor`, exactly; its error and `--help` list both.
pub fn isolation_parser() -> impl clap::builder::TypedValueParser<Value = Isolation> {
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(Isolation::ALL.map(Isolation::name))
        .try_map(|s| s.parse::<Isolation>())
}

/// A size flag or variable, in the grammar of `gauntlet_exercise::units` (docs/cli.md).
pub fn size(s: &str) -> Result<u64, gauntlet_exercise::UnitError> {
    gauntlet_exercise::parse_size(s)
}

/// A duration flag or variable, in the grammar of `gauntlet_exercise::units` (docs/cli.md).
pub fn duration(s: &str) -> Result<Duration, gauntlet_exercise::UnitError> {
    gauntlet_exercise::parse_duration(s)
}

/// Whether text on stderr may carry colour: only on a terminal, and never with
/// `NO_COLOR` set to anything (no-color.org), so a log sent to a file stays plain.
pub fn colour_on_stderr() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Installs the global `tracing` subscriber: `RUST_LOG`-style filter (default `info`),
/// text (coloured only on a terminal) or JSON lines on stderr. Call once, from the
/// binary.
pub fn init_tracing(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour_on_stderr())
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(true)
            .try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        s: Settings,
    }

    #[test]
    fn defaults() {
        let s = Settings::default();
        assert_eq!(s.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(s.common.data_dir, PathBuf::from(".data"));
        assert!(s.rate_limits_on());
        assert!(s.validate().is_ok());
        assert!(s.strong_admin_token().is_none());
    }

    #[test]
    fn flags_parse_and_validate() {
        let cli = Cli::try_parse_from([
            "x",
            "--listen",
            "0.0.0.0:9000",
            "--rate-limits",
            "off",
            "--trusted-proxy",
            "10.0.0.0/8",
            "--max-body",
            "64KiB",
            "--body-timeout",
            "250ms",
            "--session-secret",
            "short",
        ])
        .unwrap();
        assert_eq!(cli.s.max_body, 64 << 10);
        assert_eq!(cli.s.body_timeout, Duration::from_millis(250));
        assert!(!cli.s.rate_limits_on());
        assert!(matches!(
            cli.s.validate(),
            Err(SettingsError::WeakSessionSecret(5))
        ));
    }

    #[test]
    fn sizes_and_durations() {
        let table: &[(&str, Option<u64>)] = &[
            ("0", Some(0)),
            ("10", Some(10)),
            ("4KiB", Some(4096)),
            ("2MiB", Some(2 << 20)),
            ("1GiB", Some(1 << 30)),
            ("1TiB", None),
            ("MiB", None),
            ("-1", None),
        ];
        for (input, want) in table {
            assert_eq!(size(input).ok(), *want, "{input}");
        }
        assert_eq!(duration("30d").unwrap(), Duration::from_secs(30 * 86_400));
        assert!(duration("10").is_err());
    }

    #[test]
    fn secrets_do_not_print() {
        let cli = Cli::try_parse_from([
            "x",
            "--admin-token",
            "super-secret-admin-token-value-0123456789",
        ])
        .unwrap();
        let dbg = format!("{:?}", cli.s);
        assert!(!dbg.contains("super-secret"), "{dbg}");
        assert!(cli.s.strong_admin_token().is_some());
        assert_eq!(cli.s.secrets().len(), 1);
    }

    #[test]
    fn origins() {
        for (o, ok) in [
            ("https://example.com", true),
            ("http://localhost:3000", true),
            ("example.com", false),
            ("https://example.com/path", false),
            ("*", false),
        ] {
            assert_eq!(valid_origin(o), ok, "{o}");
        }
    }

    /// Parses a command line as if the environment were empty (tests must not depend on
    /// the variables of the machine they run on).
    fn parse<T: Args + clap::FromArgMatches>(args: &[&str]) -> Result<T, clap::Error> {
        let cmd = T::augment_args(clap::Command::new("x"));
        let cmd = cmd.get_arguments().fold(clap::Command::new("x"), |c, a| {
            c.arg(a.clone().env(None::<&str>))
        });
        let mut argv = vec!["x"];
        argv.extend_from_slice(args);
        T::from_arg_matches(&cmd.try_get_matches_from(argv)?)
    }

    fn serve(args: &[&str]) -> Result<Serve, clap::Error> {
        parse(args)
    }

    fn worker(args: &[&str]) -> Result<Worker, clap::Error> {
        parse(args)
    }

    fn command<T: Args>() -> clap::Command {
        T::augment_args(clap::Command::new("x"))
    }

    /// Every variable docs/api.md and docs/queue.md name, with the flag that reads it:
    /// renaming or dropping one breaks operators' deployments.
    #[test]
    fn every_documented_variable_is_read_by_its_flag() {
        let serve_only: &[(&str, &str)] = &[
            ("GAUNTLET_LISTEN", "listen"),
            ("REDIS_URL", "redis-url"),
            ("ADMIN_TOKEN", "admin-token"),
            ("SESSION_SECRET", "session-secret"),
            ("GAUNTLET_RATE_LIMITS", "rate-limits"),
            ("GAUNTLET_TRUSTED_PROXIES", "trusted-proxy"),
            ("GAUNTLET_IP_PER_MINUTE", "ip-per-minute"),
            ("GAUNTLET_IP_PER_DAY", "ip-per-day"),
            ("GAUNTLET_SESSION_PER_MINUTE", "session-per-minute"),
            ("GAUNTLET_SESSION_PER_DAY", "session-per-day"),
            ("GAUNTLET_NAME_PER_MINUTE", "name-per-minute"),
            ("GAUNTLET_NAME_PER_DAY", "name-per-day"),
            ("GAUNTLET_MAX_ACTIVE_PER_SESSION", "max-active-per-session"),
            ("GAUNTLET_MAX_QUEUE", "max-queue"),
            ("GAUNTLET_BUSY_RETRY_AFTER", "busy-retry-after"),
            ("WORKER_MAX_ATTEMPTS", "max-attempts"),
            ("GAUNTLET_MAX_BODY", "max-body"),
            ("GAUNTLET_MAX_ARCHIVE", "max-archive"),
            ("GAUNTLET_MAX_PARTS", "max-parts"),
            ("GAUNTLET_MAX_FIELD", "max-field"),
            ("GAUNTLET_HEADER_TIMEOUT", "header-timeout"),
            ("GAUNTLET_BODY_TIMEOUT", "body-timeout"),
            (
                "GAUNTLET_MAX_STREAMS_PER_SESSION",
                "max-streams-per-session",
            ),
            ("GAUNTLET_SSE_KEEPALIVE", "sse-keepalive"),
            ("GAUNTLET_SHUTDOWN_GRACE", "shutdown-grace"),
            ("GAUNTLET_CORS_ORIGINS", "cors-origin"),
            ("GAUNTLET_BEHIND_TLS", "behind-tls"),
            ("GAUNTLET_SESSION_TTL", "session-ttl"),
        ];
        let both: &[(&str, &str)] = &[
            ("GAUNTLET_DATA_DIR", "data-dir"),
            ("GAUNTLET_EXERCISES", "exercises"),
            ("DATABASE_URL", "database-url"),
            ("GAUNTLET_LOG_FORMAT", "log-format"),
            ("WORKER_ENABLED", "worker-enabled"),
            ("RUN_UNTRUSTED_CODE", "run-untrusted-code"),
            ("WORKER_MAX_CONCURRENCY", "max-concurrency"),
            ("WORKER_MIN_FREE_DISK_MB", "min-free-disk-mb"),
            ("WORKER_DRAIN_GRACE", "drain-grace"),
            ("WORKER_LEASE", "worker-lease"),
            ("WORKER_HEARTBEAT", "worker-heartbeat"),
            ("WORKER_RETRY_BACKOFF", "retry-backoff"),
            ("GAUNTLET_ANVIL_POOL", "anvil-pool"),
            ("GAUNTLET_WARM_JAILS", "warm-jails"),
            ("GAUNTLET_WARM_MEMORY", "warm-memory"),
            ("GAUNTLET_WARM_MAX_WAIT", "warm-max-wait"),
            ("GAUNTLET_TOOLCHAINS_DIR", "toolchains-dir"),
            ("GAUNTLET_PREPARE_TOOLCHAINS", "prepare-toolchains"),
            ("GAUNTLET_TOOLCHAIN_SOURCES", "toolchain-sources"),
            ("GAUNTLET_WALL_TIME", "wall-time"),
            ("GAUNTLET_CPU_TIME", "cpu-time"),
            ("GAUNTLET_IDLE_TIMEOUT", "idle-timeout"),
            ("GAUNTLET_MEMORY", "memory"),
            ("GAUNTLET_PIDS", "pids"),
            ("GAUNTLET_WORKSPACE_SIZE", "workspace-size"),
            ("GAUNTLET_LOG_LIMIT", "log-limit"),
            ("GAUNTLET_ISOLATION", "isolation"),
        ];
        let reads = |cmd: &clap::Command, var: &str, flag: &str| {
            cmd.get_arguments().any(|a| {
                a.get_long() == Some(flag) && a.get_env().and_then(|e| e.to_str()) == Some(var)
            })
        };
        let (serve_cmd, worker_cmd) = (command::<Serve>(), command::<Worker>());
        for (var, flag) in serve_only.iter().chain(both) {
            assert!(reads(&serve_cmd, var, flag), "serve: --{flag} / {var}");
        }
        for (var, flag) in both {
            assert!(reads(&worker_cmd, var, flag), "worker: --{flag} / {var}");
        }
        // `worker --help` shows only what a worker reads.
        for (var, flag) in serve_only {
            assert!(
                !reads(&worker_cmd, var, flag),
                "worker reads --{flag} / {var}"
            );
        }
        assert!(worker_cmd
            .get_arguments()
            .all(|a| a.get_long() != Some("no-workers")));
    }

    #[test]
    fn a_worker_needs_a_store_an_api_fills() {
        let ack = ["--worker-enabled", "--run-untrusted-code"];
        let w = worker(&ack).unwrap();
        assert!(matches!(w.validate(), Err(SettingsError::NoSharedStore)));
        assert!(w
            .validate()
            .unwrap_err()
            .to_string()
            .contains("sqlite:PATH"));
        for store in ["sqlite:/srv/private.db", "postgres://db/gauntlet"] {
            let w = worker(&[ack[0], ack[1], "--database", store]).unwrap();
            assert!(w.validate().is_ok(), "{store}");
        }
        let w = worker(&[ack[0], ack[1], "--database", "mysql://db"]).unwrap();
        assert!(matches!(w.validate(), Err(SettingsError::Database(_))));
        // The kill switch is checked first, and says what is missing.
        let err = worker(&["--database", "sqlite:/x.db"])
            .unwrap()
            .validate()
            .unwrap_err()
            .to_string();
        assert!(err.contains("refuse to start"), "{err}");
        // `serve` has its own store in the data dir.
        let s = serve(&ack).unwrap();
        let dir = Path::new("/srv/data");
        assert_eq!(
            s.api.common.store_location(dir, false).unwrap(),
            StoreLocation::embedded(dir)
        );
    }

    #[test]
    fn worker_settings_become_the_engines_and_the_graders() {
        let s = serve(&[
            "--worker-enabled",
            "--run-untrusted-code",
            "--max-concurrency",
            "3",
            "--min-free-disk-mb",
            "1",
            "--drain-grace",
            "1.5s",
            "--worker-lease",
            "4s",
            "--worker-heartbeat",
            "2s",
            "--memory",
            "1G",
        ])
        .unwrap();
        assert!(s.validate().unwrap().is_some());
        let c = s.workers.engine_config(Path::new("/d"), vec!["h".into()]);
        assert_eq!(c.max_concurrency, 3);
        assert_eq!(c.min_free_disk_bytes, 1 << 20);
        assert_eq!(c.lease, Duration::from_secs(4));
        assert_eq!(c.heartbeat, Duration::from_secs(2));
        assert_eq!(c.runs_dir, Path::new("/d/runs"));
        assert_eq!(s.workers.drain_grace, Duration::from_millis(1500));
        let g = s.workers.grader_config(Path::new("/d"), &[]);
        assert_eq!(g.defaults.memory, 1 << 30);
        assert_eq!(g.isolation, Isolation::Namespaces);
        // The isolation of learner code: namespaces unless told, gvisor when asked, and
        // nothing else (no case folding, no other runtimes).
        for w in [
            worker(&["--isolation", "gvisor"]).unwrap().workers,
            serve(&["--isolation", "gvisor"]).unwrap().workers,
        ] {
            assert_eq!(
                w.grader_config(Path::new("/d"), &[]).isolation,
                Isolation::Gvisor
            );
        }
        let s = serve(&["--isolation", "namespaces"]).unwrap();
        assert_eq!(s.workers.grader.isolation, Isolation::Namespaces);
        for bad in ["gVisor", "runsc", "docker", ""] {
            let err = serve(&["--isolation", bad]).err().map(|e| e.to_string());
            assert!(
                err.as_deref()
                    .is_some_and(|e| e.contains("namespaces") && e.contains("gvisor")),
                "{bad}: {err:?}"
            );
        }
        // Defaults, and the checks clap cannot make.
        let d = WorkerSettings::default();
        assert_eq!(d.drain_grace, Duration::from_secs(30));
        assert_eq!(d.worker_lease, Duration::from_secs(30));
        assert!(serve(&["--max-concurrency", "0"]).is_err());
        let slow = serve(&["--worker-lease", "4s", "--worker-heartbeat", "3s"]).unwrap();
        assert!(matches!(
            slow.workers.validate(),
            Err(SettingsError::Heartbeat { .. })
        ));
        // Without workers, neither the kill switch nor their settings stop the API.
        let api_only = serve(&["--no-workers", "--worker-heartbeat", "1h"]).unwrap();
        assert!(api_only.validate().unwrap().is_none());
    }
}
