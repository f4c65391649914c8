//! Settings of the API server, read once from flags, environment and defaults (flags win),
//! validated at start-up and passed down. Secrets stay in [`SecretString`] throughout.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, ValueEnum};
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

/// Everything `gauntlet serve` needs to run the HTTP API. Flatten it into the CLI's
/// `serve` arguments: `#[command(flatten)] api: Settings`.
#[derive(Clone, Args)]
pub struct Settings {
    /// Address the HTTP API listens on.
    #[arg(long, env = "GAUNTLET_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Data directory (SQLite store, generated session secret, runs).
    #[arg(long, env = "GAUNTLET_DATA_DIR", default_value = ".data")]
    pub data_dir: PathBuf,

    /// Folder of exercise packages.
    #[arg(long, env = "GAUNTLET_EXERCISES", default_value = "exercises")]
    pub exercises: PathBuf,

    /// PostgreSQL URL; SQLite in the data dir when unset.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, value_parser = secret)]
    pub database_url: Option<SecretString>,

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

    /// File holding the PostgreSQL URL (instead of --database-url, which `ps` shows).
    #[arg(
        long,
        env = "DATABASE_URL_FILE",
        value_name = "PATH",
        conflicts_with = "database_url"
    )]
    pub database_url_file: Option<PathBuf>,
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

    /// The secret flags given on the command line (`--admin-token`, ...), which every
    /// local user can read in `/proc/<pid>/cmdline`; the CLI fills it in from how it
    /// parsed the arguments, and start-up warns about each.
    #[arg(skip)]
    pub secrets_on_command_line: Vec<SecretFlag>,

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
    /// Mark cookies `Secure` and send HSTS: set when clients reach the server over TLS
    /// (for example through a TLS-terminating proxy).
    #[arg(long, env = "GAUNTLET_BEHIND_TLS", default_value_t = false)]
    pub behind_tls: bool,
    /// Session cookie lifetime.
    #[arg(long, env = "GAUNTLET_SESSION_TTL", default_value = "30d", value_parser = duration)]
    pub session_ttl: Duration,

    /// Log output: human `text` or one JSON object per line.
    #[arg(long, env = "GAUNTLET_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // SecretString's own Debug already redacts; listed explicitly for clarity.
        f.debug_struct("Settings")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("exercises", &self.exercises)
            .field(
                "database_url",
                &self.database_url.as_ref().map(|_| "[redacted]"),
            )
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

impl Default for Settings {
    /// The defaults, as `gauntlet serve` with no flags and no environment would have them.
    fn default() -> Self {
        #[derive(clap::Parser)]
        struct Bare {
            #[command(flatten)]
            s: Settings,
        }
        // Parse from an empty command line without the environment: the defaults only.
        let cmd = <Bare as clap::CommandFactory>::command();
        let cmd = cmd
            .get_arguments()
            .fold(clap::Command::new("defaults"), |c, a| {
                c.arg(a.clone().env(None::<&str>))
            });
        let m = cmd.get_matches_from(["defaults"]);
        <Settings as clap::FromArgMatches>::from_arg_matches(&m).expect("defaults parse")
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
        if let Some(u) = &self.database_url {
            if u.expose_secret().trim().is_empty() {
                return Err(SettingsError::Empty("DATABASE_URL"));
            }
        }
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

    /// Reads the `*_FILE` secrets into their settings. Call once at start, before
    /// [`Settings::validate`]. A file holds the value on its first line; one trailing
    /// newline is ignored.
    pub fn read_secret_files(&mut self) -> Result<(), SettingsError> {
        let files = [
            (SecretFlag::DatabaseUrl, self.database_url_file.take()),
            (SecretFlag::RedisUrl, self.redis_url_file.take()),
            (SecretFlag::AdminToken, self.admin_token_file.take()),
            (SecretFlag::SessionSecret, self.session_secret_file.take()),
        ];
        for (which, path) in files {
            let Some(path) = path else { continue };
            let value = read_secret_file(&path).map_err(|reason| SettingsError::SecretFile {
                var: match which {
                    SecretFlag::DatabaseUrl => "DATABASE_URL_FILE",
                    SecretFlag::RedisUrl => "REDIS_URL_FILE",
                    SecretFlag::AdminToken => "ADMIN_TOKEN_FILE",
                    SecretFlag::SessionSecret => "SESSION_SECRET_FILE",
                },
                path: path.clone(),
                reason,
            })?;
            let slot = match which {
                SecretFlag::DatabaseUrl => &mut self.database_url,
                SecretFlag::RedisUrl => &mut self.redis_url,
                SecretFlag::AdminToken => &mut self.admin_token,
                SecretFlag::SessionSecret => &mut self.session_secret,
            };
            *slot = Some(value);
        }
        Ok(())
    }

    /// Logs a warning for every secret given as a flag. Call once logging is set up.
    pub fn warn_about_secrets_on_command_line(&self) {
        for which in &self.secrets_on_command_line {
            tracing::warn!("{}", which.advice());
        }
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
            &self.database_url,
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
    fn defaults_match_contracts() {
        let s = Settings::default();
        assert_eq!(s.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(s.data_dir, PathBuf::from(".data"));
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
}
