//! The service assembled: `gauntlet serve` (API + embedded workers) and `gauntlet worker`
//! (workers only), from settings to a running process, in one linear start-up each.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use gauntlet_exercise::Maxima;
use gauntlet_grader::runtimes::hardhat::Hardhat;
use gauntlet_grader::Grader;
use gauntlet_queue::store::{self, Store, StoreLocation};
use gauntlet_queue::worker::{self, WorkerEngine};
use gauntlet_queue::{KillSwitch, WorkerControl};
use secrecy::SecretString;

use crate::api;
use crate::catalog::Catalog;
use crate::grading::{GraderGate, GradingExecutor};
use crate::metrics::Metered;
use crate::settings::{self, Common, Serve, SettingsError, Worker, WorkerSettings};
use crate::toolchains::{Toolchain, Toolchains};

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

impl From<SettingsError> for AppError {
    fn from(e: SettingsError) -> Self {
        AppError::Config(e.to_string())
    }
}

/// What both commands build first: data dir, store, grader, toolchains, catalogue.
struct Core {
    data_dir: PathBuf,
    store: Arc<dyn Store>,
    grader: Arc<Grader>,
    hardhat: Arc<Hardhat>,
    toolchains: Arc<Toolchains>,
    catalog: Arc<Catalog>,
}

/// The steps both commands take, in order. `standalone` is a `gauntlet worker`;
/// `grading_here` says this process runs workers (an API-only one cannot see its
/// workers' toolchains); `secrets` are what the grader redacts (never passed to a job).
async fn core(
    common: &mut Common,
    workers: &WorkerSettings,
    standalone: bool,
    grading_here: bool,
    secrets: &[SecretString],
) -> Result<Core, AppError> {
    for warning in settings::unread_variables() {
        tracing::warn!("{warning}");
    }
    let data_dir = data_dir(common)?;
    let store = open_store(common, &data_dir, standalone).await?;
    let (grader, hardhat) = grader(workers, &data_dir, secrets)?;
    let toolchains = Toolchains::new(
        vec![hardhat.clone() as Arc<dyn Toolchain>],
        workers.grader.prepare_toolchains,
    );
    let gated = grading_here.then(|| toolchains.clone());
    let catalog = load_exercises(&common.exercises, &grader, gated).await?;
    if grading_here {
        prepare_toolchains(&toolchains, &catalog);
        if workers.grader.prepare_toolchains {
            install_dependencies(&grader, &catalog);
        }
    }
    Ok(Core {
        data_dir,
        store,
        grader,
        hardhat,
        toolchains,
        catalog,
    })
}

/// Starts preparing, in the background, the toolchains the exercises need and this
/// machine lacks; until each is ready its exercises are unavailable (503 at submit).
fn prepare_toolchains(toolchains: &Toolchains, catalog: &Catalog) {
    let snapshot = catalog.snapshot();
    toolchains.ensure(
        snapshot
            .exercises
            .values()
            .map(|e| e.exercise.runtime.as_str()),
    );
}

/// Installs, in the background and one at a time, the dependency sets the exercises
/// declare and this data dir lacks, so that the first submissions find them ready
/// (a grade that comes first installs its own, and the other waits for it). A set
/// that fails is logged; its exercise's grades try again.
fn install_dependencies(grader: &Arc<Grader>, catalog: &Catalog) {
    let exercises: Vec<_> = catalog
        .snapshot()
        .exercises
        .values()
        .filter(|e| e.exercise.dependencies.is_some())
        .map(|e| e.exercise.clone())
        .collect();
    if exercises.is_empty() {
        return;
    }
    let grader = grader.clone();
    tokio::task::spawn_blocking(move || {
        for ex in exercises {
            match grader.dependencies(&ex) {
                Ok(installed) => {
                    for set in installed.sets().filter(|s| s.info.fresh) {
                        tracing::info!(
                            exercise = ex.id.as_str(),
                            set = set.info.key.as_str(),
                            bytes = set.info.bytes,
                            install_ms = set.info.install_ms,
                            "dependencies ready"
                        );
                    }
                }
                Err(e) => {
                    tracing::warn!(exercise = ex.id.as_str(), error = %e, "dependencies did not install")
                }
            }
        }
    });
}

/// The data dir, created and made absolute (jails mount below it by absolute path).
fn data_dir(common: &mut Common) -> Result<PathBuf, AppError> {
    let dir = &common.data_dir;
    let fail = |e: std::io::Error| AppError::Config(format!("data dir {}: {e}", dir.display()));
    std::fs::create_dir_all(dir).map_err(fail)?;
    let absolute = std::fs::canonicalize(dir).map_err(fail)?;
    common.data_dir = absolute.clone();
    Ok(absolute)
}

/// The store, opened first so that a store that cannot be had (in use by another
/// process, locked, unreachable) stops the start before anything else is prepared.
async fn open_store(
    common: &Common,
    data_dir: &Path,
    standalone: bool,
) -> Result<Arc<dyn Store>, AppError> {
    let location = common.store_location(data_dir, standalone)?;
    let store = store::open(&location).await.map_err(|e| {
        let what = match &location {
            StoreLocation::Sqlite { .. } => "SQLite store",
            StoreLocation::Postgres { .. } => "PostgreSQL store",
        };
        AppError::Runtime(format!("{what}: {e}"))
    })?;
    Ok(store)
}

