//! The service assembled: `gauntlet serve` (API + embedded workers) and `gauntlet worker`
//! (workers only), from settings to a running process, in one linear start-up each.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::builder::BoolishValueParser;
use clap::Args;
use gauntlet_exercise::Maxima;
use gauntlet_grader::runtimes::hardhat::Hardhat;
use gauntlet_grader::{Grader, GraderConfig};
use secrecy::ExposeSecret;

use crate::api;
use crate::catalog::Catalog;
use crate::config::WorkerSettings;
use crate::grading::{GraderGate, GradingExecutor};
use crate::metrics::Metered;
use crate::settings::Settings;
use crate::toolchains::{Toolchain, Toolchains as Prepared};
use gauntlet_queue::store::{self, Store, StoreLocation};
use gauntlet_queue::worker::{self, WorkerEngine};
use gauntlet_queue::KillSwitch;
use gauntlet_queue::WorkerControl;

/// Flags (and their environment variables) of the workers and the grader, shared by
/// `serve` and `worker`.
#[derive(Clone, Debug, Args)]
pub struct WorkerArgs {
    /// Acknowledge that workers run untrusted code (with --run-untrusted-code).
    #[arg(long, env = "WORKER_ENABLED", value_parser = BoolishValueParser::new(),
          num_args = 0..=1, default_missing_value = "true", default_value = "false")]
    pub worker_enabled: bool,
    /// Acknowledge that workers run untrusted code (with --worker-enabled).
    #[arg(long, env = "RUN_UNTRUSTED_CODE", value_parser = BoolishValueParser::new(),
          num_args = 0..=1, default_missing_value = "true", default_value = "false")]
    pub run_untrusted_code: bool,
    /// Jobs run at once (default: the number of cores).
    #[arg(long, env = "WORKER_MAX_CONCURRENCY")]
    pub max_concurrency: Option<usize>,
    /// Claiming stops while the runs dir has less free space than this many MiB.
    #[arg(long, env = "WORKER_MIN_FREE_DISK_MB", default_value_t = 256)]
    pub min_free_disk_mb: u64,
    /// On SIGTERM, how long running jobs get to finish before they are requeued.
    #[arg(long, env = "WORKER_DRAIN_GRACE", default_value = "30s", value_parser = crate::settings::duration)]
    pub drain_grace: Duration,
    /// How long a claim lasts without renewal; a killed worker's jobs return to the
    /// queue after this.
    #[arg(long, env = "WORKER_LEASE", default_value = "30s", value_parser = crate::settings::duration)]
    pub worker_lease: Duration,
    /// How often running jobs renew their lease (must be well under the lease).
    #[arg(long, env = "WORKER_HEARTBEAT", default_value = "5s", value_parser = crate::settings::duration)]
    pub worker_heartbeat: Duration,
    /// Anvil chains kept for Solidity exercises (started on the first Solidity job).
    #[arg(long, env = "GAUNTLET_ANVIL_POOL", default_value_t = 2)]
    pub anvil_pool: usize,
    /// Where prepared toolchains live (default: /var/cache/gauntlet/toolchains as root,
    /// else $XDG_CACHE_HOME/gauntlet/toolchains; shared with the CLI's commands).
    #[arg(long, env = "GAUNTLET_TOOLCHAINS_DIR")]
    pub toolchains_dir: Option<PathBuf>,
    /// Prepare a missing toolchain at start-up, in the background (its exercises are
    /// unavailable, 503, until it is ready); `false` leaves them unavailable until
    /// `gauntlet toolchains prepare` has run.
    #[arg(long, env = "GAUNTLET_PREPARE_TOOLCHAINS", value_parser = BoolishValueParser::new(),
          num_args = 0..=1, default_missing_value = "true", default_value = "true")]
    pub prepare_toolchains: bool,
    /// Where toolchain sources (lockfiles, configs) are read from (default:
    /// `./toolchains`, else the ones this binary was built from).
    #[arg(long, env = "GAUNTLET_TOOLCHAIN_SOURCES")]
    pub toolchain_sources: Option<PathBuf>,
    /// Default wall-time limit of a run (an exercise may lower or raise it up to the maxima).
    #[arg(long, env = "GAUNTLET_WALL_TIME", default_value = "10s", value_parser = crate::settings::duration)]
    pub wall_time: Duration,
    /// Default CPU-time limit of a run.
    #[arg(long, env = "GAUNTLET_CPU_TIME", default_value = "5s", value_parser = crate::settings::duration)]
    pub cpu_time: Duration,
    /// Default idle-output limit of a run.
    #[arg(long, env = "GAUNTLET_IDLE_TIMEOUT", default_value = "5s", value_parser = crate::settings::duration)]
    pub idle_timeout: Duration,
    /// Default memory limit of a run.
    #[arg(long, env = "GAUNTLET_MEMORY", default_value = "256MiB", value_parser = crate::settings::size)]
    pub memory: u64,
    /// Default process limit of a run.
    #[arg(long, env = "GAUNTLET_PIDS", default_value_t = 64)]
    pub pids: u64,
    /// Cap on what one job writes into its workspace.
    #[arg(long, env = "GAUNTLET_WORKSPACE_SIZE", default_value = "64MiB", value_parser = crate::settings::size)]
    pub workspace_size: u64,
    /// Cap on the log kept in a result.
    #[arg(long, env = "GAUNTLET_LOG_LIMIT", default_value = "64KiB", value_parser = crate::settings::size)]
    pub log_limit: u64,
}

impl WorkerArgs {
    fn worker_settings(&self, max_attempts: u32) -> WorkerSettings {
        let defaults = WorkerSettings::default();
        WorkerSettings {
            enabled: self.worker_enabled,
            run_untrusted_code: self.run_untrusted_code,
            max_concurrency: self
                .max_concurrency
                .unwrap_or(defaults.max_concurrency)
                .max(1),
            min_free_disk_bytes: self.min_free_disk_mb.saturating_mul(1 << 20),
            drain_grace: self.drain_grace,
            max_attempts,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Bad configuration or refused start: exit 2.
    #[error("{0}")]
    Config(String),
    /// The exercises folder has invalid packages: exit 1, every problem listed.
    #[error("{0}")]
    Exercises(String),
    /// Anything else at start or while running: exit 1.
    #[error("{0}")]
    Runtime(String),
}

/// What both commands build first: kill switch, data dir, grader, catalogue, store.
struct Core {
    kill_switch: Option<KillSwitch>,
    data_dir: PathBuf,
    grader: Arc<Grader>,
    hardhat: Arc<Hardhat>,
    catalog: Arc<Catalog>,
    store: Arc<dyn Store>,
    worker: WorkerSettings,
    toolchains: Arc<Prepared>,
}

async fn core(settings: &mut Settings, args: &WorkerArgs, workers: bool) -> Result<Core, AppError> {
    if args.worker_heartbeat * 2 > args.worker_lease {
        return Err(AppError::Config(format!(
            "--worker-heartbeat {:?} must be at most half of --worker-lease {:?}",
            args.worker_heartbeat, args.worker_lease
        )));
    }
    // 1. Kill switch: workers run strangers' code only when told so in two words.
    let worker = args.worker_settings(settings.max_attempts);
    let kill_switch = if workers {
        Some(
            worker
                .authorize()
                .map_err(|e| AppError::Config(e.to_string()))?,
        )
    } else {
        None
    };
    // 2. Data dir: created, absolute (jails mount below it by absolute path).
    std::fs::create_dir_all(&settings.data_dir)
        .map_err(|e| AppError::Config(format!("data dir {}: {e}", settings.data_dir.display())))?;
    let data_dir = std::fs::canonicalize(&settings.data_dir)
        .map_err(|e| AppError::Config(format!("data dir {}: {e}", settings.data_dir.display())))?;
    settings.data_dir = data_dir.clone();
    // 3. The grader: runtimes, limits, secrets it redacts (never passed to a job).
    let toolchains = match &args.toolchains_dir {
        Some(d) => d.clone(),
        None => gauntlet_grader::locations::default_toolchains_dir(),
    };
    let sources = args
        .toolchain_sources
        .clone()
        .unwrap_or_else(|| bundled("toolchains"));
    let mut cfg = GraderConfig::new(data_dir.clone());
    cfg.defaults.wall_time = args.wall_time;
    cfg.defaults.cpu_time = args.cpu_time;
    cfg.defaults.idle_timeout = Some(args.idle_timeout);
    cfg.defaults.memory = args.memory;
    cfg.defaults.pids = args.pids;
    cfg.workspace_size = args.workspace_size;
    cfg.log_limit = usize::try_from(args.log_limit).unwrap_or(usize::MAX);
    cfg.secrets = settings
        .secrets()
        .iter()
        .map(|s| s.expose_secret().to_owned())
        .collect();
    let toolchains = gauntlet_grader::Toolchains {
        sources,
        prepared: toolchains,
        anvil_pool: args.anvil_pool,
    };
    let grader = Grader::standard(cfg, toolchains).map_err(|e| AppError::Config(e.to_string()))?;
    let hardhat = grader
        .hardhat()
        .expect("a standard grader has hardhat")
        .clone();
    let prepared = Prepared::new(
        vec![hardhat.clone() as Arc<dyn Toolchain>],
        args.prepare_toolchains,
    );
    crate::metrics::Metrics::global().register(Box::new(
        crate::chain_metrics::ChainPoolCollector::new(hardhat.clone()),
    ));
    let grader = Arc::new(grader);
    // 4. Exercises, validated as a whole: one bad package and the server does not start.
    let gate = Arc::new(GraderGate {
        grader: grader.clone(),
        toolchains: workers.then(|| prepared.clone()),
    });
    let dir = settings.exercises.clone();
    let catalog = tokio::task::spawn_blocking(move || Catalog::load(&dir, Maxima::default(), gate))
        .await
        .map_err(|e| AppError::Runtime(e.to_string()))?
        .map_err(|e| AppError::Exercises(e.to_string()))?;
    let catalog = Arc::new(catalog);
    // 5. Toolchains: the ones the exercises need start preparing now if they are missing
    // (in the background; until then those exercises are unavailable).
    if workers {
        let snapshot = catalog.snapshot();
        prepared.ensure(
            snapshot
                .exercises
                .values()
                .map(|e| e.exercise.runtime.as_str()),
        );
    }
    // 6. The store: SQLite in the data dir, or the shared PostgreSQL.
    let url = settings
        .database_url
        .as_ref()
        .map(|s| s.expose_secret().to_owned());
    let location = StoreLocation::from_settings(url.as_deref(), &data_dir)
        .map_err(|e| AppError::Config(e.to_string()))?;
    let store = store::open(&location)
        .await
        .map_err(|e| AppError::Runtime(format!("store: {e}")))?;
    Ok(Core {
        kill_switch,
        data_dir,
        grader,
        hardhat,
        catalog,
        store,
        worker,
        toolchains: prepared,
    })
}

/// A folder shipped with Gauntlet (`exercises`, `toolchains`): `./<folder>` when it
/// exists, else the one in the source tree this binary was built from.
pub fn bundled(folder: &str) -> PathBuf {
    let here = PathBuf::from(folder);
    if here.is_dir() {
        return here;
    }
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join(folder)
}

async fn start_engine(core: &mut Core, args: &WorkerArgs) -> Result<WorkerEngine, AppError> {
    let grading = Arc::new(GradingExecutor {
        grader: core.grader.clone(),
        catalog: core.catalog.clone(),
        toolchains: Some(core.toolchains.clone()),
    });
    let executor = Arc::new(Metered::new(grading, core.store.clone()));
    let mut config = core
        .worker
        .engine_config(&core.data_dir, core.catalog.hashes());
    config.lease = args.worker_lease;
    config.heartbeat = args.worker_heartbeat;
    let kill_switch = core
        .kill_switch
        .take()
        .ok_or_else(|| AppError::Config("workers are not enabled".into()))?;
    WorkerEngine::start(core.store.clone(), executor, config, kill_switch)
        .await
        .map_err(|e| AppError::Runtime(format!("worker: {e}")))
}

/// `gauntlet serve`: the API, and (unless `workers` is false) embedded workers, until
/// SIGTERM or Ctrl-C; then the API stops and the workers drain.
pub async fn serve(
    mut settings: Settings,
    args: WorkerArgs,
    workers: bool,
) -> Result<(), AppError> {
    crate::settings::init_tracing(settings.log_format);
    let mut core = core(&mut settings, &args, workers).await?;
    let engine = if workers {
        Some(Arc::new(start_engine(&mut core, &args).await?))
    } else {
        tracing::warn!("--no-workers: this instance queues submissions but grades none");
        None
    };
    let control = engine.clone().map(|e| e as Arc<dyn WorkerControl>);
    let result = api::run(
        settings,
        core.store.clone(),
        core.catalog.clone(),
        control,
        worker::shutdown_signal(),
    )
    .await
    .map_err(|e| AppError::Runtime(e.to_string()));
    if let Some(engine) = engine {
        drain(engine, core.worker.drain_grace).await;
    }
    stop_chains(&core.hardhat);
    result
}

/// `gauntlet worker`: workers only, against the shared store, until SIGTERM or Ctrl-C.
pub async fn worker(mut settings: Settings, args: WorkerArgs) -> Result<(), AppError> {
    crate::settings::init_tracing(settings.log_format);
    let mut core = core(&mut settings, &args, true).await?;
    let engine = start_engine(&mut core, &args).await?;
    worker::shutdown_signal().await;
    drain(Arc::new(engine), core.worker.drain_grace).await;
    stop_chains(&core.hardhat);
    Ok(())
}

async fn drain(engine: Arc<WorkerEngine>, grace: Duration) {
    tracing::info!(
        ?grace,
        "draining: no new claims, running jobs get the grace period"
    );
    match Arc::try_unwrap(engine) {
        Ok(engine) => {
            let report = engine.drain(grace).await;
            tracing::info!(?report, "drained");
        }
        Err(_) => tracing::warn!("worker engine still shared at shutdown; its leases will expire"),
    }
}

fn stop_chains(hardhat: &Hardhat) {
    if let Some(pool) = hardhat.started_pool() {
        pool.shutdown();
    }
}