/// The grader: runtimes, limits, toolchains, and the secrets it redacts.
fn grader(
    workers: &WorkerSettings,
    data_dir: &Path,
    secrets: &[SecretString],
) -> Result<(Arc<Grader>, Arc<Hardhat>), AppError> {
    let cfg = workers.grader_config(data_dir, secrets);
    let toolchains = workers.toolchains(|| bundled("toolchains"));
    let mut grader =
        Grader::standard(cfg, toolchains).map_err(|e| AppError::Config(e.to_string()))?;
    if let Some(warm) = workers.warm_config() {
        grader.enable_warm_pool(warm);
    }
    // The service grades every runtime it lists: without the Hardhat toolchain's
    // sources it does not start (the CLI's local commands grade the others anyway).
    let hardhat = match grader.hardhat() {
        Some(hardhat) => hardhat.clone(),
        None => {
            let reason = grader
                .registry()
                .get("hardhat")
                .err()
                .map_or_else(String::new, |e| e.to_string());
            return Err(AppError::Config(reason));
        }
    };
    crate::metrics::Metrics::global().register(Box::new(
        crate::chain_metrics::ChainPoolCollector::new(hardhat.clone()),
    ));
    let grader = Arc::new(grader);
    crate::metrics::Metrics::global().register(Box::new(
        crate::warm_metrics::WarmPoolCollector::new(grader.clone()),
    ));
    crate::metrics::Metrics::global().register(Box::new(
        crate::egress_metrics::EgressCollector::new(grader.config().packages.counters.clone()),
    ));
    Ok((grader, hardhat))
}

/// Exercises, validated as a whole: one bad package and the server does not start.
async fn load_exercises(
    dir: &Path,
    grader: &Arc<Grader>,
    toolchains: Option<Arc<Toolchains>>,
) -> Result<Arc<Catalog>, AppError> {
    let gate = Arc::new(GraderGate {
        grader: grader.clone(),
        toolchains,
    });
    let dir = dir.to_owned();
    let catalog = tokio::task::spawn_blocking(move || Catalog::load(&dir, Maxima::default(), gate))
        .await
        .map_err(|e| AppError::Runtime(e.to_string()))?
        .map_err(|e| AppError::Exercises(e.to_string()))?;
    Ok(Arc::new(catalog))
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

async fn start_engine(
    core: &Core,
    workers: &WorkerSettings,
    kill_switch: KillSwitch,
) -> Result<WorkerEngine, AppError> {
    let grading = Arc::new(GradingExecutor {
        grader: core.grader.clone(),
        catalog: core.catalog.clone(),
        toolchains: Some(core.toolchains.clone()),
    });
    let executor = Arc::new(Metered::new(grading, core.store.clone()));
    let config = workers.engine_config(&core.data_dir, core.catalog.hashes());
    WorkerEngine::start(core.store.clone(), executor, config, kill_switch)
        .await
        .map_err(|e| AppError::Runtime(format!("worker: {e}")))
}

/// `gauntlet serve`: the API, and (unless `--no-workers`) embedded workers, until
/// SIGTERM or Ctrl-C; then the API stops and the workers drain.
pub async fn serve(mut settings: Serve) -> Result<(), AppError> {
    settings::init_tracing(settings.api.common.log_format);
    settings.api.common.warn_about_secrets_on_command_line();
    settings.api.read_secret_files()?;
    let kill_switch = settings.validate()?;
    let secrets = settings.api.secrets();
    let grading_here = kill_switch.is_some();
    let core = core(
        &mut settings.api.common,
        &settings.workers,
        false,
        grading_here,
        &secrets,
    )
    .await?;
    let engine = match kill_switch {
        Some(kill_switch) => Some(Arc::new(
            start_engine(&core, &settings.workers, kill_switch).await?,
        )),
        None => {
            tracing::warn!("--no-workers: this instance queues submissions but grades none");
            None
        }
    };
    let control = engine.clone().map(|e| e as Arc<dyn WorkerControl>);
    let result = api::run(
        settings.api,
        core.store.clone(),
        core.catalog.clone(),
        control,
        worker::shutdown_signal(),
    )
    .await
    .map_err(|e| AppError::Runtime(e.to_string()));
    if let Some(engine) = engine {
        drain(engine, settings.workers.drain_grace).await;
    }
    stop_warm_jails(&core.grader);
    stop_chains(&core.hardhat);
    result
}

/// `gauntlet worker`: workers only, against the store an API fills, until SIGTERM or
/// Ctrl-C.
pub async fn worker(mut settings: Worker) -> Result<(), AppError> {
    settings::init_tracing(settings.common.log_format);
    settings.common.warn_about_secrets_on_command_line();
    settings.common.read_secret_files()?;
    let kill_switch = settings.validate()?;
    let secrets = settings.secrets();
    let core = core(
        &mut settings.common,
        &settings.workers,
        true,
        true,
        &secrets,
    )
    .await?;
    let engine = start_engine(&core, &settings.workers, kill_switch).await?;
    worker::shutdown_signal().await;
    drain(Arc::new(engine), settings.workers.drain_grace).await;
    stop_warm_jails(&core.grader);
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

/// Warm jails first: each holds what its runtime lent it (an Anvil chain), which goes
/// back when the jail has ended.
fn stop_warm_jails(grader: &Grader) {
    if let Some(pool) = grader.warm_pool() {
        pool.shutdown();
        if !pool.wait_stopped(Duration::from_secs(5)) {
            tracing::warn!("warm jails still ending after 5 s");
        }
    }
}

fn stop_chains(hardhat: &Hardhat) {
    if let Some(pool) = hardhat.started_pool() {
        pool.shutdown();
    }
}
